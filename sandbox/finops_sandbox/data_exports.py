"""AWS Data Exports, emulated: the world's ledger as a FOCUS 1.0 export in a (moto) S3 bucket.

Layout, as AWS delivers an export (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html):
``s3://<bucket>/<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/<export-name>-<n>.snappy.parquet`` and
``.../metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json`` with ``executionId``, ``exportArn``,
``columns`` and ``dataFiles`` (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-manifest.html).
The "FOCUS 1.0 with AWS columns" table carries the specification's columns and AWS's ``x_`` extension
columns, amounts as ``double`` and periods as ``timestamp_milliseconds``
(https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-0-aws-columns.html); ``Tags`` is
written as a Parquet map.

The figures are the ledger's, so they reconcile with the Cost Explorer emulator to the cent: ``BilledCost``
(the invoiced charge, upfront fees not amortised) is unblended cost, ``EffectiveCost`` amortized cost.
One row per ledger row (a day × account × service × region × usage
type × operation × record type × workload), dated on its UTC day. ``ResourceId`` is the ARN of the world's
resource billed by that line where the world ties one to it (instances and databases by usage type, other
resources by workload, region and service), NULL otherwise (tax, support, fees: as in AWS's export).
``Tags`` are the workload's, as Cost Explorer groups them. ``x_Discounts`` is the map of the line's discounts
(AWS's column of that name; its ``total_discount`` key, as the Data Exports discount columns name the sum
of a line's discounts, https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-discount.html):
the account's negotiated discount, negative, so ``BilledCost`` plus it is Cost Explorer's net unblended cost.

Commitments (FOCUS 1.0 CommitmentDiscount* columns, https://focus.finops.org/focus-specification/v1-0/):
a line a Savings Plan or reservation covered (``SavingsPlanCoveredUsage``, ``DiscountedUsage``) carries the
commitment's ARN in ``CommitmentDiscountId`` and status 'Used'; its fee line (``SavingsPlanRecurringFee``,
``RIFee``) the same ARN and status 'Unused', because its ``EffectiveCost`` is the part of the day's
commitment no usage consumed (the ledger amortizes the fee so; CUR's ``UnusedCommitment`` and
``UnusedRecurringFee``), while its ``BilledCost`` stays the month's fee billed on the 1st. As in AWS's
export (the FOCUS sample in ``finops_pipeline_tests``) ``CommitmentDiscountType`` is 'Savings Plan' or
'Reserved Instance' and ``CommitmentDiscountName`` empty: a plan's type (Compute, EC2 Instance) is not
on the line. A covered line's ``ListCost`` is its on-demand price: a reservation's ``DiscountedUsage``
line bills nothing unblended, so its list cost is its amortized rate over ``catalog.RDS_RI_RATE``. A
Savings Plans negation line (the plan's offset of the covered line's on-demand charge) carries the plan
and 'Used' too, as CUR names the plan on it; its ``ListCost`` and ``EffectiveCost`` are 0.

Overwrite delivery: a period AWS still refreshes (its bill not final) is rewritten with every publish; a
closed period already delivered is left alone. A rewrite may have fewer parts: the manifest then names only
the new files and the stale parts are deleted, as an overwrite delivery replaces the period's folder.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from finops_sandbox import catalog as cat
from finops_sandbox.cost_explorer.commitment_inventory import commitments_table
from finops_sandbox.world import World

EXPORT_NAME = "finops-focus"
ROWS_PER_FILE = 50_000
# Cost Explorer record types as FOCUS 1.0 ChargeCategory / ChargeFrequency (FOCUS 1.0: Usage, Purchase,
# Tax, Credit, Adjustment). Savings Plans negation lines stay Usage: they offset covered usage.
CHARGE = {
    "Usage": ("Usage", "Usage-Based"),
    "DiscountedUsage": ("Usage", "Usage-Based"),
    "SavingsPlanCoveredUsage": ("Usage", "Usage-Based"),
    "SavingsPlanNegation": ("Usage", "Usage-Based"),
    "RIFee": ("Purchase", "Recurring"),
    "SavingsPlanRecurringFee": ("Purchase", "Recurring"),
    "Recurring": ("Purchase", "Recurring"),
    "Fee": ("Purchase", "One-Time"),
    "Tax": ("Tax", "One-Time"),
    "Credit": ("Credit", "One-Time"),
    "Refund": ("Credit", "One-Time"),
    "Discount": ("Credit", "One-Time"),
    "BundledDiscount": ("Credit", "One-Time"),
}
# Which world resource type a service's usage lines belong to when no usage type names the resource.
SERVICE_RESOURCE = {
    "Amazon Simple Storage Service": "s3:bucket",
    "AWS Lambda": "lambda:function",
    "Amazon DynamoDB": "dynamodb:table",
    "EC2 - Other": "ec2:volume",
}

FOCUS_SQL = """
WITH by_usage AS (
    SELECT account_id, region, usage_type, workload_id, min(arn) AS arn, min(resource_type) AS rtype,
           min(name) AS rname
    FROM resources WHERE usage_type IS NOT NULL GROUP BY ALL
), by_service AS (
    SELECT account_id, region, workload_id, resource_type AS rtype, min(arn) AS arn, min(name) AS rname
    FROM resources GROUP BY ALL
), tags AS (
    SELECT workload_id, map(list(key ORDER BY key), list(value ORDER BY key)) AS tags
    FROM workload_tags GROUP BY 1
)
SELECT
    NULL::VARCHAR AS AvailabilityZone,
    l.unblended_cost::DOUBLE AS BilledCost,
    $payer AS BillingAccountId,
    'Management' AS BillingAccountName,
    'USD' AS BillingCurrency,
    (date_trunc('month', l.usage_date) + INTERVAL 1 MONTH)::TIMESTAMP_MS AS BillingPeriodEnd,
    date_trunc('month', l.usage_date)::TIMESTAMP_MS AS BillingPeriodStart,
    c.category AS ChargeCategory,
    NULL::VARCHAR AS ChargeClass,
    coalesce(l.usage_type, l.record_type) AS ChargeDescription,
    c.frequency AS ChargeFrequency,
    (l.usage_date + 1)::TIMESTAMP_MS AS ChargePeriodEnd,
    l.usage_date::TIMESTAMP_MS AS ChargePeriodStart,
    CASE WHEN cm.kind = 'savings_plan' THEN 'Spend' WHEN cm.kind IS NOT NULL THEN 'Usage' END
        AS CommitmentDiscountCategory,
    cm.arn AS CommitmentDiscountId,
    NULL::VARCHAR AS CommitmentDiscountName,
    CASE WHEN cm.kind IS NULL THEN NULL
         WHEN l.record_type IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Unused' ELSE 'Used' END
        AS CommitmentDiscountStatus,
    CASE WHEN cm.kind = 'savings_plan' THEN 'Savings Plan' WHEN cm.kind IS NOT NULL THEN 'Reserved Instance'
         END AS CommitmentDiscountType,
    CASE WHEN c.category = 'Usage' THEN l.usage_quantity::DOUBLE END AS ConsumedQuantity,
    l.unblended_cost::DOUBLE AS ContractedCost,
    l.amortized_cost::DOUBLE AS EffectiveCost,
    'Amazon Web Services, Inc.' AS InvoiceIssuerName,
    CASE WHEN l.record_type = 'SavingsPlanNegation' THEN 0
         WHEN l.record_type = 'DiscountedUsage' THEN round(l.amortized_cost / $ri_rate, 6)
         ELSE l.unblended_cost END::DOUBLE AS ListCost,
    CASE WHEN l.record_type IN ('SavingsPlanCoveredUsage', 'DiscountedUsage') THEN 'Committed'
         WHEN c.category = 'Usage' THEN 'Standard' END AS PricingCategory,
    'AWS' AS ProviderName,
    'Amazon Web Services, Inc.' AS PublisherName,
    CASE WHEN l.region IN ('global', 'NoRegion') THEN NULL ELSE l.region END AS RegionId,
    coalesce(u.arn, s.arn) AS ResourceId,
    coalesce(u.rname, s.rname) AS ResourceName,
    coalesce(u.rtype, s.rtype) AS ResourceType,
    l.service AS ServiceName,
    l.account_id AS SubAccountId,
    a.account_name AS SubAccountName,
    coalesce(t.tags, map([]::VARCHAR[], []::VARCHAR[])) AS Tags,
    l.usage_type AS x_UsageType,
    l.operation AS x_Operation,
    CASE WHEN l.net_unblended_cost <> l.unblended_cost
         THEN map(['total_discount'], [(l.net_unblended_cost - l.unblended_cost)::DOUBLE])
         ELSE map([]::VARCHAR[], []::DOUBLE[]) END AS x_Discounts
