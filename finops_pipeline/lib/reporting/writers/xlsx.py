"""A streaming .xlsx writer for large tables: SpreadsheetML written directly, cell XML built column-wise.

Why not openpyxl or XlsxWriter: both build every cell as a Python object or call, which at a million rows
× a dozen columns is minutes (see ``bench/report_export_bench.py``). Here each column's cell XML is built
by vectorised string expressions (polars) a chunk of rows at a time and streamed into the zip, so time
grows with the data at C speed and memory stays at one chunk. The output is plain Office Open XML that
Excel, LibreOffice and openpyxl read: inline strings, numbers with number formats (currency, percent,
date, thousands), a styled and frozen header row with the columns' human titles, an autofilter, column
widths, print setup (landscape, fit to one page wide, the header row repeated on every page, page
numbers) and native charts of the cost trend and top services (``xlsx_charts.py``).

Text goes through :func:`finops_pipeline.lib.reporting.safety.neutralise_array` first, characters XML cannot
carry are dropped, and a cell holds at most Excel's 32,767 characters.
"""

# ruff: noqa: E501  (SpreadsheetML parts read better unwrapped)

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import polars as pl
import pyarrow as pa

from finops_pipeline.clock import utc_now
from finops_pipeline.lib.reporting.safety import neutralise, neutralise_array
from finops_pipeline.lib.reporting.writers.xlsx_charts import ChartBase, drawing_parts

CHUNK_ROWS = 65_536
MAX_CELL_CHARS = 32_767
EXCEL_EPOCH = dt.date(1899, 12, 30)
ILLEGAL_XML_RE = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Number formats and the cell style (cellXfs index) of each presentation kind.
CURRENCY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'
PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
STYLE = {
    "default": 0,
    "header": 1,
    "currency": 2,
    "percent": 3,
    "date": 4,
    "integer": 5,
    "number": 6,
    "datetime": 7,
    "title": 8,
    "label": 9,
}
STYLES_XML = (
    XML_DECL
    + f"""<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="3"><numFmt numFmtId="164" formatCode={quoteattr(CURRENCY_FORMAT)}/>
<numFmt numFmtId="165" formatCode="{DATE_FORMAT}"/><numFmt numFmtId="166" formatCode="{DATETIME_FORMAT}"/></numFmts>
<fonts count="4"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>
<font><b/><sz val="11"/><color rgb="FFFFFFFF"/><name val="Calibri"/><family val="2"/></font>
<font><b/><sz val="14"/><color rgb="FF1F3864"/><name val="Calibri"/><family val="2"/></font>
<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>
<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>
<fill><patternFill patternType="solid"><fgColor rgb="FF1F3864"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>
<border><left/><right/><top/><bottom style="thin"><color rgb="FF8EA9DB"/></bottom><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="10">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="10" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="0" fontId="3" fillId="0" borderId="0" xfId="0" applyFont="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""
)
APP_PROPERTIES_XML = (
    f"{XML_DECL}<Properties "
    'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>finops-pipeline</Application></Properties>"
)
# The package root: where a reader finds the workbook and the two property parts.
PACKAGE_RELS_XML = (
    f'{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    '<Relationship Id="rId3" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" '
    'Target="docProps/app.xml"/></Relationships>'
)
NUMERIC_KINDS = ("currency", "percent", "integer", "number")
WIDTH = {"currency": 15, "percent": 11, "integer": 11, "number": 12, "date": 12, "datetime": 17, "bool": 9}
MIN_WIDTH, MAX_WIDTH = 8, 60
# Print setup of every sheet: landscape, one page wide (as many tall as needed), page x of y in the footer.
PRINT_SETUP_XML = (
    '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
    '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
    "<headerFooter><oddFooter>&amp;L&amp;A&amp;RPage &amp;P of &amp;N</oddFooter></headerFooter>"
)
DRAWING_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing"


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _text_expr(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.slice(0, MAX_CELL_CHARS)
        .str.replace_all(ILLEGAL_XML_RE, "")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
        .str.replace_all("\r", "&#13;", literal=True)
    )


def _cell_expr(name: str, kind: str, letter: str, dtype: pl.DataType) -> pl.Expr:
    """The XML of one column's cells for a chunk of rows ('' where the value is null)."""
    col = pl.col(name)
    ref = pl.concat_str([pl.lit(f'<c r="{letter}'), pl.col("__row")])
    if dtype == pl.Boolean:
        cell = pl.concat_str(
            [ref, pl.lit('" t="b"><v>'), col.cast(pl.Int8).cast(pl.Utf8), pl.lit("</v></c>")]
        )
        return pl.when(col.is_not_null()).then(cell).otherwise(pl.lit(""))
    if dtype.is_numeric():
        value = col.cast(pl.Float64)
        if kind == "percent":
            value = value / 100.0
        style = STYLE[kind] if kind in NUMERIC_KINDS else STYLE["number"]
        ok = value.is_not_null() & value.is_finite()
        text = value.cast(pl.Int64).cast(pl.Utf8) if kind == "integer" else value.cast(pl.Utf8)
        cell = pl.concat_str([ref, pl.lit(f'" s="{style}"><v>'), text, pl.lit("</v></c>")])
        return pl.when(ok).then(cell).otherwise(pl.lit(""))
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        if dtype == pl.Date:
            serial = (col - pl.lit(EXCEL_EPOCH)).dt.total_days().cast(pl.Utf8)
            style = STYLE["date"]
        else:
            naive = col.dt.replace_time_zone(None) if getattr(dtype, "time_zone", None) else col
            micros = (naive - pl.lit(dt.datetime(1899, 12, 30))).dt.total_microseconds()
            serial = (micros.cast(pl.Float64) / 86_400_000_000).cast(pl.Utf8)
            style = STYLE["datetime"]
        cell = pl.concat_str([ref, pl.lit(f'" s="{style}"><v>'), serial, pl.lit("</v></c>")])
        return pl.when(col.is_not_null()).then(cell).otherwise(pl.lit(""))
    text = _text_expr(col.cast(pl.Utf8))
    cell = pl.concat_str(
        [ref, pl.lit('" t="inlineStr"><is><t xml:space="preserve">'), text, pl.lit("</t></is></c>")]
    )
    return pl.when(col.is_not_null()).then(cell).otherwise(pl.lit(""))


def _neutralised(table: pa.Table) -> pa.Table:
    columns = [neutralise_array(column) for column in table.columns]
    return pa.table(columns, names=table.column_names)


def _widths(table: pa.Table, kinds: dict[str, str], titles: Sequence[str]) -> list[float]:
    sample = table.slice(0, 2000)
    widths = []
    for name, title in zip(table.column_names, titles, strict=True):
        kind = kinds.get(name, "text")
        width = float(WIDTH.get(kind, 10))
        column = sample.column(name)
        if kind in ("text", "json") and sample.num_rows:
            lengths = pl.from_arrow(column.cast(pa.string())).str.len_chars()
            width = float(lengths.quantile(0.95) or 0) + 2
        width = max(width, len(title) + 4)  # the autofilter button needs room
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, width)))
    return widths


