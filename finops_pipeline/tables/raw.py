"""The ``raw`` layer: what the AWS APIs answered, one table per source and grain."""

from finops_pipeline.tables.inventory import (
    ACTIVITY_SCAN,
    INVENTORY_SCANS,
    INVENTORY_TABLES,
    PROVISIONED_CONCURRENCY_SCAN,
)
from finops_pipeline.tables.model import STALE_COLUMNS, Column, Scan, Table

MONEY = "DECIMAL(18, 6)"
DAILY_FRESHNESS = "max(usage_date) + 1"
COST_METRICS = (
    Column("unblended_cost", MONEY, not_null=True),
    Column("amortized_cost", MONEY, not_null=True),
    Column("net_unblended_cost", MONEY, not_null=True),
    Column("is_estimated", "BOOLEAN", "Cost Explorer may still change the figure", not_null=True),
    Column("currency", "VARCHAR", not_null=True),
)
USAGE_DATE = Column("usage_date", "DATE", "UTC day", not_null=True)
ACCOUNT_ID = Column("account_id", "VARCHAR", not_null=True)
SERVICE = Column("service", "VARCHAR", not_null=True)
REGION = Column("region", "VARCHAR", not_null=True)
USAGE_TYPE = Column("usage_type", "VARCHAR", not_null=True)
RESOURCE_ARN = Column("resource_arn", "VARCHAR", not_null=True)
TAGS = Column("tags", "JSON", "JSON object", not_null=True)
SCANNED_AT = Column("scanned_at", "TIMESTAMPTZ", not_null=True)
SNAPSHOT_DATE = Column("snapshot_date", "DATE", "the day the snapshot was taken", not_null=True)
FETCHED_AT = Column("fetched_at", "TIMESTAMPTZ", not_null=True)


def cost_table(name: str, description: str, group_columns: tuple[Column, ...]) -> Table:
    """A Cost Explorer grain: one row per day and group, the same metrics in every grain."""
    columns = (USAGE_DATE, *group_columns, *COST_METRICS)
    key = tuple(c.name for c in (USAGE_DATE, *group_columns))
    return Table(
        f"raw.{name}", description, columns, key, asset=name, blocking=True, freshness=DAILY_FRESHNESS
    )


def ec2_table(
    kind: str, description: str, columns: tuple[Column, ...], added: tuple[Column, ...] = ()
) -> Table:
    """One EC2 describe call's resources in every account × scan region (source 'ec2' in raw.scan_status).

    ``added``: columns added after the table shipped, last (where ``ALTER TABLE ... ADD COLUMN`` puts them).
    """
    common = (RESOURCE_ARN, ACCOUNT_ID, REGION)
    return Table(
        f"raw.ec2_{kind}",
        description,
        (*common, *columns, TAGS, SCANNED_AT, *STALE_COLUMNS, *added),
        ("resource_arn",),
        asset="ec2_inventory",
        blocking=True,
    )


