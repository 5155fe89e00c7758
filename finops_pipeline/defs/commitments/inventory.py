"""``commitment_inventory``: every Savings Plan and reservation of every account, with its term.

Savings Plans and reservations belong to the account that bought them, so the inventories are read with
each member's scan role, like the EC2 inventory: ``savingsplans:DescribeSavingsPlans`` once per account
(a global service: target region ``global``), ``ec2:DescribeReservedInstances`` and
``rds:DescribeReservedDBInstances`` per account × scan region. Same fan-out, status table (source
``commitments``) and failure rules as the tag scan: a denied account or region keeps its last good rows,
marked stale, and is labelled in ``raw.scan_status``; it never sinks the run nor drops its commitments
from the expiry KPIs.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib import commitments as cm
from finops_pipeline.lib.fan_out import failures_of, record_scan_status, replace_scanned_rows, scan_targets
from finops_pipeline.lib.money import money
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

SOURCE = "commitments"
TABLE = "raw.commitment_inventory"
SCHEMA = registry.table(TABLE).arrow_schema(exclude=[c.name for c in STALE_COLUMNS])
GLOBAL = "global"
EC2_SERVICE, RDS_SERVICE = cm.RI_SERVICES
SAVINGS_PLANS_REGION = "us-east-1"  # the Savings Plans API's one endpoint (savingsplans.amazonaws.com)


def _date(value: dt.datetime | str) -> dt.date:
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.astimezone(dt.UTC).date()


def _hourly(charges: list[dict[str, Any]] | None) -> Decimal:
    return sum(
        (money(c.get("RecurringChargeAmount")) or Decimal(0) for c in charges or []
         if c.get("RecurringChargeFrequency") == "Hourly"),
        Decimal(0),
    )  # fmt: skip


def savings_plans(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """The account's plans (every page), active or not (API_DescribeSavingsPlans)."""
    rows, token = [], None
    while True:
        answer = client.describe_savings_plans(maxResults=1000, **({"nextToken": token} if token else {}))
        for plan in answer.get("savingsPlans", []):
            rows.append(
                {
                    "resource_arn": plan["savingsPlanArn"],
                    "region": GLOBAL,
                    "commitment_type": cm.sp_type(plan.get("savingsPlanType")),
                    "commitment_id": plan["savingsPlanId"],
                    "instance_type": plan.get("ec2InstanceFamily") or None,
                    "instance_count": None,
                    "hourly_commitment": money(plan.get("commitment")) or Decimal(0),
                    "upfront_usd": money(plan.get("upfrontPaymentAmount")) or Decimal(0),
                    "start_date": _date(plan["start"]),
                    "end_date": _date(plan["end"]),
                    "state": plan.get("state", ""),
                }
            )
        token = answer.get("nextToken")
        if not token:
            return rows


def reserved_db_instances(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """The region's RDS reservations; the API gives StartTime and Duration, not the end."""
    rows = []
    for page in client.get_paginator("describe_reserved_db_instances").paginate():
        for ri in page.get("ReservedDBInstances", []):
            start = ri["StartTime"].astimezone(dt.UTC)
            count = int(ri.get("DBInstanceCount") or 1)
            rows.append(
                {
                    "resource_arn": ri.get("ReservedDBInstanceArn")
                    or f"arn:aws:rds:{target.region}:{target.account_id}:ri:{ri['ReservedDBInstanceId']}",
                    "region": target.region,
                    "commitment_type": cm.RI_PREFIX + RDS_SERVICE,
                    "commitment_id": ri["ReservedDBInstanceId"],
                    "instance_type": ri.get("DBInstanceClass"),
                    "instance_count": count,
                    "hourly_commitment": _hourly(ri.get("RecurringCharges")) * count,
                    "upfront_usd": Decimal(str(ri.get("FixedPrice") or 0)),
                    "start_date": start.date(),
                    "end_date": (start + dt.timedelta(seconds=int(ri.get("Duration") or 0))).date(),
                    "state": ri.get("State", ""),
                }
            )
    return rows


def reserved_instances(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """The region's EC2 reservations (not paginated: API_DescribeReservedInstances)."""
    return [
        {
            "resource_arn": f"arn:aws:ec2:{target.region}:{target.account_id}:reserved-instances/"
            f"{ri['ReservedInstancesId']}",
            "region": target.region,
            "commitment_type": cm.RI_PREFIX + EC2_SERVICE,
            "commitment_id": ri["ReservedInstancesId"],
            "instance_type": ri.get("InstanceType"),
            "instance_count": int(ri.get("InstanceCount") or 1),
            "hourly_commitment": (
                _hourly(ri.get("RecurringCharges")) + Decimal(str(ri.get("UsagePrice") or 0))
            )
            * int(ri.get("InstanceCount") or 1),
            "upfront_usd": Decimal(str(ri.get("FixedPrice") or 0)),
            "start_date": _date(ri["Start"]),
            "end_date": _date(ri["End"]),
            "state": ri.get("State", ""),
        }
        for ri in client.describe_reserved_instances().get("ReservedInstances", [])
    ]


def scan(aws: AwsResource, target: ScanTarget) -> list[dict[str, Any]]:
    """One target's commitments: the account's plans (``global``) or a region's reservations."""
    where = {"account_id": target.account_id}
    if target.region == GLOBAL:
        client = aws.client("savingsplans", region=SAVINGS_PLANS_REGION, account_id=target.account_id)
        return [{**where, **row} for row in savings_plans(client, target)]
    rds = aws.client("rds", region=target.region, account_id=target.account_id)
    ec2 = aws.client("ec2", region=target.region, account_id=target.account_id)
    return [{**where, **row} for row in reserved_db_instances(rds, target) + reserved_instances(ec2, target)]


def scan_all(aws: AwsResource, targets: list[ScanTarget]) -> list[ScanOutcome]:
    """Regional targets through the opt-in filter, then one ``global`` target per account."""
    regional = scan_enabled(aws, targets, lambda target: scan(aws, target))
    accounts = list(dict.fromkeys(t.account_id for t in targets))
    plans = aws.fan_out([ScanTarget(a, GLOBAL) for a in accounts], lambda target: scan(aws, target))
    return [*regional, *plans]


@dg.asset(
    group_name=layers.RAW_SAVINGS,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["aws_accounts"],
    description="Every Savings Plan and EC2 / RDS reservation of every account × scan region, with its "
    "term and hourly value; a failed account or region keeps its last good rows, marked stale.",
    metadata=definition_metadata("commitment_inventory"),
)
def commitment_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
        outcomes = scan_all(aws, targets)
    now = utc_now()
    rows = pa.Table.from_pylist(
        [{**row, "scanned_at": now} for o in outcomes if o.status == "ok" for row in o.result or []],
        schema=SCHEMA,
    )
    with warehouse.connect() as conn:
        stale = replace_scanned_rows(conn, TABLE, rows, failures_of(outcomes), now)
        statuses = record_scan_status(conn, SOURCE, outcomes, [len(o.result or []) for o in outcomes])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = row_count(conn, "commitment_inventory")
        (active_hourly,) = conn.execute(
            f"SELECT coalesce(sum(hourly_commitment), 0) FROM {TABLE} WHERE state = 'active'"
        ).fetchone()
    return dg.MaterializeResult(
        metadata={
            **counted,
            "commitments": rows.num_rows,
            "commitments_stale": stale,
            "active_hourly_commitment_usd": float(round(active_hourly, 4)),
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"] - statuses["region_not_enabled"],
            **call_metadata(calls),
        }
    )
