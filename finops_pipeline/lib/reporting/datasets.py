"""The report's datasets: SQL in ``reporting/sql``, read from the marts when built, else from raw tables.

Each dataset says how to present every column (``kind``), which mart it prefers and what it falls back
to while that mart is not built (another engineer's asset may not have run yet): a query over the raw
tables, or an empty dataset with a note saying why.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from finops_pipeline.lib.reporting.columns import Shown, shown
from finops_pipeline.lib.reporting.periods import Period
from finops_pipeline.lib.savings import total_monthly_savings

SQL_DIR = resources.files("finops_pipeline.lib.reporting").joinpath("sql")
PARAM_RE = re.compile(r"\$([a-z_]+)")
TOP_MOVERS_LIMIT = 50
WORST_OFFENDERS_LIMIT = 1000
ANOMALIES_LIMIT = 5000
RECOMMENDATIONS_LIMIT = 5000
FOCUS_COVERAGE_LIMIT = 5000  # the resource rows can be many: the most untagged first

# Presentation kinds: text, date, currency (USD), percent (0-100), integer, number, bool, json (text).
KINDS = ("text", "date", "currency", "percent", "integer", "number", "bool", "json", "datetime")


def sql_text(name: str) -> str:
    return SQL_DIR.joinpath(f"{name}.sql").read_text()


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    description: str
    sql: str
    columns: dict[str, str]
    mart: str | None = None  # preferred source; used when it exists and has rows
    fallback_sql: str | None = None  # used otherwise; None: an empty dataset with a note
    limit: int | None = None
    tag_columns: bool = False  # add one "tag:<key>" column per required key, from the tags JSON
    empty_note: str = ""  # said when the mart has rows but none for this period


@dataclass
class Dataset:
    spec: DatasetSpec
    table: pa.Table
    source: str  # the table(s) read
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def kinds(self) -> dict[str, str]:
        return {name: self.spec.columns.get(name, "text") for name in self.table.column_names}

    @property
    def rows(self) -> int:
        return self.table.num_rows

    def shown(self, max_rows: int | None = None) -> Shown:
        """What the HTML and PDF show of this dataset (:data:`columns.VIEWS`)."""
        return shown(self.name, self.table, max_rows)


_COST = {"unblended_usd": "currency", "amortized_usd": "currency", "net_unblended_usd": "currency"}

SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "cost_by_day",
        "Cost by day",
        "Unblended, amortized and net unblended cost per UTC day (recent days are estimates).",
        "cost_by_day",
        {"usage_date": "date", **_COST, "is_estimated": "bool"},
    ),
    DatasetSpec(
        "cost_by_service",
        "Cost by service",
        "Cost per AWS service over the period, with its share of the total.",
        "cost_by_service",
        {"service": "text", **_COST, "share_pct": "percent", "accounts": "integer"},
    ),
    DatasetSpec(
        "cost_by_account",
        "Cost by account",
        "Cost per linked account over the period, with its share of the total.",
        "cost_by_account",
        {
            "account_id": "text",
            "account_name": "text",
            "ou_path": "text",
            **_COST,
            "share_pct": "percent",
            "services": "integer",
        },
    ),
    DatasetSpec(
        "top_movers",
        "Top movers",
        "Account × service with the largest change against the comparison period (like for like).",
        "top_movers",
        {
            "account_id": "text",
            "account_name": "text",
            "service": "text",
            "previous_usd": "currency",
            "current_usd": "currency",
            "change_usd": "currency",
            "change_pct": "percent",
        },
        limit=TOP_MOVERS_LIMIT,
    ),
    DatasetSpec(
        "compliance_summary",
        "Tag compliance",
        "Tag compliance by resources and spend coverage: overall, per required key, account, service, type.",
        "compliance_summary",
        {
            "snapshot_date": "date",
            "dimension": "text",
            "dimension_value": "text",
            "account_name": "text",
            "resources_total": "integer",
            "resources_evaluated": "integer",
            "resources_compliant": "integer",
            "resources_exempt": "integer",
            "resources_unknown": "integer",
            "compliance_pct": "percent",
            "key_coverage_pct": "percent",
            "spend_usd": "currency",
            "spend_tagged_usd": "currency",
            "spend_coverage_pct": "percent",
            "spend_unknown_usd": "currency",
            "spend_coverage_status": "text",
            "keys_not_active": "text",
            "status": "text",
        },
        mart="marts.tag_compliance_summary",
        fallback_sql="compliance_summary_raw",
    ),
    DatasetSpec(
        "worst_offenders",
        "Worst tag offenders",
        "Non-compliant resources, fewest required keys first: what is missing or invalid.",
        "worst_offenders",
        {
            "account_id": "text",
            "account_name": "text",
            "region": "text",
            "service": "text",
            "resource_type": "text",
            "resource_id": "text",
            "resource_arn": "text",
            "found_by": "text",
            "missing_keys": "text",
            "invalid_values": "text",
            "case_variant_keys": "text",
            "keys_satisfied": "integer",
            "tags": "json",
        },
        mart="marts.tag_compliance_resources",
        fallback_sql="worst_offenders_raw",
        limit=WORST_OFFENDERS_LIMIT,
        tag_columns=True,
    ),
    DatasetSpec(
        "anomalies",
        "Cost anomalies",
        "Abnormal cost changes overlapping the period, in dollars, with their top driver.",
        "anomalies",
        {
            "start_date": "date",
            "end_date": "date",
            "days": "integer",
            "source": "text",
            "grain": "text",
            "account_id": "text",
            "account_name": "text",
            "service": "text",
            "kind": "text",
            "direction": "text",
            "severity": "text",
            "actual_usd": "currency",
            "expected_usd": "currency",
            "impact_usd": "currency",
            "impact_pct": "percent",
            "score": "number",
            "top_driver_dimension": "text",
            "top_driver_value": "text",
            "top_driver_impact_usd": "currency",
            "is_open": "bool",
            "matched": "bool",
            "event_id": "text",
        },
        mart="marts.cost_anomalies",
        fallback_sql="anomalies_raw",
        limit=ANOMALIES_LIMIT,
    ),
    DatasetSpec(
        "recommendations",
        "Savings recommendations",
        "What to buy, resize or delete, with the estimated monthly saving in dollars.",
        "recommendations",
        {
            "kind": "text",
            "action": "text",
            "account_id": "text",
            "account_name": "text",
            "region": "text",
            "resource_id": "text",
            "detail": "text",
            "monthly_savings_usd": "currency",
            "estimation_method": "text",
            "source": "text",
            "first_seen_date": "date",
            "snapshot_date": "date",
            "recommendation_id": "text",
        },
        mart="marts.recommendations",
        fallback_sql="recommendations_raw",
        limit=RECOMMENDATIONS_LIMIT,
    ),
    DatasetSpec(
        "budget_status",
        "Budgets",
        "The report's months against budgets and thresholds, per account and overall: a closed month's "
        "actual, the current month's spend to date and its forecast to month end.",
        "budget_status",
        {
            "month": "date",
            "month_state": "text",
            "scope": "text",
            "account_id": "text",
            "account_name": "text",
            "budget_name": "text",
            "scope_detail": "text",
            "month_to_date_usd": "currency",
            "forecast_usd": "currency",
            "limit_usd": "currency",
            "limit_source": "text",
            "actual_pct_of_limit": "percent",
            "forecast_pct_of_limit": "percent",
            "forecast_method": "text",
            "status": "text",
            "as_of": "date",
        },
        mart="marts.budget_status",
        empty_note="No budget figures for these months: marts.budget_status keeps last month (final), "
        "this month and next month only.",
    ),
    DatasetSpec(
        "commitments",
        "Commitments",
        "Savings Plans and RIs, organisation-wide: utilization, coverage, savings and effective savings "
        "rate per day and commitment type (README, Commitments, for the formulas).",
        "commitments",
        {
            "usage_date": "date",
            "commitment_type": "text",
            "commitment_usd": "currency",
            "used_usd": "currency",
            "unused_usd": "currency",
            "utilization_pct": "percent",
            "coverage_pct": "percent",
            "on_demand_equivalent_usd": "currency",
            "eligible_on_demand_usd": "currency",
            "net_savings_usd": "currency",
            "effective_savings_rate_pct": "percent",
            "expiring_30d": "integer",
            "expiring_60d": "integer",
            "expiring_90d": "integer",
            "expiring_30d_hourly_usd": "currency",
            "expiring_90d_hourly_usd": "currency",
        },
        mart="marts.commitment_kpis",
        empty_note="No commitment figures for these days.",
    ),
    DatasetSpec(
        "commitment_expiries",
        "Commitment expiries",
        "Active Savings Plans and reservations whose term ends within 90 days after the period.",
        "commitment_expiries",
        {
            "end_date": "date",
            "days_left": "integer",
            "commitment_type": "text",
            "account_id": "text",
            "account_name": "text",
            "region": "text",
            "commitment_id": "text",
            "instance_type": "text",
            "instance_count": "integer",
            "hourly_commitment_usd": "currency",
            "stale": "bool",
        },
        mart="raw.commitment_inventory",
        empty_note="No commitment ends within 90 days after the period.",
    ),
    DatasetSpec(
        "focus_spend_coverage",
        "Spend coverage (FOCUS)",
        "From the AWS Data Export (FOCUS): cost per service, resource type and resource, and the share whose "
        "tags meet the tag policy; the resource grain Cost Explorer does not give.",
        "focus_spend_coverage",
        {
            "billing_period": "text",
            "dimension": "text",
            "dimension_value": "text",
            "resources": "integer",
            "effective_cost_usd": "currency",
            "tagged_cost_usd": "currency",
            "untagged_cost_usd": "currency",
            "coverage_pct": "percent",
        },
        mart="marts.focus_spend_coverage",
        limit=FOCUS_COVERAGE_LIMIT,
        empty_note="No FOCUS billing period overlaps these days.",
    ),
    DatasetSpec(
        "focus_showback",
        "Showback (FOCUS)",
        "From the AWS Data Export (FOCUS): cost per value of the showback tag key (SHOWBACK_TAG_KEY); "
        "untagged resource cost and shared cost (tax, support, fees, credits) are rows of their own.",
        "focus_showback",
        {
            "billing_period": "text",
            "tag_key": "text",
            "allocation": "text",
            "tag_value": "text",
            "effective_cost_usd": "currency",
            "billed_cost_usd": "currency",
            "resources": "integer",
            "share_pct": "percent",
        },
        mart="marts.focus_showback",
        empty_note="No FOCUS billing period overlaps these days.",
    ),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}

_ARROW_TYPES = {
    "text": pa.string(),
    "json": pa.string(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "currency": pa.float64(),
    "percent": pa.float64(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "bool": pa.bool_(),
}


def empty_table(spec: DatasetSpec) -> pa.Table:
    return pa.table({name: pa.array([], _ARROW_TYPES[kind]) for name, kind in spec.columns.items()})


def table_rows(conn: duckdb.DuckDBPyConnection, qualified: str) -> int | None:
    """Rows of ``schema.table``, or None when it does not exist (an asset that has not run yet)."""
    schema, table = qualified.split(".", 1)
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, table]
    ).fetchall()[0][0]
    if not exists:
        return None
    return conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()[0][0]


def run_sql(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pa.Table:
    used = {name: params[name] for name in dict.fromkeys(PARAM_RE.findall(sql))}
    return conn.sql(sql, params=used).to_arrow_table()


# Presentation precision: the warehouse's micro-dollars, and percentages to 1/10,000 of a point, so
# no float noise (-100.00000000000001) reaches a file while sums still reconcile to the cent.
DECIMALS = {"currency": 6, "percent": 4, "number": 4}


def _normalise(table: pa.Table, spec: DatasetSpec) -> pa.Table:
    """Decimals to float64, JSON to text, numbers rounded for presentation: what every writer expects."""
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        if pa.types.is_floating(column.type) and spec.columns.get(name) in DECIMALS:
            column = pc.round(column, DECIMALS[spec.columns[name]])
        elif pa.types.is_large_string(column.type) or (
            spec.columns.get(name) in ("text", "json") and not pa.types.is_string(column.type)
        ):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def with_tag_columns(table: pa.Table, required_keys: tuple[str, ...]) -> pa.Table:
    """One ``tag:<key>`` column per required key with the resource's value (None when absent)."""
    if "tags" not in table.column_names:
        return table
    parsed = []
    for text in table.column("tags").to_pylist():
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {}
        parsed.append(value if isinstance(value, dict) else {})
    for key in required_keys:
        values = [tags.get(key) for tags in parsed]
        column = pa.array([None if v is None else str(v) for v in values], pa.string())
        table = table.add_column(table.column_names.index("tags"), f"tag:{key}", column)
    return table


