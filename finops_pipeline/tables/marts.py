"""The ``marts`` layer (SQL over the raw tables) and ``meta`` (what the pipeline itself did)."""

from finops_pipeline.tables.model import Column, Table
from finops_pipeline.tables.raw import ACCOUNT_ID, MONEY, REGION, RESOURCE_ARN, SERVICE, SNAPSHOT_DATE, TAGS

TAG_COMPLIANCE_RESOURCES = Table(
    "marts.tag_compliance_resources",
    "One row per resource seen by the Tagging API or EC2 describe calls, on the latest snapshot_date.",
    (
        SNAPSHOT_DATE,
        RESOURCE_ARN,
        ACCOUNT_ID,
        REGION,
        SERVICE,
        Column("resource_type", "VARCHAR", not_null=True),
        Column("resource_id", "VARCHAR"),
        Column("found_by", "VARCHAR", "tagging_api | ec2_describe | both", not_null=True),
        TAGS,
        Column("missing_keys", "VARCHAR[]", not_null=True),
        Column("invalid_values", 'STRUCT("key" VARCHAR, "value" VARCHAR, reason VARCHAR)[]', not_null=True),
        Column("case_variant_keys", "VARCHAR[]", not_null=True),
        Column("keys_satisfied", "INTEGER", not_null=True),
        Column("is_exempt", "BOOLEAN", not_null=True),
        Column("scan_failures", "VARCHAR", "failed scans of this account × region, NULL when all answered"),
        Column("compliance_status", "VARCHAR", "compliant | non_compliant | exempt | unknown", not_null=True),
        Column("compliant", "BOOLEAN", "NULL when exempt or unknown"),
        Column(
            "stale_since",
            "TIMESTAMPTZ",
            "no source saw it on the last scan: kept from the last good one",
            added=True,
        ),
    ),
    ("resource_arn",),
    asset="tag_compliance_resources",
    blocking=True,  # marts.tag_compliance_summary counts its rows
)
# Coverage of the tag and EC2 scans (raw.scan_status): an account × region is complete (every scan
# answered), stale (a scan failed, its last good rows are kept) or missing (failed, never answered).
# Accounts and regions: complete when all their targets are, missing when all are missing, else stale.
# Overall row only for accounts_* and regions_*.
SCAN_COVERAGE = tuple(
    Column(f"{unit}_{state}", "BIGINT", added=True)
    for unit in ("targets", "accounts", "regions")
    for state in ("complete", "stale", "missing")
)
TAG_COMPLIANCE_SUMMARY = Table(
    "marts.tag_compliance_summary",
    "Tag compliance by resources and by spend, one row set per snapshot_date and dimension "
    "(overall | account | service | resource_type | tag_key).",
    (
        SNAPSHOT_DATE,
        Column("dimension", "VARCHAR", not_null=True),
        Column("dimension_value", "VARCHAR", not_null=True),
        *(
            Column(f"resources_{kind}", "BIGINT", not_null=True)
            for kind in ("total", "exempt", "unknown", "evaluated", "compliant")
        ),
        Column(
            "compliance_pct", "DOUBLE", "compliant / evaluated × 100 (tag_key: resources satisfying that key)"
        ),
        Column("key_coverage_pct", "DOUBLE", "satisfied (resource, required key) pairs / all pairs × 100"),
        Column("scans_failed", "BIGINT", not_null=True),
        Column("status", "VARCHAR", "complete | partial | unknown", not_null=True),
        Column("spend_window_start", "DATE"),
        Column("spend_window_end", "DATE", "exclusive"),
        Column("spend_usd", MONEY, "unblended cost in the window (overall, account, tag_key rows)"),
        Column(
            "spend_tagged_usd", MONEY, "with a non-empty value of the key (overall/account: mean over keys)"
        ),
        Column("spend_coverage_pct", "DOUBLE"),
        Column(
            "resources_stale",
            "BIGINT",
            "kept from an earlier scan (counted in resources_unknown)",
            added=True,
        ),
        *SCAN_COVERAGE,
        Column(
            "spend_unknown_usd",
            MONEY,
            "spend of days a key was not an active cost allocation tag: unknown, not untagged",
            added=True,
        ),
        Column("spend_coverage_status", "VARCHAR", added=True),
        Column("keys_not_active", "VARCHAR[]", added=True),
    ),
    ("snapshot_date", "dimension", "dimension_value"),
    asset="tag_compliance_summary",
)
RECOMMENDATIONS = Table(
    "marts.recommendations",
    "Every way to save, one snapshot: Cost Explorer's purchases and rightsizing, and inventory waste.",
    (
        SNAPSHOT_DATE,
        Column("recommendation_id", "VARCHAR", not_null=True),
        Column("account_id", "VARCHAR"),
        Column("region", "VARCHAR"),
        Column("resource_id", "VARCHAR"),
        Column("resource_arn", "VARCHAR"),
        Column(
            "kind",
            "VARCHAR",
            "reserved_instances | savings_plans | rightsizing | unattached_ebs_volume | "
            "unassociated_elastic_ip | stopped_instance | old_snapshot",
            not_null=True,
        ),
        Column(
            "action",
            "VARCHAR",
            "what to do, e.g. snapshot_and_terminate_instance (stopped 14 days or more) | "
            "review_stopped_instance (stop time unknown)",
            not_null=True,
        ),
        Column("detail", "VARCHAR"),
        Column("estimated_monthly_savings_usd", MONEY),
        Column("estimation_method", "VARCHAR", not_null=True),
        Column("source", "VARCHAR", "cost_explorer | ec2_inventory", not_null=True),
        Column("first_seen_date", "DATE", not_null=True),
        Column(
            "stale_since", "TIMESTAMPTZ", "inventory kept from the last good scan (else NULL)", added=True
        ),
    ),
    ("snapshot_date", "recommendation_id"),
    asset="recommendations",
    blocking=True,  # the mart must never hold an id twice (issue #13, item 2): reports built on it wait
)
BUDGET_STATUS = Table(
    "marts.budget_status",
    "This month's spend against budgets and thresholds, per account and overall, with Cost Explorer's "
    "forecast (organisation) and a per-account forecast derived from it, the organisation's forecast for "
    "next month, and last month's final actual against its limits.",
    (
        Column("month", "DATE", "first day of the month", not_null=True),
        Column(
            "month_state",
            "VARCHAR",
            "closed (last month: actual) | current (forecast) | next",
            not_null=True,
            added=True,
        ),
        Column("scope", "VARCHAR", "organisation | account | budget (any other scope)", not_null=True),
        Column("account_id", "VARCHAR", "NULL for the organisation"),
        Column("account_name", "VARCHAR"),
        Column("month_to_date_usd", "DOUBLE", "unblended, complete days before the as-of day"),
        Column("days_elapsed", "INTEGER"),
        Column("days_in_month", "INTEGER", not_null=True),
        Column("forecast_usd", "DOUBLE", "month-end total"),
        Column(
            "forecast_lower_usd", "DOUBLE", "Cost Explorer's 80% prediction interval (scaled per account)"
        ),
        Column("forecast_upper_usd", "DOUBLE"),
        Column(
            "forecast_method",
            "VARCHAR",
            "cost_explorer | run_rate_scaled_to_cost_explorer | run_rate | actual | aws_budgets | "
            "run_rate_forecast_<status>: Cost Explorer gave no forecast (e.g. data_unavailable)",
            not_null=True,
        ),
        Column("limit_usd", "DOUBLE", "the budget or threshold this row is held to"),
        Column("limit_source", "VARCHAR", "aws_budget:<name> | COST_MONTHLY_WARNING"),
        Column("actual_pct_of_limit", "DOUBLE"),
        Column("forecast_pct_of_limit", "DOUBLE"),
        Column("last_day", "DATE", "last complete day"),
        Column("last_day_usd", "DOUBLE"),
        Column("daily_threshold_usd", "DOUBLE", "COST_DAILY_WARNING (organisation)"),
        Column("budget_name", "VARCHAR", "scope budget: the budget", added=True),
        Column("scope_detail", "VARCHAR", "scope budget: what it covers, in words", added=True),
        Column(
            "status",
            "VARCHAR",
            "over_budget | forecast_over_budget | over_daily_threshold | ok | no_budget | forecast_only",
            not_null=True,
        ),
        Column("as_of", "DATE", not_null=True),
        Column("computed_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("month", "scope", "account_id", "budget_name"),
    asset="budget_status",
    created_by_asset=True,
)
COST_ANOMALIES = Table(
    "marts.cost_anomalies",
    "One row per anomalous event, ours (source 'finops_pipeline') and AWS's (source 'aws', from "
    "raw.ce_anomalies), at three grains; matched when the other source has an overlapping event on the same "
    "account / service.",
    (
        Column("event_id", "VARCHAR", not_null=True),
        Column("source", "VARCHAR", "finops_pipeline | aws", not_null=True),
        Column("grain", "VARCHAR", "account_service | account | organisation", not_null=True),
        Column("account_id", "VARCHAR", "NULL for the organisation"),
        Column("account_name", "VARCHAR"),
        Column("service", "VARCHAR", "NULL unless grain = account_service"),
        Column("start_date", "DATE", not_null=True),
        Column("end_date", "DATE", "inclusive; the last data day while the event is open", not_null=True),
        Column("days", "INTEGER", not_null=True),
        Column("detected_date", "DATE", "first day the event met every threshold"),
        Column("is_open", "BOOLEAN", "still going on the last data day", not_null=True),
        Column("direction", "VARCHAR", "increase | decrease", not_null=True),
        Column("kind", "VARCHAR", "spike | level_shift | new_series | drop | aws", not_null=True),
        Column("actual_usd", "DOUBLE", "unblended cost over the event", not_null=True),
        Column("expected_usd", "DOUBLE", not_null=True),
        Column("impact_usd", "DOUBLE", "actual - expected", not_null=True),
        Column("impact_pct", "DOUBLE", "impact / expected × 100"),
        Column("score", "DOUBLE", "ours: peak robust z; AWS: MaxScore (0-1)"),
        Column("severity", "VARCHAR", "low | medium | high (by |impact|)", not_null=True),
        Column("top_driver_dimension", "VARCHAR", "region | usage_type | service | account"),
        Column("top_driver_value", "VARCHAR"),
        Column("top_driver_impact_usd", "DOUBLE", "change of that driver over the event vs its baseline"),
        Column("top_driver_share", "DOUBLE", "of the event's impact"),
        Column("drivers", "JSON", "top drivers: [{dimension, value, change_usd, share}]"),
        Column("matched", "BOOLEAN", "the other source saw it too", not_null=True),
        Column("matched_event_ids", "VARCHAR[]"),
        Column("first_seen_at", "TIMESTAMPTZ", not_null=True),
        Column("computed_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("event_id",),
    asset="cost_anomalies",
    created_by_asset=True,
)
API_CALL_LOG = Table(
    "meta.api_call_log",
    "AWS requests per run and asset (every asset that calls AWS writes its own rows).",
    (
        Column("run_id", "VARCHAR", not_null=True),
        Column("asset_key", "VARCHAR", not_null=True),
        Column("service", "VARCHAR", not_null=True),
        Column("operation", "VARCHAR", not_null=True),
        Column("calls", "BIGINT", "HTTP requests, retries included", not_null=True),
        Column("pages", "BIGINT", "successful answers", not_null=True),
        Column("estimated_cost_usd", "DECIMAL(18, 2)", not_null=True),
        Column("recorded_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("run_id", "asset_key", "service", "operation"),
)
WAREHOUSE_TARGET = Table(
    "meta.warehouse_target",
    "Which AWS the warehouse's data comes from (lib/run_target.py): claimed by the first run that calls "
    "AWS; a run against another target refuses before writing.",
    (
        Column(
            "target",
            "VARCHAR",
            "aws:<account> | sandbox:<account> | endpoint:<host>:<account>",
            not_null=True,
        ),
        Column("endpoint", "VARCHAR", "the STS endpoint the claiming run used", not_null=True),
        Column("account_id", "VARCHAR", "the caller account", not_null=True),
        Column("first_run_id", "VARCHAR", not_null=True),
        Column("claimed_at", "TIMESTAMPTZ", not_null=True),
    ),
    ("target",),
)
MART_TABLES = (
    TAG_COMPLIANCE_RESOURCES,
    TAG_COMPLIANCE_SUMMARY,
    RECOMMENDATIONS,
    BUDGET_STATUS,
    COST_ANOMALIES,
)
META_TABLES = (API_CALL_LOG, WAREHOUSE_TARGET)
# The contract's grain (run_id, service, operation); the log keeps which asset made the calls.
VIEWS_SQL = """
CREATE OR REPLACE VIEW meta.api_calls AS
SELECT run_id, service, operation,
       sum(calls) AS calls, sum(pages) AS pages, sum(estimated_cost_usd) AS estimated_cost_usd,
       max(recorded_at) AS recorded_at
FROM meta.api_call_log
GROUP BY ALL;
"""