FROM ledger l
JOIN charge c ON c.record_type = l.record_type
LEFT JOIN accounts a ON a.account_id = l.account_id
LEFT JOIN tags t ON t.workload_id = l.workload_id
LEFT JOIN by_usage u ON u.account_id = l.account_id AND u.region = l.region
    AND u.usage_type = l.usage_type AND u.workload_id = l.workload_id
LEFT JOIN service_resource sr ON sr.service = l.service
LEFT JOIN commitments cm ON cm.account_id = l.account_id AND l.usage_date >= cm.start_date
    AND l.usage_date < cm.end_date AND (
        (cm.kind = 'savings_plan' AND l.record_type LIKE 'SavingsPlan%')
        OR (cm.kind = 'reserved_instance' AND l.record_type IN ('DiscountedUsage', 'RIFee')
            AND cm.region = l.region AND cm.operation = coalesce(l.operation, '')
            AND cm.instance_class = regexp_extract(l.usage_type, ':(.*)$', 1)))
LEFT JOIN by_service s ON u.arn IS NULL AND s.account_id = l.account_id AND s.region = l.region
    AND s.workload_id = l.workload_id AND s.rtype = sr.rtype
WHERE date_trunc('month', l.usage_date) = $period
ORDER BY l.usage_date, l.account_id, l.service, l.region, l.usage_type, l.record_type, l.workload_id
"""


_COMMITMENTS_SQL = """
SELECT account_id, kind, region, operation, instance_class, start_date, end_date,
       CASE WHEN kind = 'savings_plan' THEN commitment_id
            ELSE 'arn:aws:rds:' || region || ':' || account_id || ':ri:' || commitment_id END AS arn