def load_dataset(
    conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, period: Period, required_keys: tuple[str, ...]
) -> Dataset:
    dataset = _load_dataset(conn, spec, period, required_keys)
    if spec.tag_columns:
        dataset.table = with_tag_columns(dataset.table, required_keys)
    return dataset


def _load_dataset(
    conn: duckdb.DuckDBPyConnection, spec: DatasetSpec, period: Period, required_keys: tuple[str, ...]
) -> Dataset:
    params: dict[str, Any] = {
        "start": period.start,
        "end": period.end,
        "prev_start": period.previous.start,
        "prev_end": period.previous.end,
        "required_keys": list(required_keys),
        "limit": spec.limit or 1_000_000,
    }
    if spec.mart is None:
        return Dataset(spec, _normalise(run_sql(conn, sql_text(spec.sql), params), spec), "raw")
    rows = table_rows(conn, spec.mart)
    if rows:
        table = _normalise(run_sql(conn, sql_text(spec.sql), params), spec)
        return Dataset(spec, table, spec.mart, note="" if table.num_rows else spec.empty_note)
    why = f"{spec.mart} {'does not exist yet' if rows is None else 'is empty'} (its asset has not run)"
    if spec.fallback_sql is None:
        return Dataset(spec, empty_table(spec), "none", note=f"No data: {why}.")
    table = _normalise(run_sql(conn, sql_text(spec.fallback_sql), params), spec)
    return Dataset(spec, table, "raw", note=f"Computed from the raw tables because {why}.")


