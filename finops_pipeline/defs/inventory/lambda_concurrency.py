"""``lambda_provisioned_concurrency``: the provisioned concurrency configs of every listed Lambda function.

Why: provisioned concurrency bills every second it is allocated, invoked or not (Lambda pricing), so a
config nobody uses is waste the function list alone does not show. ListFunctions does not return it; the
per-function ``ListProvisionedConcurrencyConfigs`` does (REST-JSON ``GET /2019-09-30/functions/
{FunctionName}/provisioned-concurrency?List=ALL``, ``MaxItems`` at most 50,
https://docs.aws.amazon.com/lambda/latest/api/API_ListProvisionedConcurrencyConfigs.html). It is asked for
each function ``lambda_inventory`` listed, with the scans' fan-out and status rules (source
``lambda_provisioned_concurrency``): a failed account × region keeps its last good rows, marked stale.
A function deleted between the two calls answers ResourceNotFoundException: it has no config, not a failure.
"""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib.fan_out import failures_of, record_scan_status, replace_scanned_rows, scan_targets
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.tables.inventory import PROVISIONED_CONCURRENCY_SCAN
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

TABLE = "raw.lambda_provisioned_concurrency"
SCHEMA = registry.table(TABLE).arrow_schema(exclude=[c.name for c in STALE_COLUMNS])
# Stale functions too: their account × region's list failed, the functions are likely still there.
FUNCTIONS_SQL = "SELECT account_id, region, resource_arn, resource_id FROM raw.lambda_functions ORDER BY ALL"


def read_configs(client: Any, function_arn: str, function_name: str) -> list[dict[str, Any]]:
    """One row per alias or version of the function with provisioned concurrency."""
    paginator = client.get_paginator("list_provisioned_concurrency_configs")
    rows = []
    try:
        for page in paginator.paginate(FunctionName=function_arn, PaginationConfig={"PageSize": 50}):
            for config in page.get("ProvisionedConcurrencyConfigs", []):
                qualified = config["FunctionArn"]
                rows.append(
                    {
                        "resource_arn": qualified,
                        "function_arn": function_arn,
                        "function_name": function_name,
                        "qualifier": qualified.rsplit(":", 1)[-1],
                        "requested": config.get("RequestedProvisionedConcurrentExecutions"),
                        "available": config.get("AvailableProvisionedConcurrentExecutions"),
                        "allocated": config.get("AllocatedProvisionedConcurrentExecutions"),
                        "status": config.get("Status"),
                        "last_modified": config.get("LastModified"),
                    }
                )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return []  # deleted since ListFunctions: nothing allocated any more
    return rows


@dg.asset(
    group_name=layers.RAW_INVENTORY,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["lambda_inventory"],
    description="Provisioned concurrency configs of every Lambda function, the input of the "
    "unused-provisioned-concurrency rule; a failed account × region keeps its last rows.",
    metadata=definition_metadata("lambda_provisioned_concurrency"),
)
def lambda_provisioned_concurrency(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
            functions: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for account, region, arn, name in conn.execute(FUNCTIONS_SQL).fetchall():
                functions.setdefault((account, region), []).append((arn, name))

        def scan(target: ScanTarget) -> list[dict[str, Any]]:
            listed = functions.get((target.account_id, target.region), [])
            if not listed:
                return []  # no function there: no call
            client = aws.client("lambda", region=target.region, account_id=target.account_id)
            where = {"account_id": target.account_id, "region": target.region}
            return [{**where, **row} for arn, name in listed for row in read_configs(client, arn, name)]

        outcomes = scan_enabled(aws, targets, scan)
    now = utc_now()
    rows = pa.Table.from_pylist(
        [{**row, "scanned_at": now} for o in outcomes for row in o.result or []], schema=SCHEMA
    )
    with warehouse.connect() as conn:
        stale = replace_scanned_rows(conn, TABLE, rows, failures_of(outcomes), now)
        statuses = record_scan_status(
            conn, PROVISIONED_CONCURRENCY_SCAN.source, outcomes, [len(o.result or []) for o in outcomes]
        )
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = row_count(conn, "lambda_provisioned_concurrency")
    allocated = pc.sum(rows["allocated"]).as_py() or 0
    return dg.MaterializeResult(
        metadata={
            **counted,
            "configs": rows.num_rows,
            "allocated_concurrency": int(allocated),
            "configs_stale": stale,
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"],
            **call_metadata(calls),
        }
    )
