"""Checks on ``budget_status`` (warn when actual or forecast spend crosses a budget or threshold) and on
``ce_cost_forecast`` (warn when Cost Explorer gave no forecast, so budget_status fell back to the run rate).
"""

import dagster as dg

from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource

ALERTS_SQL = """
SELECT month, scope, coalesce(account_name, account_id, 'organisation'), month_to_date_usd, forecast_usd,
       limit_usd, limit_source, last_day_usd, daily_threshold_usd, status
FROM marts.budget_status
WHERE month_state <> 'closed'   -- last month's final figures are history, shown in its report
  AND (status IN ('over_budget', 'forecast_over_budget', 'over_daily_threshold')
       OR (daily_threshold_usd IS NOT NULL AND last_day_usd >= daily_threshold_usd))
ORDER BY status, scope DESC, forecast_usd DESC
"""


@dg.asset_check(
    asset="budget_status",
    name="spend_within_budgets",
    description="Warns when month-to-date or forecast spend crosses a budget or COST_MONTHLY_WARNING, "
    "or yesterday's spend crosses COST_DAILY_WARNING.",
)
def spend_within_budgets(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        rows = conn.execute(ALERTS_SQL).fetchall()
    table = md_table(
        ("month", "scope", "account", "MTD USD", "forecast USD", "limit USD", "limit", "status"),
        ((r[0], r[1], r[2], usd(r[3]), usd(r[4]), usd(r[5]), r[6], r[9]) for r in rows),
        limit=30,
    )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "over_budget": sum(r[9] == "over_budget" for r in rows),
            "forecast_over_budget": sum(r[9] == "forecast_over_budget" for r in rows),
            "over_daily_threshold": sum(r[7] is not None and r[8] is not None and r[7] >= r[8] for r in rows),
            "alerts": dg.MetadataValue.md(table),
        },
    )


FORECAST_SQL = "SELECT status, detail, last_ok_at FROM raw.scan_status WHERE source = 'ce_forecast'"


@dg.asset_check(
    asset="ce_cost_forecast",
    name="forecast_available",
    description="Cost Explorer answered with a forecast; warns when it had too little history "
    "(DataUnavailableException), when budget_status forecasts on the run rate alone.",
)
def forecast_available(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        rows = conn.execute(FORECAST_SQL).fetchall()
    status, detail, last_ok = rows[0] if rows else ("ok", "", None)
    return dg.AssetCheckResult(
        passed=status == "ok",
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "forecast_status": status,
            "detail": detail or "",
            "last_forecast_at": str(last_ok) if last_ok else "never",
        },
    )
