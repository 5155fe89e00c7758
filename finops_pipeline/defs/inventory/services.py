"""Each service's own list call in every account × scan region: RDS, Lambda, S3, DynamoDB, ELB v2.

Why: the Tagging API (``GetResources``) lists only resources that have or had tags, so a never-tagged
database, function, bucket, table or load balancer is invisible to it (GUIDE §9; Cloud Custodian and
aws-finops-dashboard call these same list APIs). The compliance mart merges these rows with the Tagging
API's by ARN. Same fan-out, status table (source = the service) and failure rules as the tag scan: a
failed account × region is a status row and keeps its last good rows, marked stale.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib.fan_out import failures_of, record_scan_status, replace_scanned_rows, scan_targets
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

Reader = Callable[[Any, ScanTarget], list[dict[str, Any]]]


@dataclass(frozen=True)
class ServiceList:
    """One service's list call: the boto3 client, the table and scan source it writes, its reader."""

    source: str  # raw.scan_status source, and the table's prefix
    client: str  # boto3 service name
    table: str
    read: Reader

    @property
    def schema(self) -> pa.Schema:
        # stale_since / stale_reason are set by replace_scanned_rows on the rows it keeps, not by the scan.
        return registry.table(self.table).arrow_schema(exclude=[c.name for c in STALE_COLUMNS])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def _tag_json(pairs: Iterable[dict[str, str]] | None) -> str:
    return json.dumps({t["Key"]: t["Value"] for t in pairs or []}, ensure_ascii=False)


def _pages(client: Any, operation: str, key: str, **request: Any) -> Iterable[Any]:
    for page in client.get_paginator(operation).paginate(**request):
        yield from page.get(key, [])


