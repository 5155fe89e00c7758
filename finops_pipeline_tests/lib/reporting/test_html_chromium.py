"""The HTML report: self-contained, under 2 MB, escaped, and charts that a real browser draws."""

import re
from html import escape
from pathlib import Path

import pyarrow as pa
import pytest

from finops_pipeline.lib.reporting.columns import VIEWS, label
from finops_pipeline.lib.reporting.datasets import SPEC_BY_NAME, Dataset, empty_table, totals
from finops_pipeline.lib.reporting.writers.html_report import (
    CHART_COLORS,
    MAX_HTML_BYTES,
    SAVINGS,
    SAVINGS_ALTERNATIVE,
    charts,
    render_within_limit,
)
from finops_pipeline_tests.lib.reporting.chromium import page_height, screenshot
from finops_pipeline_tests.lib.reporting.png import colour_counts
from finops_pipeline_tests.lib.reporting.synthetic import PERIOD, datasets
from finops_pipeline_tests.lib.reporting.test_writers import META

CHART_KEYS = [
    "cost_trend",
    "top_services",
    "top_accounts",
    "top_movers",
    "tag_compliance",
    "anomalies",
    "savings",
    "commitment_trend",
    "commitments",
    "expiries",
]


def _page(data: list[Dataset]) -> tuple[bytes, int]:
    return render_within_limit(META, totals(data, PERIOD, 900.0), data)


