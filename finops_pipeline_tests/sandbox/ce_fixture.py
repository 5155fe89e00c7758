"""A tiny hand-built World for the Cost Explorer emulator tests: every figure is known in advance.

Ledger (one row per day unless noted), history 2024-02-01 .. 2025-03-09, as_of 2025-03-10:
- 111111111111 EC2  us-east-1 USE1-BoxUsage:m5.large   Usage  wl-web   2.304 USD, 24 h
- 111111111111 S3   us-east-1 USE1-TimedStorage-ByteHrs Usage wl-data  1.234567 USD
- 111111111111 EC2  us-east-1 USE1-BoxUsage:m5.large   SavingsPlanCoveredUsage wl-web
      unblended 1, amortized 0.7, net unblended 0.95, blended 1.1
- 111111111111 EC2  us-east-1 Credit -5 on the last day of every month before March 2025 (no workload)
- 222222222222 EC2  us-west-2 USW2-BoxUsage:t3.micro   Usage  wl-dev   0.2496 USD, 24 h
- 222222222222 RDS  us-west-2 USW2-InstanceUsage:db.m5.large Usage wl-dev 4.104 USD, 24 h
- 123456789012 Tax  global    Tax                       Tax    (none)  10.5 on the 1st of every month
- anomalies: a +19.2/day (200 h) EC2 spike 2025-02-20..22 (impact 57.6),
  a +10/day open RDS spike 2025-03-08..09
  (impact 20), and a drop (never reported by AWS).
Tags: wl-web Environment=prod Owner=alice; wl-data Environment=prod; wl-dev Environment=dev Owner=bob.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.shape_check import check_output
from finops_sandbox.world import ANOMALY_SCHEMA

AS_OF = dt.date(2025, 3, 10)
HISTORY_START = dt.date(2024, 2, 1)
MGMT, PROD, DEV = "123456789012", "111111111111", "222222222222"
EC2 = "Amazon Elastic Compute Cloud - Compute"
S3 = "Amazon Simple Storage Service"
RDS = "Amazon Relational Database Service"
MONEY = pa.decimal128(18, 6)
METRIC_COLUMNS = ("unblended_cost", "amortized_cost", "net_unblended_cost", "blended_cost", "usage_quantity")


@dataclass(frozen=True)
class FixtureConfig:
    """The WorldConfig fields the emulator reads."""

    seed: int = 9
    as_of: dt.date = AS_OF
    history_months: int = 13
    accounts: int = 2


@dataclass
class FixtureWorld:
    """Same attributes as sandbox.world.World, hand-built."""

    config: FixtureConfig = field(default_factory=FixtureConfig)
    management_account_id: str = MGMT
    history_start: dt.date = HISTORY_START
    data_end: dt.date = AS_OF
    estimated_start: dt.date = AS_OF - dt.timedelta(days=3)
    estimated_from: dt.date = dt.date(2025, 3, 1)  # AS_OF is past the 5th: last month is final
    ledger: pa.Table = None  # type: ignore[assignment]
    workload_tags: pa.Table = None  # type: ignore[assignment]
    accounts: pa.Table = None  # type: ignore[assignment]
    anomalies: pa.Table = None  # type: ignore[assignment]
    resources: pa.Table = None  # type: ignore[assignment]
    rows: list[dict] = field(default_factory=list)  # the ledger as Python dicts, for reference sums


def _row(day, account, service, region, usage_type, record_type, workload, unblended, usage="0", **other):
    value = Decimal(unblended)
    return {
        "usage_date": day,
        "account_id": account,
        "service": service,
        "region": region,
        "usage_type": usage_type,
        "record_type": record_type,
        "workload_id": workload,
        "unblended_cost": value,
        "amortized_cost": Decimal(other.get("amortized", value)),
        "net_unblended_cost": Decimal(other.get("net", value)),
        "blended_cost": Decimal(other.get("blended", value)),
        "usage_quantity": Decimal(usage),
    }


def ledger_rows() -> list[dict]:
    rows = []
    day = HISTORY_START
    while day < AS_OF:
        rows += [
            _row(day, PROD, EC2, "us-east-1", "USE1-BoxUsage:m5.large", "Usage", "wl-web", "2.304", "24"),
            _row(
                day, PROD, S3, "us-east-1", "USE1-TimedStorage-ByteHrs", "Usage", "wl-data", "1.234567", "30"
            ),
            _row(
                day,
                PROD,
                EC2,
                "us-east-1",
                "USE1-BoxUsage:m5.large",
                "SavingsPlanCoveredUsage",
                "wl-web",
                "1",
                "10",
                amortized="0.7",
                net="0.95",
                blended="1.1",
            ),
            _row(day, DEV, EC2, "us-west-2", "USW2-BoxUsage:t3.micro", "Usage", "wl-dev", "0.2496", "24"),
            _row(
                day, DEV, RDS, "us-west-2", "USW2-InstanceUsage:db.m5.large", "Usage", "wl-dev", "4.104", "24"
            ),
        ]
        if day.day == 1:
            rows.append(_row(day, MGMT, "Tax", "global", "Tax", "Tax", None, "10.5"))
        tomorrow = day + dt.timedelta(days=1)
        if tomorrow.day == 1 and tomorrow <= dt.date(2025, 3, 1):
            rows.append(_row(day, PROD, EC2, "us-east-1", "USE1-BoxUsage:m5.large", "Credit", None, "-5"))
        if dt.date(2025, 2, 20) <= day <= dt.date(2025, 2, 22):
            rows.append(
                _row(day, PROD, EC2, "us-east-1", "USE1-BoxUsage:m5.large", "Usage", "wl-web", "19.2", "200")
            )
        if day >= dt.date(2025, 3, 8):
            rows.append(
                _row(day, DEV, RDS, "us-west-2", "USW2-InstanceUsage:db.m5.large", "Usage", "wl-dev", "10")
            )
        day = tomorrow
    return rows


def build_fixture_world() -> FixtureWorld:
    rows = ledger_rows()
    schema = pa.schema(
        [
            ("usage_date", pa.date32()),
            ("account_id", pa.string()),
            ("service", pa.string()),
            ("region", pa.string()),
            ("usage_type", pa.string()),
            ("record_type", pa.string()),
            ("workload_id", pa.string()),
            ("operation", pa.string()),  # as the world's ledger: NULL here (no RDS line carries one)
        ]
        + [(c, MONEY) for c in METRIC_COLUMNS]
    )
    ledger = pa.Table.from_pylist(rows, schema=schema)
    tags = [
        ("wl-web", "Environment", "prod"),
        ("wl-web", "Owner", "alice"),
        ("wl-data", "Environment", "prod"),
        ("wl-dev", "Environment", "dev"),
        ("wl-dev", "Owner", "bob"),
    ]
    workload_tags = pa.table({k: [t[i] for t in tags] for i, k in enumerate(("workload_id", "key", "value"))})
    accounts = pa.table(
        {
            "account_id": [MGMT, PROD, DEV],
            "account_name": ["Management", "Prod One", "Dev Two"],
            "status": ["ACTIVE", "ACTIVE", "ACTIVE"],
            "ou_name": [None, "Production", "Non-Production"],
        }
    )
    anomalies = pa.Table.from_pylist(
        [
            {
                "anomaly_id": "a-spike",
                "account_id": PROD,
                "service": EC2,
                "region": "us-east-1",
                "usage_type": "USE1-BoxUsage:m5.large",
                "kind": "spike",
                "start_date": dt.date(2025, 2, 20),
                "end_date": dt.date(2025, 2, 22),
                "impact_usd": Decimal("57.6"),
            },
            {
                "anomaly_id": "a-open",
                "account_id": DEV,
                "service": RDS,
                "region": "us-west-2",
                "usage_type": "USW2-InstanceUsage:db.m5.large",
                "kind": "level_shift",
                "start_date": dt.date(2025, 3, 8),
                "end_date": dt.date(2025, 3, 9),
                "impact_usd": Decimal("20"),
            },
            {
                "anomaly_id": "a-drop",
                "account_id": DEV,
                "service": EC2,
                "region": "us-west-2",
                "usage_type": "USW2-BoxUsage:t3.micro",
                "kind": "drop",
                "start_date": dt.date(2025, 1, 5),
                "end_date": dt.date(2025, 1, 6),
                "impact_usd": Decimal("-0.3"),
            },
        ],
        schema=ANOMALY_SCHEMA,
    )
    created = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    instances = [
        # key, account, region, type, state, cpu, monthly cost, tags
        ("inst-big", PROD, "us-east-1", "m5.xlarge", "running", 20.0, 140.16, {"Environment": "prod"}),
        ("inst-idle", DEV, "us-west-2", "t3.micro", "running", 2.0, 7.592, {}),
        ("inst-small", PROD, "us-east-1", "m5.large", "running", 30.0, 70.08, {}),
        ("inst-busy", PROD, "us-east-1", "m5.2xlarge", "running", 70.0, 280.32, {}),
        ("inst-off", DEV, "us-west-2", "m5.xlarge", "stopped", 1.0, 0.0, {}),
    ]
    resources = pa.table(
        {
            "resource_key": [i[0] for i in instances],
            "account_id": [i[1] for i in instances],
            "region": [i[2] for i in instances],
            "service": ["ec2"] * len(instances),
            "resource_type": ["ec2:instance"] * len(instances),
            "name": [f"{i[0]}-name" for i in instances],
            "workload_id": ["wl-web"] * len(instances),
            "tags": [json.dumps(i[7]) for i in instances],
            "state": [i[4] for i in instances],
            "instance_type": [i[3] for i in instances],
            "created_at": [created] * len(instances),
            "monthly_cost_usd": pa.array([Decimal(str(i[6])) for i in instances], MONEY),
            "cpu_utilization_p95": [i[5] for i in instances],
            "resource_id": ["i-0big", None, "i-0small", "i-0busy", "i-0off"],
        }
    )
    return FixtureWorld(
        ledger=ledger,
        workload_tags=workload_tags,
        accounts=accounts,
        anomalies=anomalies,
        resources=resources,
        rows=rows,
    )


def ok(em: CostExplorerEmulator, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the emulator, insist on success and on a botocore-valid answer."""
    status, answer = em.handle(operation, body)
    assert status == 200, answer
    assert check_output("ce", operation, answer) == []
    return answer


def error(em: CostExplorerEmulator, operation: str, body: dict[str, Any]) -> str:
    """Call the emulator, insist on a ValidationException, and return its message for the test to check."""
    status, answer = em.handle(operation, body)
    assert status == 400, answer
    assert answer["__type"] == "ValidationException"
    return answer["Message"]