def _rds(rds: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """DescribeDBInstances, 100 a page (its maximum); TagList comes with each instance
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html)."""
    return [
        {
            "resource_arn": db["DBInstanceArn"],
            "resource_id": db["DBInstanceIdentifier"],
            "db_instance_class": db.get("DBInstanceClass"),
            "engine": db.get("Engine"),
            "status": db.get("DBInstanceStatus"),
            "multi_az": db.get("MultiAZ"),
            "allocated_storage_gb": float(db["AllocatedStorage"]) if db.get("AllocatedStorage") else None,
            "storage_type": db.get("StorageType"),
            "create_time": _utc(db.get("InstanceCreateTime")),
            "tags": _tag_json(db.get("TagList")),
        }
        for db in _pages(rds, "describe_db_instances", "DBInstances", PaginationConfig={"PageSize": 100})
    ]


def _lambda(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """ListFunctions, 50 a page (its maximum); no tags in the answer
    (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html)."""
    return [
        {
            "resource_arn": f["FunctionArn"],
            "resource_id": f["FunctionName"],
            "runtime": f.get("Runtime"),
            "memory_mb": f.get("MemorySize"),
            "last_modified": f.get("LastModified"),
            "tags": None,
        }
        for f in _pages(client, "list_functions", "Functions", PaginationConfig={"PageSize": 50})
    ]


def _s3(s3: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """ListBuckets limited to the scan region (``BucketRegion``): bucket names are global, so without it
    every region's scan would list every bucket; no tags in the answer
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html)."""
    return [
        {
            "resource_arn": f"arn:aws:s3:::{b['Name']}",
            "resource_id": b["Name"],
            "creation_date": _utc(b.get("CreationDate")),
            "tags": None,
        }
        for b in _pages(s3, "list_buckets", "Buckets", BucketRegion=target.region)
    ]


def _dynamodb(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """ListTables, 100 names a page (its maximum); the ARN is built in the documented form
    arn:aws:dynamodb:<region>:<account>:table/<name> rather than one DescribeTable per table
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ListTables.html)."""
    return [
        {
            "resource_arn": f"arn:aws:dynamodb:{target.region}:{target.account_id}:table/{name}",
            "resource_id": name,
            "tags": None,
        }
        for name in _pages(client, "list_tables", "TableNames", PaginationConfig={"PageSize": 100})
    ]


def _elbv2(client: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """DescribeLoadBalancers, 400 a page (its maximum); no tags in the answer
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html).
    The id is the ARN's resource part after ``loadbalancer/`` (``app/<name>/<id>``), as the Tagging API's."""
    return [
        {
            "resource_arn": lb["LoadBalancerArn"],
            "resource_id": lb["LoadBalancerArn"].split(":loadbalancer/", 1)[-1],
            "name": lb.get("LoadBalancerName"),
            "type": lb.get("Type"),
            "scheme": lb.get("Scheme"),
            "state": (lb.get("State") or {}).get("Code"),
            "created_time": _utc(lb.get("CreatedTime")),
            "tags": None,
        }
        for lb in _pages(
            client, "describe_load_balancers", "LoadBalancers", PaginationConfig={"PageSize": 400}
        )
    ]


RDS = ServiceList("rds", "rds", "raw.rds_db_instances", _rds)
LAMBDA = ServiceList("lambda", "lambda", "raw.lambda_functions", _lambda)
S3 = ServiceList("s3", "s3", "raw.s3_buckets", _s3)
DYNAMODB = ServiceList("dynamodb", "dynamodb", "raw.dynamodb_tables", _dynamodb)
ELBV2 = ServiceList("elbv2", "elbv2", "raw.elbv2_load_balancers", _elbv2)


def scan_service(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource, spec: ServiceList
) -> dg.MaterializeResult:
    """Fan ``spec``'s list call out over accounts × scan regions, replace its table, record each target."""

    def scan(target: ScanTarget) -> list[dict[str, Any]]:
        client = aws.client(spec.client, region=target.region, account_id=target.account_id)
        where = {"account_id": target.account_id, "region": target.region}
        return [{**where, **row} for row in spec.read(client, target)]

    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
        outcomes = scan_enabled(aws, targets, scan)
    now = utc_now()
    rows = pa.Table.from_pylist(
        [{**row, "scanned_at": now} for o in outcomes for row in o.result or []], schema=spec.schema
    )
    with warehouse.connect() as conn:
        stale = replace_scanned_rows(conn, spec.table, rows, failures_of(outcomes), now)
        statuses = record_scan_status(conn, spec.source, outcomes, [len(o.result or []) for o in outcomes])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = row_count(conn, context.asset_key.to_user_string())
    return dg.MaterializeResult(
        metadata={
            **counted,
            "resources_listed": rows.num_rows,
            "resources_stale": stale,
            "accounts_scanned": len({t.account_id for t in targets}),
            "regions_scanned": len(aws.scan_regions),
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"],
            **call_metadata(calls),
        }
    )


_ASSET = {
    "group_name": layers.RAW_INVENTORY,
    "kinds": {"aws", "duckdb"},
    "owners": ["team:finops"],
    "pool": "duckdb",
    "deps": ["aws_accounts"],
}
_FAILED = "a failed account × region keeps its last good rows, marked stale."


@dg.asset(
    **_ASSET,
    description=f"RDS DB instances of every account × scan region, tagged or not; {_FAILED}",
    metadata=definition_metadata("rds_inventory"),
)
def rds_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return scan_service(context, aws, warehouse, RDS)


@dg.asset(
    **_ASSET,
    description=f"Lambda functions of every account × scan region, tagged or not; {_FAILED}",
    metadata=definition_metadata("lambda_inventory"),
)
def lambda_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return scan_service(context, aws, warehouse, LAMBDA)


@dg.asset(
    **_ASSET,
    description=f"S3 buckets of every account, listed per scan region, tagged or not; {_FAILED}",
    metadata=definition_metadata("s3_inventory"),
)
def s3_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return scan_service(context, aws, warehouse, S3)


@dg.asset(
    **_ASSET,
    description=f"DynamoDB tables of every account × scan region, tagged or not; {_FAILED}",
    metadata=definition_metadata("dynamodb_inventory"),
)
def dynamodb_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return scan_service(context, aws, warehouse, DYNAMODB)


@dg.asset(
    **_ASSET,
    description=f"ELB v2 load balancers of every account × scan region, tagged or not; {_FAILED}",
    metadata=definition_metadata("elbv2_inventory"),
)
def elbv2_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return scan_service(context, aws, warehouse, ELBV2)
