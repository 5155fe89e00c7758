"""The commitments behind the ledger's Savings Plans and RI lines: what the inventories and CE report on.

Why derived from the ledger: the bill already says what was bought. Each account's
``SavingsPlanRecurringFee`` on a month's 1st is its daily commitment × days, and each ``RIFee`` line is
the recurring charge of `usage_quantity` reserved hours (one fee line per account, region, ``HeavyUsage``
class and operation, ``world/ledger.py``). Reading them back keeps the inventories
(``savingsplans:DescribeSavingsPlans``, ``rds:DescribeReservedDBInstances``) and Cost Explorer's
utilization and coverage answers consistent with ``GetCostAndUsage`` to the cent, whatever the generator.

Terms: the ledger's Savings Plans usage type is ``ComputeSP:1yrNoUpfront`` and its RIs bill a recurring
fee with nothing upfront, so every commitment is a one-year No Upfront term (AWS's 31,536,000 seconds,
``DurationSeconds`` in API_SavingsPlan / ``Duration`` in API_ReservedDBInstance). A lineage (an account's
plan, an RI group) is a chain of renewals: the current term ends a stable number of days after as_of
(some within 30 days, some later, so expiry KPIs have something to say), and earlier terms, now
``retired``, cover the history back to its first day, as an account that renews on expiry would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

TERM_DAYS = 365  # one-year term: DurationSeconds 31536000
# Days from as_of to the end of each lineage's current term, in lineage order (cycled): two within 30
# days, then 60 and 90 days, then beyond.
EXPIRY_OFFSETS = (12, 27, 45, 75, 150, 240, 330)
SP_TYPE = "Compute"  # API_SavingsPlan.savingsPlanType: Compute | EC2Instance | SageMaker
RI_SERVICE = "Amazon Relational Database Service"
SP_SERVICE = "Savings Plans for AWS Compute usage"
# RDS operation code -> (ProductDescription of DescribeReservedDBInstances, engine of CE's attributes).
RDS_PRODUCTS = {
    "CreateDBInstance:0002": "mysql",
    "CreateDBInstance:0014": "postgresql",
    "CreateDBInstance:0018": "mariadb",
    "CreateDBInstance:0019": "oracle-se2(byol)",
    "CreateDBInstance:0020": "oracle-se2(li)",
}
_MICRO = Decimal("0.000001")
_NAMESPACE = uuid.UUID("6f1c2c7e-4f0b-4f61-9d0e-0c3a5b1f7a11")

SCHEMA = pa.schema(
    [
        ("commitment_id", pa.string()),  # SP: its ARN; RI: ReservedDBInstanceId
        ("lease_id", pa.string()),  # SP: its id; RI: LeaseId (the CE subscription id)
        ("lineage", pa.string()),
        ("kind", pa.string()),  # savings_plan | reserved_instance
        ("account_id", pa.string()),
        ("region", pa.string()),  # SP: '' (Compute SPs apply in every region)
        ("usage_type", pa.string()),  # RI: the fee's HeavyUsage type; SP: its usage type
        ("operation", pa.string()),
        ("instance_class", pa.string()),
        ("multi_az", pa.bool_()),
        ("instance_count", pa.int64()),
        ("hourly_commitment", pa.decimal128(18, 6)),  # SP: $/h; RI: recurring $/h per instance
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),  # exclusive
        ("state", pa.string()),  # active | retired
    ]
)

_SP_SQL = """
SELECT account_id, any_value(usage_type) AS usage_type,
       arg_max(unblended_cost, usage_date) AS fee, arg_max(day(last_day(usage_date)), usage_date) AS days
FROM ledger WHERE record_type = 'SavingsPlanRecurringFee' AND unblended_cost > 0
GROUP BY account_id ORDER BY account_id
"""
_RI_SQL = """
SELECT f.account_id, f.region, f.usage_type, coalesce(f.operation, '') AS operation,
       arg_max(f.usage_quantity, f.usage_date) AS hours, arg_max(f.unblended_cost, f.usage_date) AS fee,
       arg_max(day(last_day(f.usage_date)), f.usage_date) AS days,
       coalesce(bool_or(d.multi_az), FALSE) AS multi_az
