"""What the HTML and the PDF report draw and print, computed once: formatted figures, chart series.

Both formats show the same KPI cards, the same cost trend with the same anomaly markers, the same top
lists and the same savings split (RI and Savings Plans apart, as alternatives); only the drawing differs.
Values come back as plain text; each writer makes them safe for its own format (HTML escaping, PDF
plain text).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from finops_pipeline.lib.reporting.columns import kind_label
from finops_pipeline.lib.reporting.datasets import Dataset, savings_by_kind
from finops_pipeline.lib.savings import PURCHASE_KINDS, total_monthly_savings

MAX_BARS = 10  # bars per chart: the largest, the rest summed in the last


def money(value: Any) -> str:
    if value is None:
        return "–"
    number = float(value)
    sign = "-" if number < 0 else ""
    return f"{sign}${abs(number):,.2f}"


def short_money(value: float) -> str:
    number = abs(value)
    sign = "-" if value < 0 else ""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= div:
            return f"{sign}${number / div:,.1f}{suffix}"
    return f"{sign}${number:,.0f}"


def pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.1f}%"


def sentence(text: str) -> str:
    """``text`` as a sentence: its first letter capitalised (month names keep theirs), a full stop."""
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def display(value: Any, kind: str) -> tuple[str, bool]:
    """(text, is numeric) of one table cell; text is unescaped: the writer escapes it for its format."""
    if value is None:
        return "", False
    if kind == "currency":
        return money(value), True
    if kind == "percent":
        return pct(value), True
    if kind == "integer" and isinstance(value, int | float):
        return f"{value:,.0f}", True
    if kind == "number" and isinstance(value, int | float):
        return ("" if not math.isfinite(value) else f"{value:,.2f}"), True
    if kind == "bool" and isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, dt.date):
        return value.isoformat(), False
    return str(value), False


def kpi_items(totals: dict[str, Any]) -> list[tuple[str, str]]:
    """The six headline figures (label, formatted value) of the HTML and the PDF report's KPI cards."""
    change = totals.get("change_vs_previous_pct")
    return [
        ("Total unblended cost", money(totals.get("total_unblended_usd"))),
        ("vs comparison period", "–" if change is None else f"{change:+,.1f}%"),
        ("High-severity anomalies", f"{totals.get('anomalies_high_severity', 0):,}"),
        ("Savings per month", money(totals.get("monthly_savings_usd"))),
        ("Resources compliant", pct(totals.get("compliance_pct"))),
        ("Spend with required tags", pct(totals.get("spend_coverage_pct"))),
    ]


def column(dataset: Dataset, name: str) -> list[Any]:
    return dataset.table.column(name).to_pylist() if name in dataset.table.column_names else []


def trend_series(day: Dataset, anomalies: Dataset) -> tuple[list[tuple[dt.date, float]], list[dt.date]]:
    """Daily unblended cost, and the days high-severity anomalies start (the ones worth a look)."""
    points = list(
        zip(column(day, "usage_date"), [float(v or 0) for v in column(day, "unblended_usd")], strict=True)
    )
    starts = [
        d
        for d, s in zip(column(anomalies, "start_date"), column(anomalies, "severity"), strict=True)
        if s == "high" and d is not None
    ]
    return points, starts


def top_services(services: Dataset) -> list[tuple[str, float]]:
    """The most expensive services (the dataset arrives sorted by cost)."""
    return [
        (str(name), float(usd or 0))
        for name, usd in zip(column(services, "service"), column(services, "unblended_usd"), strict=True)
    ][:MAX_BARS]


def top_accounts(accounts: Dataset) -> list[tuple[str, float]]:
    """The most expensive accounts, by name where the organisation gives one, else by id."""
    names = [
        n or i for n, i in zip(column(accounts, "account_name"), column(accounts, "account_id"), strict=True)
    ]
    return [(str(n), float(v or 0)) for n, v in zip(names, column(accounts, "unblended_usd"), strict=True)][
        :MAX_BARS
    ]


def savings_split(recs: Dataset) -> tuple[list[tuple[str, float]], list[tuple[str, float]], float]:
    """(other kinds, the commitment offers, the total counting the larger offer once).

    The RI and Savings Plans offers would cover the same usage: they are alternatives, drawn apart
    from the additive kinds, never summed with each other.
    """
    per_kind = savings_by_kind(recs)
    others = [(kind_label(k), v) for k, v in per_kind.items() if k not in PURCHASE_KINDS]
    if len(others) > MAX_BARS:
        rest = others[MAX_BARS - 1 :]
        others = [*others[: MAX_BARS - 1], (f"{len(rest)} other kinds", sum(v for _, v in rest))]
    choices = [(kind_label(k), v) for k, v in per_kind.items() if k in PURCHASE_KINDS]
    return others, choices, total_monthly_savings(per_kind)
