"""The ``raw`` tables of each service's own list call: every resource, tagged or never tagged (issue #16).

The Tagging API lists only resources that have (or had) tags; these calls list them all. One table per
service, written by that service's inventory asset (``defs/inventory/services.py``), fanned out over
accounts × scan regions with the tag scan's status rules (source = the service in ``raw.scan_status``).
"""

from finops_pipeline.tables.model import STALE_COLUMNS, Column, Scan, Table

_ARN = Column("resource_arn", "VARCHAR", not_null=True)
_ACCOUNT = Column("account_id", "VARCHAR", not_null=True)
_REGION = Column("region", "VARCHAR", not_null=True)
_ID = Column("resource_id", "VARCHAR", "the name or id the service gives it", not_null=True)
_SCANNED_AT = Column("scanned_at", "TIMESTAMPTZ", not_null=True)
_NO_TAGS = "JSON object; NULL: this list call does not return tags (the Tagging API's are used)"


def inventory_table(
    service: str, kind: str, description: str, columns: tuple[Column, ...], *, tags: str = _NO_TAGS
) -> Table:
    """One service list call's resources in every account × scan region (source ``service``)."""
    return Table(
        f"raw.{service}_{kind}",
        description,
        (_ARN, _ACCOUNT, _REGION, _ID, *columns, Column("tags", "JSON", tags), _SCANNED_AT, *STALE_COLUMNS),
        ("resource_arn",),
        asset=f"{service}_inventory",
        blocking=True,
    )


INVENTORY_TABLES = (
    inventory_table(
        "rds",
        "db_instances",
        "RDS DB instances (DescribeDBInstances) of every account × scan region, tagged or not.",
        (
            Column("db_instance_class", "VARCHAR"),
            Column("engine", "VARCHAR"),
            Column("status", "VARCHAR", "available | stopped | ..."),
            Column("multi_az", "BOOLEAN"),
            Column("allocated_storage_gb", "DOUBLE"),
            Column("storage_type", "VARCHAR"),
            Column("create_time", "TIMESTAMPTZ"),
        ),
        tags="JSON object (DescribeDBInstances' TagList)",
    ),
    inventory_table(
        "lambda",
        "functions",
        "Lambda functions (ListFunctions) of every account × scan region, tagged or not.",
        (
            Column("runtime", "VARCHAR"),
            Column("memory_mb", "BIGINT"),
            Column("last_modified", "VARCHAR", "as Lambda gives it (ISO 8601 with offset)"),
        ),
    ),
    inventory_table(
        "s3",
        "buckets",
        "S3 general purpose buckets (ListBuckets with BucketRegion = the scan region), tagged or not.",
        (Column("creation_date", "TIMESTAMPTZ"),),
    ),
    inventory_table(
        "dynamodb",
        "tables",
        "DynamoDB tables (ListTables) of every account × scan region, tagged or not.",
        (),
    ),
    inventory_table(
        "elbv2",
        "load_balancers",
        "Application, network and gateway load balancers (DescribeLoadBalancers), tagged or not.",
        (
            Column("name", "VARCHAR"),
            Column("type", "VARCHAR", "application | network | gateway"),
            Column("scheme", "VARCHAR"),
            Column("state", "VARCHAR", "provisioning | active | active_impaired | failed"),
            Column("created_time", "TIMESTAMPTZ"),
        ),
    ),
)
RESOURCE_ACTIVITY = Table(
    "raw.cloudwatch_daily_activity",
    "CloudWatch daily values (GetMetricData, 1-day periods) of the metric each idle rule reads "
    "(lib/idle_rules.py), per judged resource: load balancers, NAT gateways, RDS instances, Lambda "
    "provisioned concurrency configs.",
    (
        _ARN,
        _ACCOUNT,
        _REGION,
        Column(
            "subject",
            "VARCHAR",
            "the rule's subject: application | network | nat_gateway | rds | lambda_provisioned_concurrency",
            not_null=True,
        ),
        Column("namespace", "VARCHAR", not_null=True),
        Column("metric_name", "VARCHAR", not_null=True),
        Column("statistic", "VARCHAR", not_null=True),
        Column("dimension_value", "VARCHAR", not_null=True),
        Column("window_start", "DATE", "first UTC day asked", not_null=True),
        Column("window_end", "DATE", "end of the window, exclusive (today)", not_null=True),
        Column(
            "daily", "STRUCT(day DATE, value DOUBLE)[]", "the days CloudWatch gave a datapoint", not_null=True
        ),
        _SCANNED_AT,
        *STALE_COLUMNS,
    ),
    ("resource_arn", "metric_name"),
    asset="resource_activity",
    blocking=True,
)
LAMBDA_PROVISIONED_CONCURRENCY = Table(
    "raw.lambda_provisioned_concurrency",
    "Provisioned concurrency configs (ListProvisionedConcurrencyConfigs) of every Lambda function the "
    "inventory lists, one row per alias or version that has one.",
    (
        Column(
            "resource_arn", "VARCHAR", "the qualified ARN (function:<name>:<alias or version>)", not_null=True
        ),
        _ACCOUNT,
        _REGION,
        Column(
            "function_arn", "VARCHAR", "the function's unqualified ARN (raw.lambda_functions)", not_null=True
        ),
        Column("function_name", "VARCHAR", not_null=True),
        Column("qualifier", "VARCHAR", "the alias or version", not_null=True),
        Column("requested", "BIGINT", "RequestedProvisionedConcurrentExecutions"),
        Column("available", "BIGINT", "AvailableProvisionedConcurrentExecutions"),
        Column("allocated", "BIGINT", "AllocatedProvisionedConcurrentExecutions: what bills"),
        Column("status", "VARCHAR", "IN_PROGRESS | READY | FAILED"),
        Column("last_modified", "VARCHAR", "as Lambda gives it (ISO 8601 with offset)"),
        _SCANNED_AT,
        *STALE_COLUMNS,
    ),
    ("resource_arn",),
    asset="lambda_provisioned_concurrency",
    blocking=True,
)
INVENTORY_TABLES = (*INVENTORY_TABLES, RESOURCE_ACTIVITY, LAMBDA_PROVISIONED_CONCURRENCY)
INVENTORY_SCANS = (
    Scan("rds_inventory", "rds", "DescribeDBInstances"),
    Scan("lambda_inventory", "lambda", "ListFunctions"),
    Scan("s3_inventory", "s3", "ListBuckets"),
    Scan("dynamodb_inventory", "dynamodb", "ListTables"),
    Scan("elbv2_inventory", "elbv2", "DescribeLoadBalancers"),
)
ACTIVITY_SCAN = Scan("resource_activity", "cloudwatch", "GetMetricData")
PROVISIONED_CONCURRENCY_SCAN = Scan(
    "lambda_provisioned_concurrency", "lambda_provisioned_concurrency", "ListProvisionedConcurrencyConfigs"
)
# The raw.scan_status sources whose rows the compliance marts read: the tag scan and every list call.
RESOURCE_SCAN_SOURCES = ("tagging", "ec2", *(scan.source for scan in INVENTORY_SCANS))
# marts.tag_compliance_resources.found_by: which source alone saw a resource, or both.
FOUND_BY = (
    "tagging_api",
    "ec2_describe",
    "rds_describe",
    "lambda_list",
    "s3_list",
    "dynamodb_list",
    "elbv2_describe",
    "both",
)
