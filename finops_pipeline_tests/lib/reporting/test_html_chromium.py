"""The HTML report: self-contained, under 2 MB, escaped, and charts that a real browser draws."""

import re
from html import escape
from pathlib import Path

import pyarrow as pa
import pytest

from finops_pipeline.lib.reporting.datasets import SPEC_BY_NAME, Dataset, empty_table, totals
from finops_pipeline.lib.reporting.writers.html_report import (
    CHART_COLORS,
    MAX_HTML_BYTES,
    charts,
    render_within_limit,
)
from finops_pipeline_tests.lib.reporting.chromium import screenshot
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
]


def _page(data: list[Dataset]) -> tuple[bytes, int]:
    return render_within_limit(META, totals(data, PERIOD, 900.0), data)


def test_page_is_self_contained_and_escaped() -> None:
    page, rows = _page(datasets())
    html = page.decode()
    assert rows == 50 and len(page) <= MAX_HTML_BYTES
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(|\bsrc=|href=", html, re.I)
    assert html.count("<svg") == 7  # trend, services, accounts, movers, compliance, anomalies, savings
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
    assert len(page) <= MAX_HTML_BYTES and rows == 50  # tables show 50 rows, cells cut at 200 characters
    assert "x" * 200 not in page.decode()
    full = len(page)
    monkeypatch.setattr(html_report, "MAX_HTML_BYTES", full - 1)
    smaller, rows = _page(data)
    assert rows == 25 and len(smaller) < full
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
