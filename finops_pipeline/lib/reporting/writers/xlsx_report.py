"""The report workbook: a readable Summary, a Charts sheet (native charts), then one sheet per dataset.

Tab order is Summary, Charts, datasets. Data sheets carry the columns' human titles (the CSV, JSON and
Parquet files keep the machine names); every sheet prints landscape, one page wide, header row repeated.
"""

from __future__ import annotations

from typing import IO, Any

from finops_pipeline.lib.reporting import mail
from finops_pipeline.lib.reporting.columns import FLOOR_NOTE, floor_expected, label
from finops_pipeline.lib.reporting.datasets import Dataset
from finops_pipeline.lib.reporting.writers.xlsx import Cell, SheetInfo, XlsxWriter, column_letter
from finops_pipeline.lib.reporting.writers.xlsx_charts import SheetRange, cost_trend_chart, top_services_chart

SUMMARY, CHARTS = "Summary", "Charts"
STYLE_OF = {"usd": "currency", "pct": "percent", "int": "integer"}


def sheet_name(dataset: Dataset) -> str:
    return dataset.title[:31]  # Excel's limit on a sheet name


def write_xlsx(
    handle: IO[bytes], meta: dict[str, Any], figures: dict[str, Any], datasets: list[Dataset], cap: int
) -> dict[str, int]:
    """Write the workbook; returns the datasets whose sheet was cut at ``cap`` rows (name -> all rows)."""
    floored = {}
    with XlsxWriter(handle, title=meta["title"]) as book:
        infos = {}
        for d in datasets:
            table, floored[d.name] = floor_expected(d.table) if d.name == "anomalies" else (d.table, 0)
            headers = [label(c) for c in d.table.column_names]
            infos[d.name] = book.add_table(sheet_name(d), table, d.kinds, cap, headers=headers)
        _charts_sheet(book, {d.name: d for d in datasets}, infos)
        _summary_sheet(book, meta, figures, datasets, infos, cap, floored)
        book.set_order([SUMMARY, CHARTS])
    return {name: info.rows_total for name, info in infos.items() if info.truncated}


def _range(dataset: Dataset, info: SheetInfo) -> SheetRange:
    letters = {name: column_letter(i) for i, name in enumerate(dataset.table.column_names)}
    return SheetRange(sheet_name(dataset), letters, info.rows_written + 1)


def _charts_sheet(book: XlsxWriter, by: dict[str, Dataset], infos: dict[str, SheetInfo]) -> None:
    """The cost trend above the top services, live on the data sheets' cells; a note where one has no data."""
    rows: list[list[Cell | None]] = [[Cell("Charts", "title")]]
    charts = []
    trend = cost_trend_chart(_range(by["cost_by_day"], infos["cost_by_day"]))
    services = top_services_chart(_range(by["cost_by_service"], infos["cost_by_service"]))
    for chart, anchor, dataset in (
        (trend, "A3", by["cost_by_day"]),
        (services, "A23", by["cost_by_service"]),
    ):
        if chart is None:
            rows.append(
                [Cell(f"No {dataset.title.lower()} chart: {dataset.note or 'no rows in the period'}")]
            )
        else:
            charts.append((chart, anchor))
    book.add_charts(CHARTS, rows, charts)


def _summary_sheet(
    book: XlsxWriter,
    meta: dict[str, Any],
    figures: dict[str, Any],
    datasets: list[Dataset],
    infos: dict[str, SheetInfo],
    cap: int,
    floored: dict[str, int],
) -> None:
    """The figures a reader wants first, the caveats, then what each sheet holds and where all rows are."""
    caveats = [figures.get("coverage_caveat"), figures.get("spend_coverage_caveat"), meta["period_note"]]
    rows: list[list[Cell | None]] = [
        [Cell(f"FinOps report · {meta['period_span']}", "title")],
        [Cell("Period", "label"), Cell(meta["period_description"])],
        [Cell("Compared with", "label"), Cell(meta["comparison_description"])],
        *[[Cell("Note", "label"), Cell(text)] for text in caveats if text],
        [Cell("Generated", "label"), Cell(meta["generated_at"])],
        [],
        [Cell("Figure", "header"), Cell("Value", "header")],
    ]
    for text, key, kind in mail.SUMMARY_LINES:
        rows.append([Cell(text), Cell(figures.get(key), STYLE_OF.get(kind, "default"))])
    rows += [[], [Cell(h, "header") for h in ("Sheet", "Rows", "Rows in sheet", "Truncated", "Source",
                                               "Note", "CSV / Parquet file")]]  # fmt: skip
    for d in datasets:
        info = infos[d.name]
        truncated = (
            f"yes: {info.rows_written:,} of {info.rows_total:,} rows (MAX_EXCEL_ROWS={cap:,}); "
            "all rows are in the CSV / Parquet files"
            if info.truncated
            else "no"
        )
        rows.append(
            [
                Cell(sheet_name(d)),
                Cell(d.rows, "integer"),
                Cell(info.rows_written, "integer"),
                Cell(truncated),
                Cell(d.source),
                Cell(" ".join(n for n in (d.note, _floor_note(floored[d.name])) if n) or None),
                Cell(f"*-{d.name}.csv"),
            ]
        )
    book.add_cells(SUMMARY, rows, [34, 44, 14, 40, 30, 60, 30])


def _floor_note(floored: int) -> str:
    return FLOOR_NOTE.format(n=floored) + "." if floored else ""
