"""The executive PDF: a cover with the KPI cards, a page of charts, then the top tables, A4 landscape.

Drawn with fpdf2 (pure Python: no browser, no native library at run time) from the same datasets,
figures and views as the HTML (``chart_data.py``, ``columns.py``), so both say the same numbers.

Untrusted text (tag values, account and resource names) is printed as plain text: no markdown, no HTML,
no links are ever interpreted (fpdf2's ``markdown`` stays off and no ``write_html`` is used), characters
the embedded font has no glyph for are replaced by ``?``, and control characters are dropped.

The text is set in DejaVu Sans, embedded (fpdf2 subsets it to the glyphs used): the PDF standard fonts
carry Latin-1 only, so an account named "Kraków", "Σύνοψη" or "Москва" would print as question marks.
DejaVu covers Latin, Greek and Cyrillic, not CJK (``data/fonts/LICENSE``: Bitstream Vera licence, DejaVu
changes public domain; copied from Debian's fonts-dejavu-core 2.37).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import IO, Any

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import FontFace

from finops_pipeline.clock import utc_now
from finops_pipeline.lib.reporting.chart_data import (
    display,
    kpi_items,
    money,
    savings_split,
    sentence,
    short_money,
    top_accounts,
    top_services,
    trend_series,
)
from finops_pipeline.lib.reporting.datasets import Dataset

NAVY = (31, 56, 100)
GREY = (107, 114, 128)
TREND = (37, 99, 235)
SERVICES = (13, 148, 136)
ACCOUNTS = (124, 58, 237)
ANOMALY = (219, 39, 119)
SAVINGS = (101, 163, 13)
SAVINGS_ALTERNATIVE = (163, 196, 107)
MAX_CELL_CHARS = 60
FONT = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_DIR = Path(__file__).resolve().parents[3] / "data" / "fonts"
WHITESPACE = str.maketrans({"\r": " ", "\n": " ", "\t": " "})
TABLES = (
    "top_movers",
    "anomalies",
    "recommendations",
    "budget_status",
    "cost_by_account",
    "compliance_summary",
    "worst_offenders",
)


@cache
def _glyphs() -> frozenset[int]:
    """Code points both embedded faces draw (a character outside them would print as an empty box)."""
    maps = [TTFont(FONT_DIR / name).getBestCmap() for name in FONT_FILES.values()]
    return frozenset(set(maps[0]).intersection(*maps[1:]))


def plain(value: Any, limit: int = 0) -> str:
    """Text the PDF prints as it is: whitespace as single spaces, control characters dropped, characters
    the font cannot draw as ``?``, clipped."""
    text = "".join(ch for ch in str(value).translate(WHITESPACE) if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())  # line breaks and tabs of a value read as one space
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    glyphs = _glyphs()
    return "".join(ch if ord(ch) in glyphs else "?" for ch in text)


class ReportPdf(FPDF):
    """A4 landscape pages with the report's title and page x of y in the footer."""

    def __init__(self, title: str) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        for style, name in FONT_FILES.items():
            self.add_font(FONT, style, FONT_DIR / name)
        self.report_title = plain(title)
        self.set_auto_page_break(True, margin=14)
        self.set_margins(12, 12, 12)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, size=8)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.report_title}  |  figures in USD", align="L")
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")


def write_pdf(
    handle: IO[bytes],
    meta: dict[str, Any],
    figures: dict[str, Any],
    datasets: list[Dataset],
) -> dict[str, int]:
    """Write the PDF; returns its page count and size in bytes."""
    by = {d.name: d for d in datasets}
    pdf = ReportPdf(meta["title"])
    pdf.set_title(plain(meta["title"]))
    pdf.set_creator("finops-pipeline")
    pdf.set_creation_date(utc_now())  # the project's clock, as the Excel file's properties
    _cover(pdf, meta, figures)
    _charts_page(pdf, by)
    pdf.add_page()
    for name in TABLES:
        if name in by:
            _table(pdf, by[name])
    data = bytes(pdf.output())
    handle.write(data)
    return {"pdf_pages": pdf.pages_count, "pdf_bytes": len(data)}