@dataclass
class SheetInfo:
    name: str
    rows_total: int
    rows_written: int
    columns: int

    @property
    def truncated(self) -> bool:
        return self.rows_written < self.rows_total


@dataclass(frozen=True)
class _Sheet:
    name: str
    part: str
    filter_ref: str | None = None  # autofilter range; tables also repeat their header row when printed
    drawing: str | None = None  # the drawing part of a chart sheet


@dataclass
class Cell:
    """A cell of a small hand-built sheet (the Summary)."""

    value: Any
    style: str = "default"


class XlsxWriter:
    """``with XlsxWriter(file) as book: book.add_table(...); book.add_cells(...)`` -> a valid .xlsx."""

    def __init__(self, handle: IO[bytes], *, compresslevel: int = 1, title: str = "") -> None:
        self._zip = zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._sheets: list[_Sheet] = []
        self._parts: list[tuple[str, str]] = []  # (part, content type) of drawings and charts
        self._order: list[int] = []
        self._title = title

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._zip.close()

    def _new_part(self, name: str) -> tuple[int, str]:
        index = len(self._sheets) + 1
        return index, f"xl/worksheets/sheet{index}.xml"

    @staticmethod
    def _sheet_head(ref: str, widths: Sequence[float], frozen: bool) -> str:
        pane = (
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            if frozen
            else ""
        )
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>' for i, w in enumerate(widths, 1)
        )
        return (
            f'{XML_DECL}<worksheet {NS}><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr><dimension ref="{ref}"/>'
            f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{cols}</cols>" if cols else ""}<sheetData>'
        )

    def add_table(
        self,
        name: str,
        table: pa.Table,
        kinds: dict[str, str],
        max_rows: int,
        headers: Sequence[str] | None = None,
    ) -> SheetInfo:
        """One sheet: styled frozen header (``headers``, else the column names), typed cells, autofilter,
        print setup; at most ``max_rows`` data rows."""
        total = table.num_rows
        table = table.slice(0, max_rows)
        _index, part = self._new_part(name)
        ncols = len(table.column_names)
        last = column_letter(max(ncols, 1) - 1)
        ref = f"A1:{last}{table.num_rows + 1}"
        letters = [column_letter(i) for i in range(ncols)]
        titles = list(headers) if headers is not None else table.column_names
        with self._zip.open(part, "w", force_zip64=True) as out:
            out.write(self._sheet_head(ref, _widths(table, kinds, titles), frozen=True).encode())
            header = "".join(
                f'<c r="{letter}1" t="inlineStr" s="{STYLE["header"]}"><is><t>{escape(neutralise(col))}</t></is></c>'
                for letter, col in zip(letters, titles, strict=True)
            )
            out.write(f'<row r="1">{header}</row>'.encode())
            for offset in range(0, table.num_rows, CHUNK_ROWS):
                chunk = _neutralised(table.slice(offset, CHUNK_ROWS))
                frame = pl.from_arrow(chunk)
                assert isinstance(frame, pl.DataFrame)
                frame = frame.with_columns(
                    pl.int_range(offset + 2, offset + 2 + frame.height, dtype=pl.Int64)
                    .cast(pl.Utf8)
                    .alias("__row")
                )
                cells = [
                    _cell_expr(col, kinds.get(col, "text"), letter, frame.schema[col])
                    for letter, col in zip(letters, table.column_names, strict=True)
                ]
                rows = frame.select(
                    pl.concat_str(
                        [pl.lit('<row r="'), pl.col("__row"), pl.lit('">'), *cells, pl.lit("</row>")]
                    )
                    .str.join("")
                    .alias("xml")
                )
                out.write(rows.item().encode())
            out.write(f'</sheetData><autoFilter ref="{ref}"/>{PRINT_SETUP_XML}</worksheet>'.encode())
        self._sheets.append(_Sheet(name, part, filter_ref=ref))
        return SheetInfo(name, total, table.num_rows, ncols)

    def add_cells(
        self,
        name: str,
        rows: Sequence[Sequence[Cell | None]],
        widths: Sequence[float],
        drawing: str | None = None,
    ) -> None:
        """A small free-form sheet (no filter, no frozen pane), written cell by cell; ``drawing`` is the
        part of its charts (:meth:`add_charts`)."""
        _index, part = self._new_part(name)
        ncols = max((len(r) for r in rows), default=1)
        ref = f"A1:{column_letter(ncols - 1)}{max(len(rows), 1)}"
        parts = [self._sheet_head(ref, widths, frozen=False)]
        for r, row in enumerate(rows, 1):
            parts.append(f'<row r="{r}">')
            for c, cell in enumerate(row):
                if cell is None or cell.value is None:
                    continue
                parts.append(_python_cell(f"{column_letter(c)}{r}", cell))
            parts.append("</row>")
        parts.append("</sheetData>")
        parts.append(PRINT_SETUP_XML)
        if drawing:
            parts.append('<drawing r:id="rId1"/>')
        parts.append("</worksheet>")
        self._zip.writestr(part, "".join(parts))
        self._sheets.append(_Sheet(name, part, drawing=drawing))

    def add_charts(
        self, name: str, rows: Sequence[Sequence[Cell | None]], charts: Sequence[tuple[ChartBase, str]]
    ) -> None:
        """A sheet of a few cells (titles, notes) and native charts anchored at cells such as ``A3``."""
        drawing_id = sum(1 for s in self._sheets if s.drawing) + 1
        first_chart = sum(1 for _, kind in self._parts if kind.endswith("chart+xml")) + 1
        built = drawing_parts(charts, drawing_id, first_chart)
        for path, data, content_type in built.parts:
            self._zip.writestr(path, data)
            if content_type:
                self._parts.append((path, content_type))
        self.add_cells(name, rows, [110], drawing=built.drawing_path)
        part = self._sheets[-1].part
        folder, file = part.rsplit("/", 1)
        self._zip.writestr(
            f"{folder}/_rels/{file}.rels",
            f'{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{DRAWING_REL}" Target="/{built.drawing_path}"/></Relationships>',
        )

    def set_order(self, names: Sequence[str]) -> None:
        """Tab order by sheet name (sheets not named keep their order after these)."""
        position = {name: i for i, name in enumerate(names)}
        self._order = sorted(
            range(len(self._sheets)), key=lambda i: (position.get(self._sheets[i].name, len(names)), i)
        )

    def close(self) -> None:
        """Write the workbook-level parts that need every sheet known, then finish the zip."""
        self._zip.writestr("xl/workbook.xml", self._workbook_xml())
        self._zip.writestr("xl/_rels/workbook.xml.rels", self._workbook_rels_xml())
        self._zip.writestr("xl/styles.xml", STYLES_XML)
        self._zip.writestr("docProps/core.xml", _core_properties_xml(self._title))
        self._zip.writestr("docProps/app.xml", APP_PROPERTIES_XML)
        self._zip.writestr("_rels/.rels", PACKAGE_RELS_XML)
        self._zip.writestr("[Content_Types].xml", self._content_types_xml())
        self._zip.close()

    def _workbook_xml(self) -> str:
        """The sheet list in tab order, plus per table sheet a hidden ``_FilterDatabase`` name and the
        ``Print_Titles`` name that repeats its header row on every printed page.

        Excel needs the defined names keyed by tab position, not sheet id (a live autofilter, print
        titles); the relationship ids stay in write order so they match :meth:`_workbook_rels_xml`.
        """
        order = self._order or list(range(len(self._sheets)))
        sheets_xml, names_xml = [], []
        for tab, i in enumerate(order):
            sheet = self._sheets[i]
            sheets_xml.append(f'<sheet name={quoteattr(sheet.name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>')
            if sheet.filter_ref:
                quoted = escape("'" + sheet.name.replace("'", "''") + "'")
                names_xml.append(
                    f'<definedName name="_xlnm._FilterDatabase" localSheetId="{tab}" hidden="1">'
                    f"{quoted}!{_absolute_range(sheet.filter_ref)}</definedName>"
                )
                names_xml.append(
                    f'<definedName name="_xlnm.Print_Titles" localSheetId="{tab}">{quoted}!$1:$1</definedName>'
                )
        defined = f"<definedNames>{''.join(names_xml)}</definedNames>" if names_xml else ""
        return (
            f'{XML_DECL}<workbook {NS}><bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{''.join(sheets_xml)}</sheets>{defined}</workbook>"
        )

    def _workbook_rels_xml(self) -> str:
        """One relationship per sheet part (rId = write position), then the styles part after them."""
        rels = [
            f'<Relationship Id="rId{i + 1}" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            f'Target="{sheet.part.removeprefix("xl/")}"/>'
            for i, sheet in enumerate(self._sheets)
        ]
        rels.append(
            f'<Relationship Id="rId{len(self._sheets) + 1}" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        )
        return (
            f'{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{''.join(rels)}</Relationships>"
        )

    def _content_types_xml(self) -> str:
        """The fixed part types plus an override per sheet: readers refuse parts with no declared type."""
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        parts = [(sheet.part, sheet_type) for sheet in self._sheets] + self._parts
        overrides = "".join(
            f'<Override PartName="/{part}" ContentType="{content_type}"/>' for part, content_type in parts
        )
        return (
            f'{XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            f"{overrides}</Types>"
        )


def _absolute_cell(cell: str) -> str:
    """``B12`` -> ``$B$12``."""
    letters = "".join(ch for ch in cell if ch.isalpha())
    digits = "".join(ch for ch in cell if ch.isdigit())
    return f"${letters}${digits}"


def _absolute_range(ref: str) -> str:
    """``A1:C10`` -> ``$A$1:$C$10``: the form Excel itself writes in a ``_FilterDatabase`` name."""
    first, last = ref.split(":")
    return f"{_absolute_cell(first)}:{_absolute_cell(last)}"


def _core_properties_xml(title: str) -> str:
    """Dublin Core metadata: the title and a creation time, so file browsers and Excel show them."""
    now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>finops-pipeline</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created></cp:coreProperties>'
    )


def _clean_text(value: str) -> str:
    value = neutralise(value)[:MAX_CELL_CHARS]
    value = "".join(ch for ch in value if ch in "\t\n\r" or (ord(ch) >= 0x20 and ch not in "\ufffe\uffff"))
    return escape(value).replace("\r", "&#13;")


def _python_cell(ref: str, cell: Cell) -> str:
    value, style = cell.value, STYLE.get(cell.style, 0)
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return ""
        if cell.style == "percent":
            number /= 100.0
        return f'<c r="{ref}"{s}><v>{number!r}</v></c>'
    if isinstance(value, dt.datetime):
        naive = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        serial = (naive - dt.datetime(1899, 12, 30)).total_seconds() / 86400
        return f'<c r="{ref}" s="{STYLE["datetime"]}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{STYLE["date"]}"><v>{(value - EXCEL_EPOCH).days}</v></c>'
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{_clean_text(str(value))}</t></is></c>'