def load_datasets(
    conn: duckdb.DuckDBPyConnection, period: Period, required_keys: tuple[str, ...]
) -> list[Dataset]:
    return [load_dataset(conn, spec, period, required_keys) for spec in SPECS]


def _sum(dataset: Dataset, column: str, where: Any = None) -> float:
    if column not in dataset.table.column_names:
        return 0.0
    values = dataset.table.column(column).to_pylist()
    if where is not None:
        values = [v for v, keep in zip(values, where, strict=True) if keep]
    return float(sum(v for v in values if v is not None))


def totals(datasets: list[Dataset], period: Period, previous_total: float | None = None) -> dict[str, Any]:
    """The figures people watch: in the asset's metadata, the Summary sheet and the e-mail."""
    by = {d.name: d for d in datasets}
    day = by["cost_by_day"]
    services = by["cost_by_service"].table
    accounts = by["cost_by_account"].table
    compliance = by["compliance_summary"].table
    overall = [row for row in compliance.to_pylist() if row.get("dimension") == "overall"]
    anomalies = by["anomalies"].table
    severities = anomalies.column("severity").to_pylist() if anomalies.num_rows else []
    budgets = by["budget_status"].table
    statuses = budgets.column("status").to_pylist() if budgets.num_rows else []
    estimated = day.table.column("is_estimated").to_pylist() if day.rows else []
    return {
        "period_start": period.start.isoformat(),
        "period_end_exclusive": period.end.isoformat(),
        "period_label": period.label,
        "days": period.days,
        "period_note": period.note,
        "comparison": period.describe_comparison(),
        "comparison_start": period.previous.start.isoformat(),
        "comparison_end_exclusive": period.previous.end.isoformat(),
        "days_with_data": day.rows,
        "estimated_days": sum(1 for v in estimated if v),
        "total_unblended_usd": round(_sum(day, "unblended_usd"), 2),
        "total_amortized_usd": round(_sum(day, "amortized_usd"), 2),
        "total_net_unblended_usd": round(_sum(day, "net_unblended_usd"), 2),
        "previous_period_unblended_usd": previous_total,
        "change_vs_previous_pct": (
            round((_sum(day, "unblended_usd") - previous_total) * 100 / abs(previous_total), 2)
            if previous_total
            else None
        ),
        "services": services.num_rows,
        "accounts": accounts.num_rows,
        "top_service": services.column("service")[0].as_py() if services.num_rows else None,
        "top_account": (
            accounts.column("account_name")[0].as_py() or accounts.column("account_id")[0].as_py()
            if accounts.num_rows
            else None
        ),
        "compliance_pct": _round(overall[0].get("compliance_pct")) if overall else None,
        "spend_coverage_pct": _round(overall[0].get("spend_coverage_pct")) if overall else None,
        "non_compliant_resources": by["worst_offenders"].rows,
        "anomalies": anomalies.num_rows,
        "anomalies_high_severity": sum(1 for s in severities if s == "high"),
        "anomaly_impact_usd": round(_sum(by["anomalies"], "impact_usd"), 2),
        "recommendations": by["recommendations"].rows,
        "monthly_savings_usd": round(monthly_savings(by["recommendations"]), 2),
        "budgets_over": sum(1 for s in statuses if s in ("over_budget", "forecast_over_budget")),
    }