AWS_ACCOUNTS = Table(
    "raw.aws_accounts",
    "The organisation's accounts (Organizations) with their OU path, status and tags, or the caller alone.",
    (
        ACCOUNT_ID,
        Column("account_name", "VARCHAR"),
        Column("email", "VARCHAR"),
        Column("status", "VARCHAR", "ACTIVE | SUSPENDED | ..."),
        Column("ou_id", "VARCHAR"),
        Column("ou_path", "VARCHAR", "Root/Production/..."),
        Column("joined_at", "TIMESTAMPTZ"),
        Column("joined_method", "VARCHAR"),
        Column("is_management", "BOOLEAN", not_null=True, default="FALSE"),
        Column(
            "tags",
            "JSON",
            "JSON object; NULL: unknown, ListTagsForResource failed (raw.scan_status source "
            "organizations:account_tags)",
        ),
        Column("ingested_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("account_id",),
    asset="aws_accounts",
    blocking=True,  # the marts join account names on account_id
    freshness="max(ingested_at)::DATE",
)
CALLER_SCOPE = Table(
    "raw.caller_scope",
    "Whose bill the run's credentials saw (lib/caller_scope.py): a row per run of aws_accounts.",
    (
        Column("run_id", "VARCHAR", not_null=True),
        Column("caller_account_id", "VARCHAR", not_null=True),
        Column("caller_arn", "VARCHAR"),
        Column("role", "VARCHAR", "management | delegated_administrator | member | ...", not_null=True),
        Column("management_account_id", "VARCHAR"),
        Column("billing_view_arn", "VARCHAR"),
        Column(
            "partial", "BOOLEAN", "Cost Explorer sees only part of the organisation's bill", not_null=True
        ),
        Column("organization_accounts", "INTEGER", "accounts Organizations listed (NULL: not listed)"),
        Column("description", "VARCHAR"),
        Column("detected_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("run_id",),
    asset="aws_accounts",
)
COST_TABLES = (
    cost_table(
        "ce_cost_daily",
        "Daily unblended, amortized and net unblended cost per account and service (Cost Explorer).",
        (ACCOUNT_ID, SERVICE),
    ),
    cost_table(
        "ce_cost_by_region",
        "Daily cost per service and region: where a cost change happened.",
        (SERVICE, REGION),
    ),
    cost_table(
        "ce_cost_by_usage_type",
        "Daily cost per service and usage type: what drove a cost change.",
        (SERVICE, USAGE_TYPE),
    ),
    cost_table(
        "ce_cost_by_account_usage_type",
        "Daily usage cost per account and usage type (no credits, refunds or tax).",
        (ACCOUNT_ID, USAGE_TYPE),
    ),
    cost_table(
        "ce_cost_by_tag",
        "Daily cost per account and value of each required tag key.",
        (
            ACCOUNT_ID,
            Column("tag_key", "VARCHAR", not_null=True),
            Column(
                "tag_value",
                "VARCHAR",
                "'' is spend without the tag (Cost Explorer's \"Key$\")",
                not_null=True,
            ),
        ),
    ),
)
TAGGED_RESOURCES = Table(
    "raw.tagged_resources",
    "Resources the Tagging API lists (those that have or had tags) in every account × scan region.",
    (
        RESOURCE_ARN,
        ACCOUNT_ID,
        REGION,
        SERVICE,
        Column("resource_type", "VARCHAR", not_null=True),
        Column("resource_id", "VARCHAR"),
        TAGS,
        SCANNED_AT,
        *STALE_COLUMNS,
    ),
    ("resource_arn",),
    asset="tagged_resources",
    blocking=True,
    freshness="max(scanned_at)::DATE",
)
SCAN_STATUS = Table(
    "raw.scan_status",
    "How every account × region (or kind) of each source answered its last scan; written by every scan.",
    (
        ACCOUNT_ID,
        REGION,
        Column("source", "VARCHAR", "tagging | ec2 | budgets | ce_forecast | ...", not_null=True),
        Column(
            "status",
            "VARCHAR",
            "ok | access_denied | throttled | region_not_enabled (opt-in region not enabled) | error | ...",
            not_null=True,
        ),
        Column("detail", "VARCHAR"),
        Column("items", "BIGINT", not_null=True, default="0"),
        SCANNED_AT,
        Column(
            "last_ok_at",
            "TIMESTAMPTZ",
            "the last scan that answered ok (NULL: never: its data is missing)",
            added=True,
        ),
    ),
    ("account_id", "region", "source"),
)
CE_ANOMALIES = Table(
    "raw.ce_anomalies",
    "AWS Cost Anomaly Detection results over a trailing window, upserted by id.",
    (
        Column("anomaly_id", "VARCHAR", not_null=True),
        Column("anomaly_start_date", "DATE"),
        Column("anomaly_end_date", "DATE"),
        Column("dimension_value", "VARCHAR"),
        Column("monitor_arn", "VARCHAR"),
        Column("feedback", "VARCHAR"),
        Column("max_score", "DOUBLE"),
        Column("current_score", "DOUBLE"),
        Column("max_impact", MONEY),
        Column("total_impact", MONEY),
        Column("total_actual_spend", MONEY),
        Column("total_expected_spend", MONEY),
        Column("total_impact_percentage", "DOUBLE"),
        Column("root_causes", "JSON"),
        Column("raw", "JSON", "the answer as returned", not_null=True),
        Column("first_seen_at", "TIMESTAMPTZ", not_null=True),
        Column("last_seen_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("anomaly_id",),
    asset="ce_anomalies",
    blocking=True,
    freshness="max(last_seen_at)::DATE",
)
CE_RECOMMENDATIONS = Table(
    "raw.ce_recommendations",
    "Cost Explorer's RI, Savings Plans and rightsizing recommendations, one snapshot a day.",
    (
        SNAPSHOT_DATE,
        Column("recommendation_id", "VARCHAR", not_null=True),
        Column("source", "VARCHAR", "reserved_instances | savings_plans | rightsizing", not_null=True),
        Column("service", "VARCHAR"),
        Column("account_id", "VARCHAR"),
        Column("region", "VARCHAR"),
        Column("resource_id", "VARCHAR"),
        Column("instance_type", "VARCHAR"),
        Column("action", "VARCHAR", not_null=True),
        Column("term", "VARCHAR"),
        Column("payment_option", "VARCHAR"),
        Column(
            "lookback_days",
            "INTEGER",
            "days of usage behind it: 7 | 30 | 60 as asked for RI and Savings Plans; 14 for rightsizing",
        ),
        Column("recommended_quantity", "DOUBLE"),
        Column("upfront_cost", MONEY, "USD, once"),
        Column(
            "hourly_commitment",
            MONEY,
            "USD per hour: the Savings Plans commitment (HourlyCommitmentToPurchase); NULL for RI "
            "(see recurring_monthly_cost)",
        ),
        Column("estimated_monthly_savings", MONEY, "USD per month", not_null=True),
        Column(
            "estimated_monthly_cost_before",
            MONEY,
            "USD per month of on-demand cost today (Savings Plans: CurrentAverageHourlyOnDemandSpend × 730)",
        ),
        Column("currency", "VARCHAR", not_null=True),
        Column("details", "JSON", not_null=True),
        FETCHED_AT,
        Column(
            "offer",
            "JSON",
            "what tells the offer apart besides the columns above (platform, tenancy, engine, edition, "
            "deployment option, licence, offering class, Savings Plans type / region / family), as hashed "
            "into recommendation_id",
            added=True,
        ),
        *STALE_COLUMNS,  # a kind AWS refused today keeps its last good rows
        Column(
            "recurring_monthly_cost",
            MONEY,
            "USD per month the RI bills after its upfront (RecurringStandardMonthlyCost)",
            added=True,
        ),
    ),
    ("snapshot_date", "recommendation_id"),
    asset="ce_recommendations",
    # marts.recommendations joins its previous copy on recommendation_id (issue #13 item 2)
    blocking=True,
    freshness="max(snapshot_date)",
)
EC2_TABLES = (
    ec2_table(
        "instances",
        "EC2 instances of every account × scan region, tagged or not (the Tagging API lists tagged ones).",
        (
            Column("instance_id", "VARCHAR", not_null=True),
            Column("instance_type", "VARCHAR"),
            Column("state", "VARCHAR", "pending | running | stopping | stopped | shutting-down | terminated"),
            Column("launch_time", "TIMESTAMPTZ"),
        ),
        (
            Column(
                "stopped_since",
                "TIMESTAMPTZ",
                "when a stopped instance was stopped, from StateTransitionReason "
                "'User initiated (YYYY-MM-DD HH:MM:SS GMT)'; NULL: not stopped, or AWS gave no time",
                added=True,
            ),
        ),
    ),
    ec2_table(
        "volumes",
        "EBS volumes of every account × scan region, with their attachments.",
        (
            Column("volume_id", "VARCHAR", not_null=True),
            Column("volume_type", "VARCHAR"),
            Column("size_gb", "DOUBLE"),
            Column("iops", "BIGINT"),
            Column("state", "VARCHAR", "available (unattached) | in-use | ..."),
            Column("attached_instance_ids", "VARCHAR[]"),
            Column("create_time", "TIMESTAMPTZ"),
        ),
    ),
    ec2_table(
        "snapshots",
        "EBS snapshots owned by the account (OwnerIds=['self']), not public or shared ones.",
        (
            Column("snapshot_id", "VARCHAR", not_null=True),
            Column("volume_id", "VARCHAR"),
            Column("volume_size_gb", "DOUBLE"),
            Column("state", "VARCHAR"),
            Column("storage_tier", "VARCHAR"),
            Column("start_time", "TIMESTAMPTZ"),
            Column("description", "VARCHAR"),
        ),
    ),
    ec2_table(
        "addresses",
        "Elastic IPs of every account × scan region, with what they are associated with.",
        (
            Column("allocation_id", "VARCHAR", not_null=True),
            Column("public_ip", "VARCHAR"),
            Column("domain", "VARCHAR"),
            Column("association_id", "VARCHAR"),
            Column("instance_id", "VARCHAR"),
            Column("network_interface_id", "VARCHAR"),
        ),
    ),
    ec2_table(
        "nat_gateways",
        "NAT gateways of every account × scan region (deleted ones left out).",
        (
            Column("nat_gateway_id", "VARCHAR", not_null=True),
            Column("state", "VARCHAR", "pending | available | failed"),
            Column("connectivity_type", "VARCHAR", "public | private"),
            Column("vpc_id", "VARCHAR"),
            Column("subnet_id", "VARCHAR"),
            Column("create_time", "TIMESTAMPTZ"),
        ),
    ),
    ec2_table(
        "images",
        "AMIs owned by the account (DescribeImages Owners=['self']) with the EBS snapshots backing them.",
        (
            Column("image_id", "VARCHAR", not_null=True),
            Column("name", "VARCHAR"),
            Column("state", "VARCHAR"),
            Column("creation_date", "TIMESTAMPTZ"),
            Column("snapshot_ids", "VARCHAR[]", "the snapshots of its EBS block device mappings"),
            Column("snapshot_size_gb", "DOUBLE", "sum of their VolumeSize"),
        ),
    ),
)
CE_FORECASTS = Table(
    "raw.ce_forecasts",
    "Cost Explorer's GetCostForecast for the rest of this month and next month (organisation total).",
    (
        SNAPSHOT_DATE,
        Column("period_start", "DATE", not_null=True),
        Column("period_end", "DATE", "exclusive", not_null=True),
        Column("metric", "VARCHAR", "UNBLENDED_COST", not_null=True),
        Column("mean_usd", MONEY, not_null=True),
        Column("lower_usd", MONEY),
        Column("upper_usd", MONEY),
        Column("prediction_interval_level", "INTEGER", not_null=True),
        FETCHED_AT,
    ),
    ("snapshot_date", "period_start"),
    asset="ce_cost_forecast",
    blocking=True,  # marts.budget_status reads each period's forecast
)
AWS_BUDGETS = Table(
    "raw.aws_budgets",
    "AWS Budgets (DescribeBudgets in the management account), one snapshot a day.",
    (
        SNAPSHOT_DATE,
        Column("owner_account_id", "VARCHAR", "the account holding the budget", not_null=True),
        Column("budget_name", "VARCHAR", not_null=True),
        Column("budget_type", "VARCHAR", "COST | USAGE | RI_* | SAVINGS_PLANS_*", not_null=True),
        Column("time_unit", "VARCHAR", "DAILY | MONTHLY | QUARTERLY | ANNUALLY", not_null=True),
        Column("limit_usd", MONEY),
        Column("actual_spend_usd", MONEY),
        Column("forecasted_spend_usd", MONEY),
        Column(
            "linked_account_ids", "VARCHAR[]", "the accounts scoping it (CostFilters or FilterExpression)"
        ),
        Column("cost_filters", "JSON"),
        FETCHED_AT,
        Column("filter_expression", "JSON", "the newer FilterExpression, as returned", added=True),
        Column("cost_types", "JSON", "what counts (credits, refunds, amortised, ...)", added=True),
        Column(
            "scope_kind",
            "VARCHAR",
            "organisation | account | accounts | filtered (budget_scope.py)",
            added=True,
        ),
        Column("scope_description", "VARCHAR", "the scope in words", added=True),
        Column(
            "measure", "VARCHAR", "unblended (recomputed from Cost Explorer) | aws_calculated", added=True
        ),
    ),
    ("snapshot_date", "budget_name"),
    asset="aws_budgets",
    blocking=True,  # marts.budget_status holds each budget once
)
CE_COST_ALLOCATION_TAGS = Table(
    "raw.ce_cost_allocation_tags",
    "ListCostAllocationTags for the required keys, one snapshot a day. Cost Explorer groups spend by a key "
    "only once it is activated, and only from then on: active_from is the first usage day whose tag grouping "
    "is trusted (the day after LastUpdatedDate; activation takes up to 24 hours), NULL for an inactive key. "
    "status NotListed: a required key AWS does not list (no billed resource carried it).",
    (
        SNAPSHOT_DATE,
        Column("tag_key", "VARCHAR", not_null=True),
        Column("tag_type", "VARCHAR", "UserDefined | AWSGenerated"),
        Column("status", "VARCHAR", "Active | Inactive | NotListed", not_null=True),
        Column("last_updated_date", "TIMESTAMPTZ", "last activation or deactivation"),
        Column("last_used_date", "TIMESTAMPTZ", "last month a resource carried the key"),
        Column("active_from", "DATE"),
        Column("is_required", "BOOLEAN", not_null=True),
        FETCHED_AT,
    ),
    ("snapshot_date", "tag_key"),
    asset="ce_cost_allocation_tags",
    blocking=True,  # marts.tag_compliance_summary joins the snapshot on tag_key
)
# FOCUS 1.0 columns keep the specification's names, so FOCUS users' queries run as written; the
# project's own columns are snake_case. Amounts keep 12 decimals: exports price requests at 1e-10 USD,
# and rounding each row to the micro-dollar moved a total of the FinOps Foundation sample across a cent
# (0.005 + 0.000000003 is 0.01, not 0.00).
FOCUS_MONEY = "DECIMAL(28, 12)"
FOCUS_COST = Table(
    "raw.focus_cost",
    "AWS Data Exports (FOCUS 1.0) rows as exported, every provider kept (the marts read ProviderName "
    "'AWS' only); a file's rows are replaced when the export rewrites it.",
    (
        Column("billing_period", "VARCHAR", "YYYY-MM of BillingPeriodStart", not_null=True),
        Column("source_file", "VARCHAR", "the file the row came from (raw.focus_files)", not_null=True),
        Column("row_id", "VARCHAR", "the file's Id column, else <row number in the file>", not_null=True),
        Column("ProviderName", "VARCHAR", not_null=True),
        Column("BillingAccountId", "VARCHAR"),
        Column("SubAccountId", "VARCHAR", "AWS: the linked account", not_null=True),
        Column("SubAccountName", "VARCHAR"),
        Column("BillingPeriodStart", "TIMESTAMP", "UTC", not_null=True),
        Column("BillingPeriodEnd", "TIMESTAMP", "UTC, exclusive"),
        Column("ChargePeriodStart", "TIMESTAMP", "UTC", not_null=True),
        Column("ChargePeriodEnd", "TIMESTAMP", "UTC, exclusive", not_null=True),
        Column("ChargeCategory", "VARCHAR", "Usage | Purchase | Tax | Credit | Adjustment", not_null=True),
        Column("ChargeClass", "VARCHAR", "Correction for a fix of an earlier period, else NULL"),
        Column("ChargeFrequency", "VARCHAR", "One-Time | Recurring | Usage-Based"),
        Column("ChargeDescription", "VARCHAR"),
        Column(
            "BilledCost", FOCUS_MONEY, "what the invoice charges (Cost Explorer unblended)", not_null=True
        ),
        Column(
            "EffectiveCost", FOCUS_MONEY, "commitments amortised (Cost Explorer amortized)", not_null=True
        ),
        Column("ListCost", FOCUS_MONEY),
        Column("ContractedCost", FOCUS_MONEY),
        Column("BillingCurrency", "VARCHAR", not_null=True),
        Column("ServiceName", "VARCHAR", "AWS: Cost Explorer's SERVICE name", not_null=True),
        Column("ServiceCategory", "VARCHAR"),
        Column("RegionId", "VARCHAR"),
        Column("AvailabilityZone", "VARCHAR"),
        Column("ResourceId", "VARCHAR", "the resource grain Cost Explorer lacks (NULL: not a resource)"),
        Column("ResourceName", "VARCHAR"),
        Column("ResourceType", "VARCHAR"),
        Column("Tags", "JSON", "JSON object of the row's tags (NULL: none)"),
        Column("PricingCategory", "VARCHAR"),
        Column("CommitmentDiscountId", "VARCHAR"),
        Column("CommitmentDiscountType", "VARCHAR"),
        Column("ConsumedQuantity", "DOUBLE"),
        Column("ConsumedUnit", "VARCHAR"),
        Column("SkuId", "VARCHAR"),
        Column("x_ServiceCode", "VARCHAR", "AWS extension column"),
        Column("x_UsageType", "VARCHAR", "AWS extension column"),
        Column("x_Operation", "VARCHAR", "AWS extension column"),
        Column("ingested_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("billing_period", "source_file", "row_id"),
    asset="focus_cost",
    blocking=True,  # the FOCUS marts and the reconcile check sum it
    freshness="max(ChargePeriodEnd)::DATE",
    optional_source=("focus_export", "uri"),  # FOCUS_EXPORT_URI
)
FOCUS_FILES = Table(
    "raw.focus_files",
    "Every data file of the FOCUS export the last run saw, its fingerprint, and how it was read: the "
    "manifest of what changed, and the labelled status of a file refused (its earlier rows are kept).",
    (
        Column("source_file", "VARCHAR", not_null=True),
        Column(
            "billing_period",
            "VARCHAR",
            "its focus_cost partition: YYYY-MM of its BILLING_PERIOD= folder, else of its rows' first "
            "BillingPeriodStart, else 'unknown'",
            not_null=True,
        ),
        Column("fingerprint", "VARCHAR", "S3 ETag, or size and mtime of a local file", not_null=True),
        Column("bytes", "BIGINT", not_null=True),
        Column(
            "status",
            "VARCHAR",
            "ok | missing_columns | malformed | unreadable (rows of an earlier good read kept)",
            not_null=True,
        ),
        Column("detail", "VARCHAR", "what is missing or malformed, with row numbers"),
        Column("rows", "BIGINT", "rows loaded from it (NULL: refused)"),
        Column("read_at", "TIMESTAMPTZ", "the run that read it last", not_null=True),
        Column("last_ok_at", "TIMESTAMPTZ", "the last read that loaded it (NULL: never)"),
    ),
    ("source_file",),
    asset="focus_cost",
)
RAW_TABLES = (
    AWS_ACCOUNTS,
    CALLER_SCOPE,
    *COST_TABLES,
    TAGGED_RESOURCES,
    SCAN_STATUS,
    CE_ANOMALIES,
    CE_RECOMMENDATIONS,
    *EC2_TABLES,
    CE_FORECASTS,
    AWS_BUDGETS,
    CE_COST_ALLOCATION_TAGS,
    *INVENTORY_TABLES,
    FOCUS_COST,
    FOCUS_FILES,
)

# The fan-outs whose per-target outcome raw.scan_status records (finops_pipeline/lib/fan_out.py).
SCANS = (
    Scan("tagged_resources", "tagging", "the tag scan"),
    # each account's Organizations ListTagsForResource (a failed one leaves its tags NULL)
    Scan("aws_accounts", "organizations:account_tags", "ListTagsForResource (account tags)"),
    Scan("ec2_inventory", "ec2", "the EC2 describe calls"),
    *INVENTORY_SCANS,
    ACTIVITY_SCAN,
    PROVISIONED_CONCURRENCY_SCAN,
    Scan("commitment_inventory", "commitments", "the Savings Plans and reservation inventories"),
)
