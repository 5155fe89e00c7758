"""``tagged_resources``: the Tagging API in every member account and scan region, de-duplicated by ARN."""

import json
import re
import time
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.defs.ingest.accounts import aws_accounts
from finops_pipeline.lib.fan_out import (
    failures_of,
    record_scan_status,
    replace_scanned_rows,
    scan_targets,
)
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

SOURCE = "tagging"
ARN_RESOURCE_RE = re.compile(r"([^/:]+)[/:](.+)")
# stale_since / stale_reason: set by replace_scanned_rows on the rows it keeps, not by the scan.
RESOURCE_COLUMNS = tables.table("raw.tagged_resources").arrow_schema(exclude=[c.name for c in STALE_COLUMNS])


def parse_arn(arn: str) -> tuple[str, str, str]:
    """(service, "service:type", resource id) from an ARN such as arn:aws:ec2:r:a:instance/i-1."""
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    if service == "s3":
        return service, "s3:bucket", resource
    typed = ARN_RESOURCE_RE.match(resource)
    if typed is None:
        return service, service, resource
    return service, f"{service}:{typed[1]}", typed[2]


def scan_account_region(aws: AwsResource, target: ScanTarget) -> list[dict[str, Any]]:
    client = aws.client("resourcegroupstaggingapi", region=target.region, account_id=target.account_id)
    found = []
    for page in client.get_paginator("get_resources").paginate(ResourcesPerPage=100):
        for item in page["ResourceTagMappingList"]:
            service, resource_type, resource_id = parse_arn(item["ResourceARN"])
            found.append(
                {
                    "resource_arn": item["ResourceARN"],
                    "account_id": target.account_id,
                    "region": target.region,
                    "service": service,
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "tags": json.dumps(
                        {t["Key"]: t["Value"] for t in item.get("Tags", [])}, ensure_ascii=False
                    ),
                }
            )
    return found


@dg.asset(
    group_name=layers.RAW_INVENTORY,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=[aws_accounts],
    description="Tagged resources of every active account and scan region (Resource Groups Tagging API); "
    "a failed account × region keeps its last good rows, marked stale.",
    metadata=tables.definition_metadata("tagged_resources"),
)
def tagged_resources(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
        started = time.perf_counter()
        outcomes = scan_enabled(aws, targets, lambda target: scan_account_region(aws, target))
        scan_seconds = time.perf_counter() - started
    now = utc_now()
    by_arn: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:  # targets are in scan-region order: the first region seen keeps a global ARN
        for row in outcome.result or []:
            by_arn.setdefault(row["resource_arn"], {**row, "scanned_at": now})
    table = pa.Table.from_pylist(list(by_arn.values()), schema=RESOURCE_COLUMNS)
    with warehouse.connect() as conn:
        stale = replace_scanned_rows(conn, "raw.tagged_resources", table, failures_of(outcomes), now)
        statuses = record_scan_status(conn, SOURCE, outcomes, [len(o.result or []) for o in outcomes])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "tagged_resources")
    return dg.MaterializeResult(
        metadata={
            **counted,
            "resources": table.num_rows,
            "resources_stale": stale,  # kept from the last good scan of a failed account × region
            "accounts_scanned": len({t.account_id for t in targets}),
            "regions_scanned": len(aws.scan_regions),
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"],
            "scan_seconds": round(scan_seconds, 2),
            **call_metadata(calls),
        }
    )