FROM inventory
"""


def commitment_terms(world: World) -> pa.Table:
    """Every commitment term behind the ledger (``cost_explorer/commitment_inventory``) with the ARN its
    lines carry as ``CommitmentDiscountId``: a Savings Plan's ARN, a reservation's ``ReservedDBInstanceArn``
    (as ``rds:DescribeReservedDBInstances`` answers it, ``commitment_api``)."""
    inventory = commitments_table(world.ledger, world.config.seed, world.data_end, world.history_start)
    with duckdb.connect() as con:
        con.register("inventory", inventory)
        return con.sql(_COMMITMENTS_SQL).to_arrow_table()


def focus_rows(world: World, period: dt.date, commitments: pa.Table | None = None) -> pa.Table:
    """The billing period's FOCUS 1.0 rows (``period``: the first day of its month); ``commitments``:
    ``commitment_terms(world)``, passed in by a caller writing many periods."""
    con = duckdb.connect()
    try:
        for name, table in (
            ("ledger", world.ledger),
            ("resources", world.resources),
            ("workload_tags", world.workload_tags),
            ("accounts", world.accounts),
            ("commitments", commitment_terms(world) if commitments is None else commitments),
        ):
            con.register(name, table)
        con.register(
            "charge",
            pa.table(
                {
                    "record_type": list(CHARGE),
                    "category": [c for c, _ in CHARGE.values()],
                    "frequency": [f for _, f in CHARGE.values()],
                }
            ),
        )
        con.register(
            "service_resource",
            pa.table({"service": list(SERVICE_RESOURCE), "rtype": list(SERVICE_RESOURCE.values())}),
        )
        params = {"payer": world.management_account_id, "period": period, "ri_rate": cat.RDS_RI_RATE}
        return con.sql(FOCUS_SQL, params=params).to_arrow_table()
    finally:
        con.close()


def _periods(world: World) -> list[dt.date]:
    months, day = [], world.history_start.replace(day=1)
    while day < world.data_end:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="snappy")
    return out.getvalue()


class DataExport:
    """One FOCUS 1.0 export of ``world`` into ``bucket`` (created if missing) through the S3 client ``s3``."""

    def __init__(self, s3: Any, bucket: str, prefix: str = "focus", name: str = EXPORT_NAME) -> None:
        self.s3, self.bucket, self.prefix, self.name = s3, bucket, prefix.strip("/"), name
        self.executions = 0

    @property
    def uri(self) -> str:
        """What FOCUS_EXPORT_URI names: the folder holding data/ and metadata/."""
        return f"s3://{self.bucket}/{self.prefix}/{self.name}"

    def _keys(self, folder: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def publish(
        self, world: World, rows_per_file: int = ROWS_PER_FILE, through: dt.date | None = None
    ) -> list[str]:
        """Deliver every open period and every period not delivered yet; the periods written (YYYY-MM).

        ``through``: the delivery holds the days before it only (AWS delivers an export's newest charges
        up to a day after Cost Explorer shows them); None, every day of the world's ledger."""
        if self.bucket not in {b["Name"] for b in self.s3.list_buckets()["Buckets"]}:
            self.s3.create_bucket(Bucket=self.bucket)
        self.executions += 1
        written, commitments = [], commitment_terms(world)
        for period in _periods(world):
            if through is not None and period >= through:
                break
            label = period.strftime("%Y-%m")
            base = f"{self.prefix}/{self.name}"
            manifest_key = f"{base}/metadata/BILLING_PERIOD={label}/{self.name}-Manifest.json"
            is_open = period >= world.estimated_from.replace(day=1)
            if not is_open and self._keys(manifest_key):
                continue  # a closed period is not refreshed
            table = focus_rows(world, period, commitments)
            if through is not None:
                cut = pa.scalar(dt.datetime.combine(through, dt.time()), table["ChargePeriodStart"].type)
                table = table.filter(pc.less(table["ChargePeriodStart"], cut))
            data_folder = f"{base}/data/BILLING_PERIOD={label}/"
            keys = []
            for part, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file), 1):
                key = f"{data_folder}{self.name}-{part:05d}.snappy.parquet"
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=_parquet(table.slice(start, rows_per_file))
                )
                keys.append(key)
            for stale in set(self._keys(data_folder)) - set(keys):
                self.s3.delete_object(Bucket=self.bucket, Key=stale)
            manifest = {
                "executionId": f"{label}-{self.executions:04d}",
                "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{world.management_account_id}:export/"
                f"{self.name}",
                "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
                "dataFiles": [f"s3://{self.bucket}/{key}" for key in keys],
            }
            self.s3.put_object(Bucket=self.bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
            written.append(label)
        return written
