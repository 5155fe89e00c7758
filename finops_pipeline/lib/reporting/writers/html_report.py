"""HTML: one self-contained file (inline CSS and SVG, no script, no network) of at most 2 MB.

Charts are SVG drawn here: cost trend with anomaly markers, top services, top accounts, top movers,
tag compliance beside spend coverage, anomalies and savings. Every value from the warehouse is
HTML-escaped, and a Content-Security-Policy forbids any network fetch or script even if one slipped in.
"""

# ruff: noqa: E501  (CSS and SVG markup read better unwrapped)

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from finops_pipeline.lib.reporting.chart_data import (
    column,
    display,
    kpi_items,
    money,
    pct,
    savings_split,
    sentence,
    short_money,
    top_accounts,
    top_services,
    trend_series,
)
from finops_pipeline.lib.reporting.columns import Shown
from finops_pipeline.lib.reporting.datasets import Dataset

MAX_HTML_BYTES = 2 * 1024 * 1024
MAX_CELL_CHARS = 80  # a readable cell; the files keep the whole value
HALF_WIDTH_COLUMNS = 5  # a table of at most this many columns sits beside another
TABLE_ROW_STEPS = (25, 10, 5, 0)  # at most this many rows per table (VIEWS say fewer), until it fits

TREND = "#2563eb"
TREND_FILL = "#bfdbfe"
SERVICES = "#0d9488"
ACCOUNTS = "#7c3aed"
MOVER_UP = "#dc2626"
MOVER_DOWN = "#16a34a"
COMPLIANCE = "#f59e0b"
COVERAGE = "#0891b2"
ANOMALY = "#db2777"
SAVINGS = "#65a30d"
SAVINGS_ALTERNATIVE = "#a3c46b"  # the lighter green of offers that exclude each other
CHART_COLORS = {
    "cost_trend": TREND_FILL,
    "top_services": SERVICES,
    "top_accounts": ACCOUNTS,
    "top_movers": MOVER_UP,
    "tag_compliance": COMPLIANCE,
    "spend_coverage": COVERAGE,
    "anomalies": ANOMALY,
    "savings": SAVINGS,
}

