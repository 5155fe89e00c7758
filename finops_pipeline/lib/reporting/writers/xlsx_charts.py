"""Native Excel charts for the streaming workbook: the daily cost trend and the top services.

The workbook's sheets are streamed as raw SpreadsheetML (``xlsx.py``), but a chart part is DrawingML
whose schema is large and strict: openpyxl (already a dependency) models it, so its chart and drawing
objects build those parts here and the streaming writer only places them in the package. The charts
reference the data sheets' cells (they are live, not pictures): Excel and LibreOffice draw them from
the cells, and openpyxl reads them back.

openpyxl serialises a chart or a drawing only through ``_write()`` (its own ``ExcelWriter`` calls it the
same way); that is the one private call here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart._chart import ChartBase
from openpyxl.chart.axis import DateAxis
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.xml.constants import CHART_TYPE, DRAWING_TYPE
from openpyxl.xml.functions import tostring

from finops_pipeline.lib.reporting.columns import label

TOP_SERVICES = 10
CHART_WIDTH_CM, CHART_HEIGHT_CM = 26.0, 9.5


@dataclass(frozen=True)
class SheetRange:
    """Where a dataset's data rows sit: its sheet's name, its column letters by name, its last row."""

    sheet: str
    letters: dict[str, str]
    last_row: int  # 1 is the header; 1 means no data rows

    def ref(self, column: str, first: int, last: int) -> Reference:
        quoted = "'" + self.sheet.replace("'", "''") + "'"
        letter = self.letters[column]
        return Reference(range_string=f"{quoted}!${letter}${first}:${letter}${last}")


def cost_trend_chart(days: SheetRange) -> LineChart | None:
    """Daily unblended cost over the period, dates along the axis; None without data rows."""
    if days.last_row < 2 or not {"usage_date", "unblended_usd"} <= days.letters.keys():
        return None
    chart = LineChart()
    chart.title = "Cost trend: daily unblended cost (USD)"
    chart.add_data(days.ref("unblended_usd", 1, days.last_row), titles_from_data=True)
    chart.set_categories(days.ref("usage_date", 2, days.last_row))
    chart.x_axis = DateAxis(crossAx=100)
    chart.x_axis.number_format = "yyyy-mm-dd"
    chart.x_axis.majorTimeUnit = "days"
    chart.x_axis.title = label("usage_date")
    chart.y_axis.crossAx = 500
    chart.y_axis.title = "USD"
    chart.y_axis.number_format = '"$"#,##0'
    chart.legend = None
    return _sized(chart)


def top_services_chart(services: SheetRange) -> BarChart | None:
    """The most expensive services (the sheet is sorted by cost), largest at the top; None without data."""
    if services.last_row < 2 or not {"service", "unblended_usd"} <= services.letters.keys():
        return None
    last = min(services.last_row, TOP_SERVICES + 1)
    chart = BarChart()
    chart.type = "bar"
    chart.title = f"Top {last - 1} services: unblended cost (USD)"
    chart.add_data(services.ref("unblended_usd", 1, last), titles_from_data=True)
    chart.set_categories(services.ref("service", 2, last))
    chart.x_axis.scaling.orientation = "maxMin"  # first row (largest) on top
    chart.y_axis.number_format = '"$"#,##0'
    chart.y_axis.title = "USD"
    chart.legend = None
    return _sized(chart)


def _sized(chart: ChartBase) -> ChartBase:
    chart.width, chart.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    return chart


@dataclass(frozen=True)
class DrawingParts:
    """The package parts of one sheet's drawing: ``(path, bytes, content type)`` and the drawing's path."""

    parts: list[tuple[str, bytes, str | None]]
    drawing_path: str


def drawing_parts(
    charts: Sequence[tuple[ChartBase, str]], drawing_id: int, first_chart_id: int
) -> DrawingParts:
    """The drawing part (anchors), its relationships and one part per chart, anchored at cells like ``A3``."""
    drawing = SpreadsheetDrawing()
    drawing._id = drawing_id
    for offset, (chart, anchor) in enumerate(charts):
        chart._id = first_chart_id + offset
        chart.anchor = anchor
        drawing.charts.append(chart)
    parts: list[tuple[str, bytes, str | None]] = [
        (chart.path[1:], tostring(chart._write()), CHART_TYPE) for chart, _ in charts
    ]
    path = drawing.path[1:]
    parts.append((path, tostring(drawing._write()), DRAWING_TYPE))
    folder, name = path.rsplit("/", 1)
    parts.append((f"{folder}/_rels/{name}.rels", tostring(drawing._write_rels()), None))
    return DrawingParts(parts, path)