def savings_by_kind(recommendations: Dataset) -> dict[str, float]:
    """Monthly savings summed per recommendation kind, largest first (RI and SP are alternatives)."""
    if "kind" not in recommendations.table.column_names:
        return {}
    kinds = [k or "other" for k in recommendations.table.column("kind").to_pylist()]
    by_kind = {
        kind: _sum(recommendations, "monthly_savings_usd", [k == kind for k in kinds]) for kind in set(kinds)
    }
    return dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0])))


def monthly_savings(recommendations: Dataset) -> float:
    """All savings, counting RI or Savings Plans purchases once: both offers cover the same usage."""
    if "kind" not in recommendations.table.column_names:
        return _sum(recommendations, "monthly_savings_usd")
    return total_monthly_savings(savings_by_kind(recommendations))


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def previous_total(conn: duckdb.DuckDBPyConnection, period: Period) -> float:
    """The comparison period's unblended total (:attr:`Period.previous`: like for like)."""
    prev = period.previous
    value = conn.execute(
        "SELECT CAST(coalesce(sum(unblended_cost), 0) AS DOUBLE) FROM raw.ce_cost_daily "
        "WHERE usage_date >= ? AND usage_date < ?",
        [prev.start, prev.end],
    ).fetchall()[0][0]
    return round(float(value), 2)


