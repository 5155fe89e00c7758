"""Asset checks on the raw tables: reconciliation with Cost Explorer, coverage, scan health.

Key and freshness checks come from the table registry (finops_pipeline/defs/tables).
"""

from decimal import Decimal
from typing import Any

import dagster as dg

from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.clock import first_of_month_months_ago, utc_now
from finops_pipeline.config_resources import CostWindowResource
from finops_pipeline.defs.ingest.cost_explorer_api import month_total
from finops_pipeline.lib.caller_scope import PARTIAL_FIX, anomaly_coverage
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, scalar

MONTH_TOTAL_SQL = """
SELECT coalesce(sum(unblended_cost), 0) FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ?
"""
MONTH_DAYS_SQL = """
SELECT count(DISTINCT usage_date) FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ?
"""
LATEST_SCOPE_SQL = """
SELECT role, partial, caller_account_id, management_account_id, description, billing_view_arn
FROM raw.caller_scope ORDER BY detected_at DESC LIMIT 1
"""
COVERAGE_SQL = """
SELECT (SELECT count(*) FROM raw.aws_accounts),
       (SELECT count(DISTINCT account_id) FROM raw.ce_cost_daily),
       (SELECT list(account_id ORDER BY account_id) FROM raw.aws_accounts
        WHERE account_id NOT IN (SELECT DISTINCT account_id FROM raw.ce_cost_daily))
"""
MISSING_SHOWN = 20


def latest_scope(conn: Any) -> dict[str, Any] | None:
    """The newest raw.caller_scope row (aws_accounts writes one per run), or None before any."""
    row = conn.execute(LATEST_SCOPE_SQL).fetchone()
    keys = (
        "role",
        "partial",
        "caller_account_id",
        "management_account_id",
        "description",
        "billing_view_arn",
    )
    return None if row is None else dict(zip(keys, row, strict=True))


@dg.asset_check(
    asset="ce_cost_daily",
    name="last_month_matches_cost_explorer",
    description="Last full month's unblended total equals Cost Explorer's own total to the cent.",
)
def last_month_matches_cost_explorer(
    context: dg.AssetCheckExecutionContext,
    aws: AwsResource,
    warehouse: WarehouseResource,
    cost_window: CostWindowResource,
) -> dg.AssetCheckResult:
    end = first_of_month_months_ago(utc_now().date(), 0)
    start = first_of_month_months_ago(end, 1)
    if start < cost_window.start_date:
        return dg.AssetCheckResult(
            passed=True, metadata={"skipped": "last month is before FINOPS_START_DATE"}
        )
    with warehouse.connect() as conn:
        days_loaded = scalar(conn, MONTH_DAYS_SQL, (start, end))
    if days_loaded < (end - start).days:
        # A partial load cannot match; say so without paying for a Cost Explorer request.
        return dg.AssetCheckResult(
            passed=True,
            metadata={
                "skipped": f"last month is not fully loaded ({days_loaded} of {(end - start).days} days)"
            },
        )
    with aws.tracked() as calls:
        expected = month_total(aws.client("ce"), start, end)
    with warehouse.connect() as conn:
        actual = scalar(conn, MONTH_TOTAL_SQL, (start, end))
        scope = latest_scope(conn)
        record_api_calls(conn, context.run.run_id, "ce_cost_daily:last_month_matches_cost_explorer", calls)
    difference = Decimal(actual) - expected
    # Both sides come from the same Cost Explorer: for a member caller they agree on a partial bill.
    partial = bool(scope and scope["partial"])
    return dg.AssetCheckResult(
        passed=abs(difference) < Decimal("0.01") and not partial,
        metadata={
            "month": start.isoformat()[:7],
            "warehouse_usd": float(actual),
            "cost_explorer_usd": float(expected),
            "difference_usd": float(difference),
            "caller_role": scope["role"] if scope else "not recorded",
            "partial_bill": partial,
            **({"why": f"{scope['description']}. Fix: {PARTIAL_FIX}"} if partial and scope else {}),
            **call_metadata(calls),
        },
    )


@dg.asset_check(
    asset="ce_cost_daily",
    name="cost_explorer_covers_the_organization",
    description="Cost Explorer was read by the management account (or through a billing view), so its "
    "totals cover every account Organizations lists; a member account sees only its own costs.",
    additional_deps=["aws_accounts"],
)
def cost_explorer_covers_the_organization(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        scope = latest_scope(conn)
        org_accounts, ce_accounts, missing = conn.execute(COVERAGE_SQL).fetchone()
    missing = list(missing or [])
    metadata: dict[str, Any] = {
        "caller_role": scope["role"] if scope else "not recorded",
        "caller_account_id": scope["caller_account_id"] if scope else "",
        "management_account_id": (scope or {}).get("management_account_id") or "",
        "organization_accounts": int(org_accounts),
        "cost_explorer_accounts": int(ce_accounts),
        "accounts_missing_from_cost_explorer": len(missing),
        "missing_accounts": ", ".join(missing[:MISSING_SHOWN])
        + (" ..." if len(missing) > MISSING_SHOWN else ""),
    }
    if scope is None or scope["role"] == "unknown":
        metadata["why"] = "the caller's role is not recorded: materialize aws_accounts in the same run"
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
    if scope["partial"]:
        metadata["why"] = f"{scope['description']}. Fix: {PARTIAL_FIX}"
    return dg.AssetCheckResult(passed=not scope["partial"], metadata=metadata)


@dg.asset_check(
    asset="ce_anomalies",
    name="anomalies_cover_the_organization",
    description="Anomalies were read by the management account, whose monitors watch every account; a "
    "member account (delegated administrator included) reads only its own monitors and anomalies.",
    additional_deps=["aws_accounts"],
)
def anomalies_cover_the_organization(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        passed, metadata = anomaly_coverage(latest_scope(conn))
    return dg.AssetCheckResult(passed=passed, metadata=metadata)