CSS = """
*{box-sizing:border-box}body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;
background:#f5f7fb;color:#1f2937;font-size:14px}header{background:#1f3864;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}main{padding:18px 28px}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:18px}
.kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.kpi .v{font-size:20px;font-weight:600}.kpi .l{color:#6b7280;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}.card{background:#fff;border-radius:8px;padding:14px;
box-shadow:0 1px 2px rgba(0,0,0,.08);overflow:hidden}.wide{grid-column:1/3}.card h2{font-size:15px;margin:0 0 8px}
.note{color:#92400e;background:#fffbeb;border-radius:6px;padding:6px 10px;font-size:12px;margin:6px 0}
.empty{color:#6b7280;padding:40px 0;text-align:center}svg{display:block;width:100%;height:auto}
svg text{font-size:11px;fill:#374151}table{border-collapse:collapse;width:100%;font-size:12px}
th{background:#1f3864;color:#fff;text-align:left;padding:5px 6px;position:sticky;top:0}
td{padding:4px 6px;border-bottom:1px solid #e5e7eb;max-width:320px;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums}.tables{margin-top:16px}.tables .card{overflow-x:auto}
.alt{color:#4b5563;font-size:12px;margin:8px 0 2px}.caption{color:#6b7280}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}footer{color:#6b7280;padding:12px 28px}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"


def _clip(text: Any, limit: int = 42) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _t(text: Any, limit: int = 42) -> str:
    return escape(_clip(text, limit), quote=True)


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{body}</svg>'
    )


def _empty(note: str) -> str:
    return f'<div class="empty">No data{": " + escape(note) if note else ""}</div>'


def line_chart(
    points: Sequence[tuple[dt.date, float]],
    markers: Sequence[dt.date],
    label: str,
    width: int = 1100,
    axis: Callable[[float], str] = short_money,
) -> str:
    height, left, right, top, bottom = 260, 70, 16, 12, 34
    if not points:
        return ""
    values = [v for _, v in points]
    high = max(max(values), 0.0) or 1.0
    low = min(min(values), 0.0)
    span = (high - low) or 1.0
    n = len(points)
    inner_w, inner_h = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top + inner_h * (1 - (v - low) / span)

    parts = []
    for k in range(5):
        v = low + span * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{escape(axis(v))}</text>'
        )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    base = y(max(low, 0.0))
    area = f"{x(0):.1f},{base:.1f} {line} {x(n - 1):.1f},{base:.1f}"
    parts.append(f'<polygon points="{area}" fill="{TREND_FILL}"/>')
    parts.append(f'<polyline points="{line}" fill="none" stroke="{TREND}" stroke-width="2.5"/>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle">{points[i][0].isoformat()}</text>'
        )
    index = {d: i for i, (d, _) in enumerate(points)}
    for day in sorted(set(markers)):
        if day in index:
            i = index[day]
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(points[i][1]):.1f}" r="6" fill="{ANOMALY}"/>')
    return _svg(width, height, "".join(parts), label)


def hbar_chart(
    items: Sequence[tuple[str, float]],
    color: str | Callable[[float], str],
    label: str,
    fmt: Callable[[float], str] = short_money,
    width: int = 540,
) -> str:
    if not items:
        return ""
    row_h, left, right, top = 24, 190, 80, 6
    height = top * 2 + row_h * len(items)
    values = [v for _, v in items]
    high = max(max(values), 0.0)
    low = min(min(values), 0.0)
    span = (high - low) or 1.0
    inner = width - left - right
    zero = left + inner * (-low / span)
    parts = []
    for i, (name, value) in enumerate(items):
        y = top + i * row_h
        x0 = zero if value >= 0 else zero - inner * (-value / span)
        w = inner * abs(value) / span
        fill = color(value) if callable(color) else color
        parts.append(
            f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{_t(name, 30)}</text>'
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(w, 1.0):.1f}" height="{row_h - 7}" fill="{fill}"/>'
            f'<text x="{max(x0 + w, zero) + 4:.1f}" y="{y + 16}">{escape(fmt(value))}</text>'
        )
    parts.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" stroke="#9ca3af"/>')
    return _svg(width, height, "".join(parts), label)


def grouped_pct_chart(
    items: Sequence[tuple[str, float | None, float | None]],
    label: str,
    width: int = 540,
    legend: tuple[str, str] = ("resources compliant", "spend with the tag"),
) -> str:
    if not items:
        return ""
    row_h, left, right, top = 34, 150, 60, 6
    height = top * 2 + row_h * len(items) + 18
    inner = width - left - right
    parts = []
    for i, (name, first, second) in enumerate(items):
        y = top + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 20}" text-anchor="end">{_t(name, 24)}</text>')
        for j, (value, color) in enumerate(((first, COMPLIANCE), (second, COVERAGE))):
            if value is None:
                continue
            w = inner * max(0.0, min(float(value), 100.0)) / 100
            yy = y + 3 + j * 14
            parts.append(
                f'<rect x="{left}" y="{yy}" width="{max(w, 1.0):.1f}" height="12" fill="{color}"/>'
                f'<text x="{left + w + 4:.1f}" y="{yy + 10}">{escape(pct(value))}</text>'
            )
    ly = height - 8
    parts.append(
        f'<rect x="{left}" y="{ly - 9}" width="10" height="10" fill="{COMPLIANCE}"/>'
        f'<text x="{left + 14}" y="{ly}">{escape(legend[0])}</text>'
        f'<rect x="{left + 150}" y="{ly - 9}" width="10" height="10" fill="{COVERAGE}"/>'
        f'<text x="{left + 164}" y="{ly}">{escape(legend[1])}</text>'
    )
    return _svg(width, height, "".join(parts), label)


Chart = tuple[str, str, str, bool]  # (key, title, svg or empty-note html, wide)


def _bar_card(
    key: str,
    title: str,
    label: str,
    items: Sequence[tuple[str, float]],
    color: str | Callable[[float], str],
    dataset: Dataset,
) -> Chart:
    """A half-width bar chart card, or the dataset's note when there is nothing to draw."""
    return (key, title, hbar_chart(items, color, label) or _empty(dataset.note), False)


def charts(by: dict[str, Dataset]) -> list[Chart]:
    """(key, title, svg or empty-note html, wide), in the order the report lays the cards out."""
    return [
        _trend_card(by["cost_by_day"], by["anomalies"]),
        _services_card(by["cost_by_service"]),
        _accounts_card(by["cost_by_account"]),
        _movers_card(by["top_movers"]),
        _compliance_card(by["compliance_summary"]),
        _anomalies_card(by["anomalies"]),
        _savings_card(by["recommendations"]),
        *_commitment_cards(by["commitments"], by["commitment_expiries"]),
    ]


