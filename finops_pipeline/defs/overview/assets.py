"""``cost_overview``: what a FinOps lead asks first, on one asset page of the Dagster UI.

The figures (``lib/overview.py``) are numeric metadata, so the UI plots them run after run; the lists are
``MetadataValue.table`` values, which the UI shows as tables, with account names beside ids. Names come
from the accounts' owners: the UI renders table cells as text, never as markup.
"""

from typing import Any

import dagster as dg

from finops_pipeline.clock import today_utc
from finops_pipeline.defs import layers
from finops_pipeline.lib.overview import Comparison, Overview, build_overview
from finops_pipeline.warehouse import WarehouseResource

# The marts it reads, and the raw tables no mart covers (daily cost, account names).
DEPS = ("tag_compliance_summary", "cost_anomalies", "recommendations", "ce_cost_daily", "aws_accounts")


def _usd(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _table(columns: list[tuple[str, str]], rows: list[tuple[Any, ...]]) -> dg.TableMetadataValue:
    """Rows as a Dagster table; dollar columns (``*_usd``) rounded to the cent."""
    records = [
        dg.TableRecord(
            {
                name: (_usd(v) if name.endswith("_usd") else v)
                for (name, _), v in zip(columns, row, strict=True)
            }
        )
        for row in rows
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])
    return dg.MetadataValue.table(records, schema=schema)


def comparison_metadata(prefix: str, c: Comparison) -> dict[str, Any]:
    """A period and its like-for-like comparison: totals, change, days and the dates they cover."""
    figures = {
        f"{prefix}_usd": _usd(c.current_usd),
        f"{prefix}_previous_usd": _usd(c.previous_usd),
        f"{prefix}_change_pct": _pct(c.change_pct),
        f"{prefix}_days": c.days,
        f"{prefix}_period": f"{c.start} .. {c.end} (excl.) vs {c.previous_start} .. {c.previous_end} (excl.)",
    }
    return {key: value for key, value in figures.items() if value is not None}


def _anomaly_counts(o: Overview) -> dict[str, Any]:
    """Open high-severity anomalies and their impact; unknown (null), not 0, before the mart's first build."""
    if "marts.cost_anomalies" in o.marts_not_built:
        return {"open_high_anomalies": None, "open_high_anomaly_impact_usd": None}
    return {
        "open_high_anomalies": len(o.open_high_anomalies),
        "open_high_anomaly_impact_usd": _usd(sum(row[4] for row in o.open_high_anomalies)),
    }


def overview_metadata(o: Overview) -> dict[str, Any]:
    money = [("account_id", "string"), ("account_name", "string"), ("service", "string")]
    anomalies = [("account", "string"), ("service", "string"), ("start_date", "string"), ("days", "int")]
    metadata: dict[str, Any] = {
        "as_of": o.today.isoformat(),
        **comparison_metadata("month_to_date", o.month_to_date),
        **comparison_metadata("last_month", o.last_month),
        **_anomaly_counts(o),
        "savings_available_monthly_usd": _usd(o.savings_monthly_usd),
        "marts_not_built": ", ".join(o.marts_not_built) or "none",
        "top_period": f"{o.last_month.start} .. {o.last_month.end} (excl.) vs the month before",
        "top_services": _table([("service", "string"), ("cost_usd", "float")], o.top_services),
        "top_accounts": _table([*money[:2], ("cost_usd", "float")], o.top_accounts),
        "top_movers": _table(
            [*money, ("previous_usd", "float"), ("current_usd", "float"), ("change_usd", "float")], o.movers
        ),
        "open_high_severity_anomalies": _table(
            [*anomalies, ("impact_usd", "float"), ("source", "string")],
            [(a, s, str(d), n, i, src) for a, s, d, n, i, src in o.open_high_anomalies],
        ),
    }
    if o.last_month.daily_change_pct is not None:
        metadata["last_month_daily_change_pct"] = _pct(o.last_month.daily_change_pct)
    if o.untagged_usd is not None:
        metadata["untagged_spend_usd"] = _usd(o.untagged_usd)
        metadata["spend_coverage_pct"] = _pct(o.spend_coverage_pct)
        start, end = o.untagged_window or (None, None)
        metadata["untagged_spend_period"] = f"{start} .. {end} (excl.)"
    return metadata


@dg.asset(
    group_name=layers.REPORTS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=list(DEPS),
    description="Month to date and last month vs like-for-like periods, top services, accounts and movers, "
    "untagged spend, open high-severity anomalies and savings available.",
)
def cost_overview(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        overview = build_overview(conn, today_utc())
    mtd = overview.month_to_date
    context.log.info(
        "cost_overview: month to date $%.2f over %d days (same days last month $%.2f)",
        mtd.current_usd,
        mtd.days,
        mtd.previous_usd,
    )
    return dg.MaterializeResult(metadata=overview_metadata(overview))