def _heading(pdf: FPDF, text: str, size: int = 13) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(*NAVY)
    pdf.cell(0, 8, plain(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _note(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(146, 64, 14)
    pdf.multi_cell(0, 4.5, plain(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def _cover(pdf: FPDF, meta: dict[str, Any], figures: dict[str, Any]) -> None:
    """Title band, the period and its comparison, caveats, then the six KPI cards."""
    pdf.add_page()
    pdf.set_fill_color(*NAVY)
    pdf.rect(0, 0, pdf.w, 42, style="F")
    pdf.set_xy(12, 10)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font(FONT, "B", 24)
    pdf.cell(0, 12, "FinOps report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 13)
    pdf.cell(0, 8, plain(meta["period_span"]), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(50)
    pdf.set_font(FONT, "", 10)
    for text in (
        meta["period_description"],
        sentence(meta["comparison_description"]),
        f"{figures.get('accounts', 0):,} accounts, {figures.get('services', 0):,} services; "
        f"{figures.get('estimated_days', 0)} day(s) still estimated by AWS.",
        f"Generated {meta['generated_at']}.",
    ):
        pdf.multi_cell(0, 5.5, plain(text), new_x="LMARGIN", new_y="NEXT")
    for caveat in (
        meta.get("period_note"),
        figures.get("coverage_caveat"),
        figures.get("spend_coverage_caveat"),
    ):
        if caveat:
            _note(pdf, f"{caveat}.")
    _kpi_cards(pdf, kpi_items(figures), pdf.get_y() + 6)


def _kpi_cards(pdf: FPDF, items: Sequence[tuple[str, str]], top: float) -> None:
    """Three cards a row: the value large, its label under it."""
    per_row, gap, height = 3, 6, 28
    width = (pdf.w - pdf.l_margin - pdf.r_margin - gap * (per_row - 1)) / per_row
    for i, (name, value) in enumerate(items):
        x = pdf.l_margin + (i % per_row) * (width + gap)
        y = top + (i // per_row) * (height + gap)
        pdf.set_fill_color(241, 245, 249)
        pdf.rect(x, y, width, height, style="F")
        pdf.set_xy(x + 5, y + 5)
        pdf.set_font(FONT, "B", 18)
        pdf.set_text_color(*NAVY)
        pdf.cell(width - 10, 10, plain(value))
        pdf.set_xy(x + 5, y + 17)
        pdf.set_font(FONT, "", 9.5)
        pdf.set_text_color(*GREY)
        pdf.cell(width - 10, 6, plain(name))
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(top + ((len(items) + per_row - 1) // per_row) * (height + gap))


def _charts_page(pdf: FPDF, by: dict[str, Dataset]) -> None:
    """The cost trend across the page; top services, top accounts and savings side by side under it."""
    pdf.add_page()
    _heading(pdf, "Cost trend (daily unblended; dots: high-severity anomaly starts)")
    points, starts = trend_series(by["cost_by_day"], by["anomalies"])
    if points:
        _line_chart(pdf, points, starts, pdf.l_margin, pdf.get_y() + 2, pdf.w - 24, 62)
    else:
        _note(pdf, f"No data: {by['cost_by_day'].note}")
    top, width = 92.0, (pdf.w - 24 - 12) / 3
    columns = (
        ("Top services", top_services(by["cost_by_service"]), SERVICES, by["cost_by_service"]),
        ("Top accounts", top_accounts(by["cost_by_account"]), ACCOUNTS, by["cost_by_account"]),
    )
    for i, (title, items, color, dataset) in enumerate(columns):
        x = pdf.l_margin + i * (width + 6)
        _chart_title(pdf, title, x, top, width)
        if items:
            _bars(pdf, items, color, x, top + 8, width)
        else:
            _small_note(pdf, f"No data: {dataset.note}", x, top + 8, width)
    _savings(pdf, by["recommendations"], pdf.l_margin + 2 * (width + 6), top, width)


def _chart_title(pdf: FPDF, text: str, x: float, y: float, width: float) -> None:
    pdf.set_xy(x, y)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(*NAVY)
    pdf.cell(width, 7, plain(text))
    pdf.set_text_color(0, 0, 0)


def _small_note(pdf: FPDF, text: str, x: float, y: float, width: float) -> float:
    pdf.set_xy(x, y)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(width, 4, plain(text))
    pdf.set_text_color(0, 0, 0)
    return pdf.get_y()


def _line_chart(
    pdf: FPDF,
    points: Sequence[tuple[dt.date, float]],
    markers: Sequence[dt.date],
    x0: float,
    y0: float,
    width: float,
    height: float,
) -> None:
    """Gridlines with dollar labels, the daily line, a dot where a high-severity anomaly starts."""
    left, bottom = 18.0, 7.0
    values = [v for _, v in points]
    high, low = max(max(values), 0.0) or 1.0, min(min(values), 0.0)
    span = (high - low) or 1.0
    inner_w, inner_h = width - left, height - bottom
    n = len(points)

    def x(i: int) -> float:
        return x0 + left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return y0 + inner_h * (1 - (v - low) / span)

    pdf.set_font(FONT, "", 7)
    pdf.set_draw_color(229, 231, 235)
    pdf.set_line_width(0.2)
    for k in range(5):
        v = low + span * k / 4
        pdf.line(x0 + left, y(v), x0 + width, y(v))
        pdf.set_xy(x0, y(v) - 2)
        pdf.cell(left - 2, 4, short_money(v), align="R")
    step = max(1, n // 8)
    for i in range(0, n, step):
        pdf.set_xy(x(i) - 10, y0 + inner_h + 1)
        pdf.cell(20, 4, points[i][0].isoformat(), align="C")
    pdf.set_draw_color(*TREND)
    pdf.set_line_width(0.6)
    if n > 1:
        pdf.polyline([(x(i), y(v)) for i, (_, v) in enumerate(points)])
    index = {d: i for i, (d, _) in enumerate(points)}
    pdf.set_fill_color(*ANOMALY)
    for day in sorted(set(markers)):
        if day in index:
            i = index[day]
            pdf.circle(x(i) - 1.3, y(points[i][1]) - 1.3, 1.3, style="F")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)


def _bars(
    pdf: FPDF,
    items: Sequence[tuple[str, float]],
    color: tuple[int, int, int],
    x0: float,
    y0: float,
    width: float,
) -> float:
    """Horizontal bars, label above each, value at its end; returns the y under the last bar."""
    row, label_h, bar_h = 9.0, 4.0, 3.6
    high = max([abs(v) for _, v in items] + [1e-9])
    bar_w = width - 22
    pdf.set_fill_color(*color)
    for i, (name, value) in enumerate(items):
        y = y0 + i * row
        pdf.set_xy(x0, y)
        pdf.set_font(FONT, "", 7.5)
        pdf.cell(width, label_h, plain(name, MAX_CELL_CHARS))
        w = max(bar_w * abs(value) / high, 0.4)
        pdf.rect(x0, y + label_h + 0.3, w, bar_h, style="F")
        pdf.set_xy(x0 + w + 1, y + label_h)
        pdf.cell(20, bar_h + 0.6, short_money(value))
    return y0 + len(items) * row


def _savings(pdf: FPDF, recs: Dataset, x: float, top: float, width: float) -> None:
    """Savings per kind; the RI and Savings Plans offers apart, as alternatives, and the total once."""
    _chart_title(pdf, "Savings per month", x, top, width)
    others, choices, total = savings_split(recs)
    if not others and not choices:
        _small_note(pdf, f"No data: {recs.note}", x, top + 8, width)
        return
    y = _bars(pdf, others, SAVINGS, x, top + 8, width) if others else top + 8
    if choices:
        y = _small_note(pdf, "Commitment purchase - choose one (both cover the same usage):", x, y + 1, width)
        y = _bars(pdf, choices, SAVINGS_ALTERNATIVE, x, y + 1, width)
    _small_note(pdf, f"Total counted once (the larger offer only): {money(total)}", x, y + 1, width)


def _table(pdf: FPDF, dataset: Dataset) -> None:
    """The dataset's view (its columns and first rows, labelled) with what the files hold beside it."""
    view = dataset.shown()
    if pdf.get_y() > pdf.h - 60:  # a heading and a few rows at least, else the next page
        pdf.add_page()
    elif pdf.get_y() > pdf.t_margin + 1:
        pdf.ln(4)
    _heading(pdf, dataset.title, 12)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(0, 4, plain(f"{dataset.spec.description} {view.caption}."), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    for text in [dataset.note, *view.notes]:
        if text:
            _note(pdf, text)
    if not view.rows:
        return
    kinds = dataset.kinds
    numeric = [kinds.get(c, "text") in ("currency", "percent", "integer", "number") for c in view.columns]
    widths = [1.0 if n else 2.0 for n in numeric]
    pdf.ln(1)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_fill_color(241, 245, 249)  # the banded rows' colour (fpdf2 fills with the current one)
    with pdf.table(
        col_widths=widths,
        text_align=["RIGHT" if n else "LEFT" for n in numeric],
        headings_style=FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=NAVY),
        line_height=4,
        markdown=False,
        cell_fill_color=(241, 245, 249),
        cell_fill_mode="ROWS",
    ) as table:
        heading = table.row()
        for text in view.labels:
            heading.cell(plain(text))
        for values in view.rows:
            row = table.row()
            for name in view.columns:
                row.cell(plain(display(values[name], kinds.get(name, "text"))[0], MAX_CELL_CHARS))