def _trend_card(day: Dataset, anomalies: Dataset) -> Chart:
    """The full-width daily cost line, marked where high-severity anomalies start."""
    points, starts = trend_series(day, anomalies)
    return (
        "cost_trend",
        "Cost trend (daily unblended; ● high-severity anomaly starts)",
        line_chart(points, starts, "Daily unblended cost") or _empty(day.note),
        True,
    )


def _services_card(services: Dataset) -> Chart:
    """The ten most expensive services."""
    items = top_services(services)
    return _bar_card("top_services", "Top services", "Top services", items, SERVICES, services)


def _accounts_card(accounts: Dataset) -> Chart:
    """The ten most expensive accounts, by name."""
    items = top_accounts(accounts)
    return _bar_card("top_accounts", "Top accounts", "Top accounts", items, ACCOUNTS, accounts)


def _movers_card(movers: Dataset) -> Chart:
    """The ten largest account·service changes; bars coloured by direction so a drop is not read as a rise."""
    mover_items = [
        (f"{n or a} · {s}", float(c))
        for a, n, s, c in zip(
            column(movers, "account_id"),
            column(movers, "account_name"),
            column(movers, "service"),
            column(movers, "change_usd"),
            strict=True,
        )
    ][:10]
    return _bar_card(
        "top_movers",
        "Top movers vs the previous period",
        "Top movers",
        mover_items,
        lambda v: MOVER_UP if v >= 0 else MOVER_DOWN,
        movers,
    )


def _compliance_card(compliance: Dataset) -> Chart:
    """Per-tag-key (and overall) compliance beside spend coverage: a key can be rare yet cover most spend."""
    keyed = [
        (
            r["dimension_value"] if r["dimension"] == "tag_key" else "All keys",
            r.get("compliance_pct"),
            r.get("spend_coverage_pct"),
        )
        for r in compliance.table.to_pylist()
        if r.get("dimension") in ("overall", "tag_key")
    ]
    return (
        "tag_compliance",
        "Tag compliance and spend coverage",
        grouped_pct_chart(keyed, "Tag compliance and spend coverage") or _empty(compliance.note),
        False,
    )


def _anomalies_card(anomalies: Dataset) -> Chart:
    """The ten largest anomalies by impact, labelled with start date, account (or org) and service."""
    top_anomalies = [
        (
            f"{r.get('start_date')} {r.get('account_name') or r.get('account_id') or 'org'} · {r.get('service') or ''}",
            float(r.get("impact_usd") or 0),
        )
        for r in anomalies.table.slice(0, 10).to_pylist()
    ]
    return _bar_card(
        "anomalies", "Largest anomalies (impact)", "Anomalies", top_anomalies, ANOMALY, anomalies
    )


def _savings_card(recs: Dataset) -> Chart:
    """Monthly savings per kind; the RI and Savings Plans offers drawn apart, as the alternatives they are.

    They sit in their own "choose one" group, in a lighter colour, and the total counts the larger once.
    """
    others, choices, total = savings_split(recs)
    if not others and not choices:
        return ("savings", "Estimated savings per month", _empty(recs.note), False)
    parts = [hbar_chart(others, SAVINGS, "Savings by kind")] if others else []
    if choices:
        parts.append(
            '<p class="alt">Commitment purchase — <b>choose one</b>: both offers cover the same usage</p>'
            + hbar_chart(choices, SAVINGS_ALTERNATIVE, "Commitment offers (alternatives)")
        )
    parts.append(
        f'<p class="alt">Total counted once (the larger offer only): <b>{escape(money(total))}</b></p>'
    )
    return ("savings", "Estimated savings per month, by kind", "".join(parts), False)


def _commitment_cards(kpis: Dataset, expiries: Dataset) -> list[Chart]:
    """Savings Plans coverage by day (the trend to watch before buying), each type's latest utilization
    beside its coverage, and the hourly commitment ending in the 90 days after the period."""
    rows = kpis.table.to_pylist()
    sp = [
        (r["usage_date"], float(r["coverage_pct"] or 0))
        for r in rows
        if r["commitment_type"].startswith("Savings")
    ]
    trend = line_chart(sp, [], "Savings Plans coverage", axis=lambda v: f"{v:.0f}%")
    latest: dict[str, tuple[str, float | None, float | None]] = {}
    for r in rows:  # rows arrive by day: the last one of each type wins
        latest[r["commitment_type"]] = (r["commitment_type"], r["utilization_pct"], r["coverage_pct"])
    ending: dict[str, float] = {}
    for r in expiries.table.to_pylist():
        key = f"{r['end_date']} {r['account_name'] or r['account_id']} · {r['commitment_type']}"
        ending[key] = ending.get(key, 0.0) + float(r["hourly_commitment_usd"] or 0)
    return [
        ("commitment_trend", "Savings Plans coverage (daily %)", trend or _empty(kpis.note), True),
        (
            "commitments",
            "Utilization and coverage (last day, %)",
            grouped_pct_chart(
                list(latest.values()),
                "Commitment utilization and coverage",
                legend=("utilization", "coverage"),
            )
            or _empty(kpis.note),
            False,
        ),
        _bar_card(
            "expiries", "Ending within 90 days ($/hour)", "Expiries", list(ending.items()), SAVINGS, expiries
        ),
    ]