def test_page_is_self_contained_and_escaped() -> None:
    page, rows = _page(datasets())
    html = page.decode()
    assert rows == 25 and len(page) <= MAX_HTML_BYTES
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(|\bsrc=|href=", html, re.I)
    assert html.count("<svg") == 9  # trend, services, accounts, movers, compliance, anomalies, savings,
    # commitment coverage trend and utilization (the synthetic period has no expiry: its note, no chart)
    assert re.findall(r'id="chart-([a-z_]+)"', html) == CHART_KEYS
    assert "=HYPERLINK(&quot;http://evil.example" in html  # shown as text, escaped
    assert "<b&" not in html
    # the comparison, in words and dates (synthetic period: October 2026)
    assert (
        "<p>Compared with September 2026, the calendar month before (2026-09-01 to 2026-09-30).</p>" in html
    )


def test_bar_charts_draw_the_top_rows_in_order() -> None:
    by = {d.name: d for d in datasets()}
    cards = {key: svg for key, _, svg, _ in charts(by)}
    services = by["cost_by_service"].table.column("service").to_pylist()[:10]
    labels = re.findall(r'<text x="184" y="\d+" text-anchor="end">([^<]*)</text>', cards["top_services"])
    assert labels == [escape(name, quote=True) for name in services]
    assert cards["top_services"].count('fill="#0d9488"') == len(services)


def test_charts_without_data_show_each_datasets_note() -> None:
    empty = [Dataset(d.spec, empty_table(d.spec), "none", note=f"no {d.name}") for d in datasets()]
    cards = charts({d.name: d for d in empty})
    sources = ["cost_by_day", "cost_by_service", "cost_by_account", "top_movers"]
    sources += ["compliance_summary", "anomalies", "recommendations"]
    sources += ["commitments", "commitments", "commitment_expiries"]
    assert [(key, svg) for key, _, svg, _ in cards] == [
        (key, f'<div class="empty">No data: no {source}</div>')
        for key, source in zip(CHART_KEYS, sources, strict=True)
    ]


def test_page_shrinks_its_tables_to_stay_under_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from finops_pipeline.lib.reporting.writers import html_report

    data = datasets()
    spec = SPEC_BY_NAME["worst_offenders"]
    n = 5000
    big = pa.table(
        {
            name: [("x" * 400 + str(i)) if kind in ("text", "json") else None for i in range(n)]
            for name, kind in spec.columns.items()
        }
    )
    data = [d if d.name != "worst_offenders" else Dataset(spec, big, "synthetic") for d in data]
    page, rows = _page(data)
    assert len(page) <= MAX_HTML_BYTES and rows == 25  # at most 25 rows a table, cells cut at 200 characters
    assert "x" * 200 not in page.decode()
    full = len(page)
    monkeypatch.setattr(html_report, "MAX_HTML_BYTES", full - 1)
    smaller, rows = _page(data)
    assert rows == 10 and len(smaller) < full
    monkeypatch.setattr(html_report, "MAX_HTML_BYTES", 1000)
    with pytest.raises(ValueError, match="even without tables"):
        _page(data)


def test_chromium_renders_every_chart(tmp_path: Path) -> None:
    page, _ = _page(datasets())
    html = tmp_path / "report.html"
    html.write_bytes(page)
    png = screenshot(html, tmp_path / "shot.png", tmp_path / "profile", size="1280,1800")
    counts = colour_counts(png)
    missing = {chart: color for chart, color in CHART_COLORS.items() if counts[color] < 150}
    assert not missing, {chart: counts[color] for chart, color in CHART_COLORS.items()}


def _with(data: list[Dataset], name: str, rows: dict[str, list]) -> list[Dataset]:
    """``data`` with dataset ``name`` replaced by ``rows`` (columns of its spec left out are null)."""
    spec = SPEC_BY_NAME[name]
    n = len(next(iter(rows.values())))
    table = pa.table(
        {c: pa.array(rows.get(c, [None] * n), empty_table(spec).schema.field(c).type) for c in spec.columns}
    )
    return [d if d.name != name else Dataset(spec, table, "synthetic") for d in data]


def test_tables_show_labelled_view_columns_and_say_what_the_files_hold() -> None:
    html = _page(datasets())[0].decode()
    card = html[html.index('id="anomalies"') :]
    card = card[: card.index("</table>")]
    view = VIEWS["anomalies"]
    assert re.findall(r"<th>([^<]*)</th>", card) == [escape(label(c)) for c in view.columns]
    assert "Start" in card and "Expected" in card and "start_date" not in card
    assert "10 of 20 rows, 8 of 22 columns shown: all of them are in the CSV / Excel / Parquet files" in card
    assert card.count("<tr>") == 1 + 10


def test_a_negative_expected_cost_is_shown_as_zero_and_said() -> None:
    data = _with(
        datasets(),
        "anomalies",
        {"service": ["Amazon RDS Storage"], "severity": ["high"], "actual_usd": [5.0],
         "expected_usd": [-0.91], "impact_usd": [5.91], "impact_pct": [1249.7]},
    )  # fmt: skip
    html = _page(data)[0].decode()
    card = html[html.index('id="anomalies"') :]
    card = card[: card.index("</table>")]
    cells = re.findall(r'<td class="n">([^<]*)</td>', card)
    assert cells == ["$5.00", "$0.00", "$5.00"]  # actual, expected floored, impact = actual - 0
    assert "-$0.91" not in card and "1 expected cost(s) below $0.00 shown as $0.00" in card


def test_savings_plans_and_ri_are_drawn_as_alternatives_and_counted_once() -> None:
    data = _with(
        datasets(),
        "recommendations",
        {"kind": ["savings_plans", "reserved_instances", "rightsizing"],
         "monthly_savings_usd": [100.0, 80.0, 50.0]},
    )  # fmt: skip
    cards = {key: svg for key, _, svg, _ in charts({d.name: d for d in data})}
    others, choices = cards["savings"].split("choose one")
    assert others.count(f'fill="{SAVINGS}"') == 1 and "Rightsizing" in others
    assert choices.count(f'fill="{SAVINGS_ALTERNATIVE}"') == 2
    assert ">Savings Plans<" in choices and ">Reserved Instances<" in choices
    assert "Total counted once (the larger offer only): <b>$150.00</b>" in choices
    assert totals(data, PERIOD)["monthly_savings_usd"] == 150.0


def test_page_height_measured_by_chromium(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_bytes(_page(datasets(rows=200))[0])
    height = page_height(html, tmp_path)
    # Every table capped at its view's rows: not a 20,000 px page. 4,779 px before the commitment and FOCUS
    # datasets and their three charts joined the report; 10,714 px with them (measured at the merge).
    assert 2000 < height < 12000, height