COVERAGE_SQL = """
SELECT accounts_complete, accounts_stale, accounts_missing, regions_complete, regions_stale, regions_missing,
    resources_unknown, resources_stale
FROM marts.tag_compliance_summary
WHERE dimension = 'overall' AND snapshot_date = (SELECT max(snapshot_date) FROM marts.tag_compliance_summary)
"""


SPEND_UNKNOWN_SQL = """
SELECT spend_coverage_status, keys_not_active, CAST(spend_unknown_usd AS DOUBLE)
FROM marts.tag_compliance_summary
WHERE dimension = 'overall' AND snapshot_date = (SELECT max(snapshot_date) FROM marts.tag_compliance_summary)
"""


def spend_coverage_caveat(conn: duckdb.DuckDBPyConnection) -> str | None:
    """One line naming the required keys whose spend coverage is unknown (inactive cost allocation tags).

    Cost Explorer puts all of an inactive key's spend in ``Key$``: a report must not show that as
    untagged, so the coverage figure leaves it out and this line says what was left out and why.
    """
    try:
        row = conn.execute(SPEND_UNKNOWN_SQL).fetchone()
    except duckdb.Error:  # a warehouse from before these columns
        return None
    if row is None or row[0] in (None, "known"):
        return None
    keys = ", ".join(row[1] or [])
    return (
        f"Spend coverage excludes ${row[2] or 0:,.2f} of spend whose tag grouping is unknown: {keys} "
        "not an active cost allocation tag for (part of) the window, so Cost Explorer shows none of its "
        "values (see finops doctor for the fix)"
    )


def coverage_caveat(conn: duckdb.DuckDBPyConnection) -> str | None:
    """One line saying how much of the organisation the resource figures cover, or None when all of it.

    A denied account or a region not enabled keeps its last good rows (stale) or has none (missing); the
    compliance and waste figures are then not the whole picture, and every format says so.
    """
    try:
        row = conn.execute(COVERAGE_SQL).fetchone()
    except duckdb.Error:  # a warehouse from before the coverage columns: nothing to say
        return None
    if row is None or row[0] is None:
        return None
    ac, ast, am, rc, rst, rm, unknown, stale = (int(v or 0) for v in row)
    if ast == am == rst == rm == 0:
        return None
    return (
        f"Scan coverage not complete: accounts {ac} complete, {ast} stale, {am} missing; "
        f"regions {rc} complete, {rst} stale, {rm} missing; {unknown} resources unknown "
        f"({stale} kept stale from the last good scan). Compliance is over the evaluated resources only; "
        "waste from stale rows is kept and labelled stale"
    )