def _cell(value: Any, kind: str) -> tuple[str, bool]:
    text, numeric = display(value, kind)
    return (text if numeric else escape(_clip(text, MAX_CELL_CHARS), quote=True)), numeric


def table_html(dataset: Dataset, max_rows: int) -> str:
    """The dataset's readable view (:data:`columns.VIEWS`): labelled columns, its first rows, a caption
    saying how many rows and columns the full files hold, and any value the view adjusted."""
    view: Shown = dataset.shown(max_rows)
    kinds = dataset.kinds
    head = "".join(f"<th>{escape(text)}</th>" for text in view.labels)
    body = []
    for row in view.rows:
        cells = []
        for name in view.columns:
            text, numeric = _cell(row[name], kinds.get(name, "text"))
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    notes = [dataset.note, *view.notes] if dataset.note else view.notes
    note = "".join(f'<div class="note">{escape(n)}</div>' for n in notes)
    table = (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" if view.rows else ""
    )
    wide = " wide" if len(view.columns) > HALF_WIDTH_COLUMNS else ""
    return (
        f'<div class="card{wide}" id="{escape(dataset.name)}"><h2>{escape(dataset.title)}</h2>'
        f'<p>{escape(dataset.spec.description)} <span class="caption">{escape(view.caption)}.</span></p>'
        f"{note}{table}</div>"
    )


def kpis(totals: dict[str, Any]) -> str:
    return (
        '<section class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="v">{escape(v)}</div><div class="l">{escape(k)}</div></div>'
            for k, v in kpi_items(totals)
        )
        + "</section>"
    )


def render(report: dict[str, Any], totals: dict[str, Any], datasets: list[Dataset], table_rows: int) -> str:
    by = {d.name: d for d in datasets}
    chart_html = "".join(
        f'<div class="card{" wide" if wide else ""}" id="chart-{key}"><h2>{escape(title)}</h2>{svg}</div>'
        for key, title, svg, wide in charts(by)
    )
    tables = "".join(table_html(d, table_rows) for d in datasets)
    title = f"FinOps report · {report['period_span']}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>{escape(report['period_description'])} · generated "
        f"{escape(report['generated_at'])} · {escape(str(totals.get('accounts', 0)))} accounts · "
        f"{escape(str(totals.get('estimated_days', 0)))} day(s) still estimated by AWS</p>"
        f"<p>{escape(sentence(str(totals.get('comparison', ''))))}</p>"
        + (f'<p class="note">{escape(report["period_note"])}.</p>' if report.get("period_note") else "")
        + (
            f'<p class="note caveat">{escape(totals["coverage_caveat"])}.</p>'
            if totals.get("coverage_caveat")
            else ""
        )
        + (
            f'<p class="note caveat">{escape(totals["spend_coverage_caveat"])}.</p>'
            if totals.get("spend_coverage_caveat")
            else ""
        )
        + "</header>"
        f'<main>{kpis(totals)}<section class="grid">{chart_html}</section>'
        f'<section class="grid tables">{tables}</section></main>'
        "<footer>finops-pipeline · figures in USD · Cost Explorer restates recent days; re-run to refresh.</footer>"
        "</body></html>"
    )


def render_within_limit(
    report: dict[str, Any], totals: dict[str, Any], datasets: list[Dataset]
) -> tuple[bytes, int]:
    """The page and the table rows it shows: fewer rows until it fits in MAX_HTML_BYTES."""
    for rows in TABLE_ROW_STEPS:
        page = render(report, totals, datasets, rows).encode()
        if len(page) <= MAX_HTML_BYTES:
            return page, rows
    raise ValueError(f"the HTML report is {len(page):,} bytes even without tables (limit {MAX_HTML_BYTES:,})")