FROM ledger f
LEFT JOIN (
    SELECT DISTINCT account_id, region, coalesce(operation, '') AS operation,
           regexp_extract(usage_type, ':(.*)$', 1) AS db_class,
           contains(usage_type, 'Multi-AZUsage:') AS multi_az
    FROM ledger WHERE record_type = 'DiscountedUsage'
) d ON d.account_id = f.account_id AND d.region = f.region AND d.operation = coalesce(f.operation, '')
   AND d.db_class = regexp_extract(f.usage_type, ':(.*)$', 1)
WHERE f.record_type = 'RIFee' AND f.usage_quantity > 0
GROUP BY ALL ORDER BY ALL
"""


def _terms(seed: int, lineage: str, n: int, as_of: dt.date, first_day: dt.date) -> list[dict[str, Any]]:
    """The lineage's terms, newest first: the current one ends `EXPIRY_OFFSETS[n]` days after as_of."""
    end = as_of + dt.timedelta(days=EXPIRY_OFFSETS[n % len(EXPIRY_OFFSETS)])
    terms = []
    while True:
        start = end - dt.timedelta(days=TERM_DAYS)
        ident = uuid.uuid5(_NAMESPACE, f"{seed}:{lineage}:{start.isoformat()}")
        terms.append({"start_date": start, "end_date": end, "uuid": ident, "active": start <= as_of < end})
        if start <= first_day:
            return terms
        end = start


def commitments_table(ledger: pa.Table, seed: int, as_of: dt.date, first_day: dt.date) -> pa.Table:
    """Every Savings Plan and RDS reservation term the ledger implies (see the module docstring)."""
    con = duckdb.connect()
    try:
        con.register("ledger", ledger)
        plans = con.execute(_SP_SQL).fetchall()
        reservations = con.execute(_RI_SQL).fetchall()
    finally:
        con.close()
    rows: list[dict[str, Any]] = []
    n = 0
    for account_id, usage_type, fee, days in plans:
        lineage = f"sp:{account_id}"
        for term in _terms(seed, lineage, n, as_of, first_day):
            rows.append(
                {
                    "commitment_id": f"arn:aws:savingsplans::{account_id}:savingsplan/{term['uuid']}",
                    "lease_id": str(term["uuid"]),
                    "lineage": lineage,
                    "kind": "savings_plan",
                    "account_id": account_id,
                    "region": "",
                    "usage_type": usage_type,
                    "operation": "",
                    "instance_class": "",
                    "multi_az": False,
                    "instance_count": 1,
                    "hourly_commitment": (fee / (24 * days)).quantize(_MICRO),
                    "start_date": term["start_date"],
                    "end_date": term["end_date"],
                    "state": "active" if term["active"] else "retired",
                }
            )
        n += 1
    for account_id, region, usage_type, operation, hours, fee, days, multi_az in reservations:
        db_class = usage_type.split(":", 1)[1]
        lineage = f"ri:{account_id}:{region}:{db_class}:{operation}"
        for term in _terms(seed, lineage, n, as_of, first_day):
            rows.append(
                {
                    "commitment_id": f"ri-{account_id[-4:]}-{term['uuid'].hex[:12]}",
                    "lease_id": str(term["uuid"]),
                    "lineage": lineage,
                    "kind": "reserved_instance",
                    "account_id": account_id,
                    "region": region,
                    "usage_type": usage_type,
                    "operation": operation,
                    "instance_class": db_class,
                    "multi_az": bool(multi_az),
                    "instance_count": round(hours / (24 * days)),
                    "hourly_commitment": (fee / hours).quantize(_MICRO),
                    "start_date": term["start_date"],
                    "end_date": term["end_date"],
                    "state": "active" if term["active"] else "retired",
                }
            )
        n += 1
    return pa.Table.from_pylist(rows, schema=SCHEMA)
