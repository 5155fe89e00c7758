"""``resource_activity``: the CloudWatch metric each idle rule reads, per judged resource, day by day.

Why: a load balancer, NAT gateway, database or provisioned concurrency config that bills every hour is
waste only if nothing uses it, and only CloudWatch says so. The rules (metric, statistic, window,
threshold) are ``lib/idle_rules.py``; this asset asks ``GetMetricData`` for the last ``LOOKBACK_DAYS``
complete UTC days of each resource the inventories list, in 1-day periods, at most 500 queries a
request (the API's limit,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html). Same fan-out
and status rules as the scans (source ``cloudwatch``): a failed account × region keeps its last good rows,
marked stale, and its resources are not judged idle on no answer.
"""

import datetime as dt
from collections import defaultdict
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib.fan_out import failures_of, record_scan_status, replace_scanned_rows, scan_targets
from finops_pipeline.lib.idle_rules import IDLE_RULES, LOOKBACK_DAYS
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.tables.inventory import ACTIVITY_SCAN
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

TABLE = "raw.cloudwatch_daily_activity"
SCHEMA = registry.table(TABLE).arrow_schema(exclude=[c.name for c in STALE_COLUMNS])
QUERIES_PER_REQUEST = 500
# The resources the rules judge, with the value of the dimension that names each in its metric.
CANDIDATES_SQL = """
SELECT account_id, region, resource_arn, type AS subject, resource_id AS dimension_value
FROM raw.elbv2_load_balancers WHERE type IN ('application', 'network')
UNION ALL
SELECT account_id, region, resource_arn, 'nat_gateway', nat_gateway_id FROM raw.ec2_nat_gateways
UNION ALL
SELECT account_id, region, resource_arn, 'rds', resource_id FROM raw.rds_db_instances
UNION ALL
SELECT account_id, region, resource_arn, 'lambda_provisioned_concurrency', function_name || ':' || qualifier
FROM raw.lambda_provisioned_concurrency
ORDER BY ALL
"""
RULES = {rule.subject: rule for rule in IDLE_RULES}

Candidate = dict[str, str]


def candidates(conn: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[Candidate]]:
    """(account, region) -> the resources to ask CloudWatch about."""
    found: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for account, region, arn, subject, value in conn.execute(CANDIDATES_SQL).fetchall():
        found[(account, region)].append({"resource_arn": arn, "subject": subject, "dimension_value": value})
    return found


def _query(i: int, item: Candidate) -> dict[str, Any]:
    rule = RULES[item["subject"]]
    dimensions = [{"Name": rule.dimension, "Value": item["dimension_value"]}]
    if rule.parent_dimension is not None:  # Lambda: FunctionName next to Resource (<name>:<qualifier>)
        parent = item["dimension_value"].split(":", 1)[0]
        dimensions.insert(0, {"Name": rule.parent_dimension, "Value": parent})
    metric = {"Namespace": rule.namespace, "MetricName": rule.metric, "Dimensions": dimensions}
    return {"Id": f"q{i}", "MetricStat": {"Metric": metric, "Period": 86400, "Stat": rule.stat}}


def read_activity(
    cloudwatch: Any, items: list[Candidate], start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """One row per resource: its daily values in [start, end) (the days CloudWatch has a datapoint)."""
    window = {
        "StartTime": dt.datetime.combine(start, dt.time(0), dt.UTC),
        "EndTime": dt.datetime.combine(end, dt.time(0), dt.UTC),
        "ScanBy": "TimestampAscending",
    }
    daily: dict[int, dict[dt.date, float]] = defaultdict(dict)
    for first in range(0, len(items), QUERIES_PER_REQUEST):
        queries = [_query(i, items[i]) for i in range(first, min(first + QUERIES_PER_REQUEST, len(items)))]
        for page in cloudwatch.get_paginator("get_metric_data").paginate(MetricDataQueries=queries, **window):
            for result in page.get("MetricDataResults", []):
                for when, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    day = when.astimezone(dt.UTC).date()
                    if start <= day < end:
                        daily[int(result["Id"][1:])][day] = float(value)
    rows = []
    for i, item in enumerate(items):
        rule = RULES[item["subject"]]
        rows.append(
            {
                **item,
                "namespace": rule.namespace,
                "metric_name": rule.metric,
                "statistic": rule.stat,
                "window_start": start,
                "window_end": end,
                "daily": [{"day": d, "value": v} for d, v in sorted(daily[i].items())],
            }
        )
    return rows


@dg.asset(
    group_name=layers.RAW_INVENTORY,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["ec2_inventory", "rds_inventory", "elbv2_inventory", "lambda_provisioned_concurrency"],
    description="CloudWatch daily activity (requests, bytes, connections, utilization) of every load "
    "balancer, NAT gateway, RDS instance and Lambda provisioned concurrency config, the input of the idle "
    "rules; a failed account × region keeps its last rows.",
    metadata=definition_metadata("resource_activity"),
)
def resource_activity(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    end = utc_now().date()  # today, exclusive: complete UTC days only
    start = end - dt.timedelta(days=LOOKBACK_DAYS)
    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
            wanted = candidates(conn)

        def scan(target: ScanTarget) -> list[dict[str, Any]]:
            items = wanted.get((target.account_id, target.region), [])
            if not items:
                return []  # nothing to judge there: no call
            cloudwatch = aws.client("cloudwatch", region=target.region, account_id=target.account_id)
            where = {"account_id": target.account_id, "region": target.region}
            return [{**where, **row} for row in read_activity(cloudwatch, items, start, end)]

        outcomes = scan_enabled(aws, targets, scan)
    now = utc_now()
    rows = pa.Table.from_pylist(
        [{**row, "scanned_at": now} for o in outcomes for row in o.result or []], schema=SCHEMA
    )
    with warehouse.connect() as conn:
        stale = replace_scanned_rows(conn, TABLE, rows, failures_of(outcomes), now)
        statuses = record_scan_status(
            conn, ACTIVITY_SCAN.source, outcomes, [len(o.result or []) for o in outcomes]
        )
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = row_count(conn, "resource_activity")
    return dg.MaterializeResult(
        metadata={
            **counted,
            "resources_measured": rows.num_rows,
            "resources_stale": stale,
            "window": f"{start} to {end} (excl.)",
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"],
            **call_metadata(calls),
        }
    )
