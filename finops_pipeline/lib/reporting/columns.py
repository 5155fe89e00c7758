"""How readers see the datasets: one human title per column, and what each summary view shows.

The column *names* are the machine contract (CSV headers, Parquet and JSON fields, SQL); the *labels*
here are what a person reads in the HTML, the PDF and the Excel header rows. The views say which columns
and how many rows the HTML and the PDF show of each dataset: enough to act on, while the full data stays
in the CSV, Excel and Parquet files (both formats say how much more the files hold).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

TAG_PREFIX = "tag:"

LABELS: dict[str, str] = {
    # dates and periods
    "usage_date": "Day",
    "snapshot_date": "Snapshot",
    "start_date": "Start",
    "end_date": "End",
    "days": "Days",
    "month": "Month",
    "month_state": "Month state",
    "as_of": "As of",
    "first_seen_date": "First seen",
    "is_estimated": "Estimated",
    # cost
    "unblended_usd": "Unblended cost",
    "amortized_usd": "Amortized cost",
    "net_unblended_usd": "Net unblended cost",
    "share_pct": "Share of total",
    "previous_usd": "Previous period",
    "current_usd": "This period",
    "change_usd": "Change",
    "change_pct": "Change %",
    # who and what
    "account_id": "Account ID",
    "account_name": "Account",
    "ou_path": "Organizational unit",
    "service": "Service",
    "services": "Services",
    "accounts": "Accounts",
    "region": "Region",
    "resource_type": "Resource type",
    "resource_id": "Resource",
    "resource_arn": "Resource ARN",
    "found_by": "Found by",
    # tag compliance
    "dimension": "Breakdown",
    "dimension_value": "Value",
    "dimension_name": "Name",
    "resources_total": "Resources",
    "resources_evaluated": "Evaluated",
    "resources_compliant": "Compliant",
    "resources_exempt": "Exempt",
    "resources_unknown": "Unknown",
    "compliance_pct": "Resources compliant",
    "key_coverage_pct": "Keys present",
    "spend_usd": "Spend",
    "spend_tagged_usd": "Spend with tag",
    "spend_coverage_pct": "Spend coverage",
    "spend_unknown_usd": "Spend of unknown tagging",
    "spend_coverage_status": "Spend coverage status",
    "keys_not_active": "Keys not active for cost allocation",
    "status": "Status",
    "missing_keys": "Missing keys",
    "invalid_values": "Invalid values",
    "case_variant_keys": "Keys with a case variant",
    "keys_satisfied": "Keys satisfied",
    "tags": "Tags (JSON)",
    # anomalies
    "source": "Source",
    "grain": "Grain",
    "kind": "Kind",
    "direction": "Direction",
    "severity": "Severity",
    "actual_usd": "Actual",
    "expected_usd": "Expected",
    "impact_usd": "Impact",
    "impact_pct": "Impact %",
    "score": "Score",
    "top_driver_dimension": "Top driver (dimension)",
    "top_driver_value": "Top driver",
    "top_driver_impact_usd": "Top driver impact",
    "is_open": "Open",
    "matched": "Matched in AWS",
    "event_id": "Event ID",
    # recommendations
    "action": "Action",
    "detail": "Detail",
    "monthly_savings_usd": "Savings per month",
    "estimation_method": "Estimated by",
    "recommendation_id": "Recommendation ID",
    # budgets
    "scope": "Scope",
    "budget_name": "Budget",
    "scope_detail": "Scope detail",
    "month_to_date_usd": "Spend to date",
    "forecast_usd": "Forecast",
    "limit_usd": "Limit",
    "limit_source": "Limit from",
    "actual_pct_of_limit": "Actual % of limit",
    "forecast_pct_of_limit": "Forecast % of limit",
    "forecast_method": "Forecast by",
}


KIND_LABELS = {
    "reserved_instances": "Reserved Instances",
    "savings_plans": "Savings Plans",
}


def kind_label(kind: str) -> str:
    """A recommendation kind as a reader says it: ``savings_plans`` -> "Savings Plans"."""
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()


def label(column: str) -> str:
    """The human title of a column; ``tag:Owner`` reads "Tag Owner"; an unknown name is de-snaked."""
    if column.startswith(TAG_PREFIX):
        return f"Tag {column[len(TAG_PREFIX) :]}"
    return LABELS.get(column) or column.replace("_", " ").capitalize()


@dataclass(frozen=True)
class View:
    """The columns (in order) and the number of rows the HTML and PDF tables show of one dataset."""

    columns: tuple[str, ...]
    rows: int


VIEWS: dict[str, View] = {
    "cost_by_day": View(("usage_date", "unblended_usd", "amortized_usd", "is_estimated"), 10),
    "cost_by_service": View(("service", "unblended_usd", "share_pct", "accounts"), 10),
    "cost_by_account": View(("account_name", "account_id", "unblended_usd", "share_pct", "services"), 10),
    "top_movers": View(
        ("account_name", "service", "previous_usd", "current_usd", "change_usd", "change_pct"), 10
    ),
    "compliance_summary": View(
        (
            "dimension",
            "dimension_value",
            "account_name",
            "resources_total",
            "compliance_pct",
            "spend_coverage_pct",
        ),
        15,
    ),
    "worst_offenders": View(
        ("account_name", "region", "resource_type", "resource_id", "missing_keys", "invalid_values"),
        10,
    ),
    "anomalies": View(
        (
            "start_date",
            "account_name",
            "service",
            "severity",
            "actual_usd",
            "expected_usd",
            "impact_usd",
            "top_driver_value",
        ),
        10,
    ),
    "recommendations": View(
        ("kind", "action", "account_name", "region", "resource_id", "monthly_savings_usd"), 10
    ),
    "budget_status": View(
        (
            "month",
            "scope",
            "account_name",
            "budget_name",
            "month_to_date_usd",
            "forecast_usd",
            "limit_usd",
            "status",
        ),
        10,
    ),
    # The commitment and FOCUS datasets: the headline columns of the latest rows (the files hold them all).
    "commitments": View(
        ("usage_date", "commitment_type", "utilization_pct", "coverage_pct", "net_savings_usd"), 5
    ),
    "commitment_expiries": View(("end_date", "days_left", "commitment_type", "account_name"), 5),
    "focus_spend_coverage": View(("dimension", "dimension_value", "effective_cost_usd", "coverage_pct"), 5),
    "focus_showback": View(("allocation", "tag_value", "effective_cost_usd", "share_pct"), 5),
}


FLOOR_NOTE = (
    "{n} expected cost(s) below $0.00 shown as $0.00 and their impact as the actual cost: a usage cost "
    "cannot be expected negative (the anomaly detector's baseline dipped below zero; CSV, JSON and "
    "Parquet keep its values until the detector floors them)"
)


def floor_expected(table: pa.Table) -> tuple[pa.Table, int]:
    """Expected costs below zero as $0.00 (and the impact as actual − $0.00); how many were floored.

    A usage cost (actual ≥ 0) cannot be expected below zero: the anomaly detector's baseline can dip
    under it on a falling series (one RDS storage anomaly read ``expected −$0.91``, impact 1,249.7%).
    Until the detector floors it, the readable formats (HTML, PDF, Excel) do, and say so.
    """
    if not {"actual_usd", "expected_usd"} <= set(table.column_names):
        return table, 0
    actual, expected = table.column("actual_usd"), table.column("expected_usd")
    below = pc.fill_null(pc.and_(pc.greater_equal(actual, 0), pc.less(expected, 0)), False)
    floored = pc.sum(below).as_py() or 0
    if not floored:
        return table, 0
    index = table.column_names.index("expected_usd")
    table = table.set_column(index, "expected_usd", pc.if_else(below, 0.0, expected))
    if "impact_usd" in table.column_names:
        index = table.column_names.index("impact_usd")
        table = table.set_column(index, "impact_usd", pc.if_else(below, actual, table.column("impact_usd")))
    return table, floored


@dataclass(frozen=True)
class Shown:
    """What a readable view shows of one dataset: columns, their labels, rows, and what it left out."""

    columns: list[str]
    labels: list[str]
    rows: list[dict[str, Any]]
    rows_total: int
    columns_total: int
    notes: list[str]

    @property
    def caption(self) -> str:
        """ "10 of 1,000 rows, 6 of 14 columns: all of them in the CSV / Excel / Parquet files"."""
        if len(self.rows) == self.rows_total and len(self.columns) == self.columns_total:
            return f"{self.rows_total:,} rows"
        return (
            f"{len(self.rows):,} of {self.rows_total:,} rows, {len(self.columns)} of {self.columns_total} "
            "columns shown: all of them are in the CSV / Excel / Parquet files"
        )


def shown(name: str, table: pa.Table, max_rows: int | None = None) -> Shown:
    """The view of dataset ``name``: its :data:`VIEWS` columns present in ``table``, its first rows."""
    view = VIEWS.get(name, View(tuple(table.column_names), 10))
    columns = [c for c in view.columns if c in table.column_names]
    limit = view.rows if max_rows is None else min(view.rows, max_rows)
    head, floored = (
        floor_expected(table.slice(0, limit)) if name == "anomalies" else (table.slice(0, limit), 0)
    )
    rows = head.select(columns).to_pylist()
    notes = [FLOOR_NOTE.format(n=floored)] if floored else []
    return Shown(columns, [label(c) for c in columns], rows, table.num_rows, table.num_columns, notes)
