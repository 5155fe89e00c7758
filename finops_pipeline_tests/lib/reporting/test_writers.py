"""Every format written from synthetic datasets full of injection payloads, opened with the reader users use."""

# ruff: noqa: E501  (expected Summary text is long)

import csv
import datetime as dt
import json
import zipfile
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from finops_pipeline.lib.reporting.columns import label
from finops_pipeline.lib.reporting.datasets import SPECS, totals
from finops_pipeline.lib.reporting.report import report_meta, write_files
from finops_pipeline.lib.reporting.safety import report_dir
from finops_pipeline.lib.reporting.writers.xlsx import CURRENCY_FORMAT, column_letter
from finops_pipeline_tests.lib.reporting.synthetic import PERIOD, big_dataset, datasets, risky

META = {
    **report_meta("finops-report-test", PERIOD, dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)),
    "title": "FinOps report test",
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list, dict]:
    root = tmp_path_factory.mktemp("project")
    data = datasets()
    figures = totals(data, PERIOD, 1000.0)
    files, facts = write_files(
        report_dir("reports", root), "finops-report-test", ("csv", "json", "xlsx", "parquet", "html"),
        META, figures, data, max_excel_rows=1_048_575, root=root,
    )  # fmt: skip
    return files, data, facts


def _by_suffix(files: list[Path], suffix: str) -> list[Path]:
    return [f for f in files if f.suffix == suffix]


def test_one_file_per_dataset_for_csv_and_parquet_one_for_the_rest(written) -> None:
    files, _data, _ = written
    assert len(_by_suffix(files, ".csv")) == len(SPECS) == len(_by_suffix(files, ".parquet"))
    assert [len(_by_suffix(files, s)) for s in (".json", ".xlsx", ".html")] == [1, 1, 1]
    assert all(f.is_file() and f.name.startswith("finops-report-test") for f in files)
    assert not [p for p in files[0].parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_csv_opens_with_pythons_csv_and_neutralises_text(written) -> None:
    files, data, _ = written
    for d in data:
        path = next(f for f in files if f.name.endswith(f"-{d.name}.csv"))
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == d.table.column_names
        assert len(rows) - 1 == d.rows
        for r, source in zip(rows[1:], d.table.to_pylist(), strict=True):
            for cell, (name, value) in zip(r, source.items(), strict=True):
                assert not risky(cell), (d.name, name, cell)
                kind = d.kinds[name]
                if kind in ("currency", "percent", "number") and value is not None:
                    assert float(cell) == pytest.approx(value)  # real numbers untouched, negatives too
                elif kind == "date":
                    assert cell == value.isoformat()
                elif kind == "text" and value is not None and not risky(value):
                    assert cell == value


def test_json_is_one_payload_with_every_string_neutralised(written) -> None:
    files, data, _ = written
    payload = json.loads(_by_suffix(files, ".json")[0].read_text(encoding="utf-8"))
    assert set(payload["datasets"]) == {d.name for d in data}
    assert payload["report"]["period_start"] == "2026-10-01"
    seen = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                seen.append(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            seen.append(node)

    walk(payload)
    assert not [s for s in seen if risky(s)]
    offenders = payload["datasets"]["worst_offenders"]["rows"]
    tags = offenders[1]["tags"]
    assert isinstance(tags, dict) and "Nested" in tags  # JSON columns embedded as objects
    assert any(k.startswith("'") for k in tags)  # a hostile key neutralised
    costs = payload["datasets"]["cost_by_day"]["rows"]
    expected = data[0].table.column("unblended_usd").to_pylist()
    assert [row["unblended_usd"] for row in costs] == expected  # numbers stay numbers
    assert payload["datasets"]["budget_status"]["note"].startswith("No data")


def test_parquet_round_trips_with_pyarrow(written) -> None:
    files, data, _ = written
    for d in data:
        path = next(f for f in files if f.name.endswith(f"-{d.name}.parquet"))
        table = pq.read_table(path)
        assert table.column_names == d.table.column_names
        assert table.num_rows == d.rows
        assert json.loads(table.schema.metadata[b"finops.column_kinds"]) == d.kinds
    cost = pq.read_table(next(f for f in files if f.name.endswith("-cost_by_day.parquet")))
    assert cost.schema.field("usage_date").type == "date32[day]"


def test_excel_has_summary_styled_sheets_and_neutralised_cells(written) -> None:
    files, data, _ = written
    book = openpyxl.load_workbook(_by_suffix(files, ".xlsx")[0])
    assert book.sheetnames == ["Summary", "Charts", *[d.title for d in data]]
    for d in data:
        sheet = book[d.title]
        assert sheet.freeze_panes == "A2"
        last = column_letter(len(d.table.column_names) - 1)
        assert sheet.auto_filter.ref == f"A1:{last}{d.rows + 1}"
        header = [c.value for c in sheet[1]]
        assert header == [label(c) for c in d.table.column_names]  # human titles; CSV keeps the names
        header = d.table.column_names
        assert all(c.font.b and c.fill.fgColor.rgb == "FF1F3864" for c in sheet[1])
        for name in d.table.column_names:
            assert 8 <= sheet.column_dimensions[column_letter(header.index(name))].width <= 60
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    assert not risky(cell.value), (d.title, cell.coordinate, cell.value)
                    assert cell.data_type != "f"
                kind = d.kinds[header[cell.column - 1]]
                if cell.value is None:
                    continue
                if kind == "currency":
                    assert cell.number_format == CURRENCY_FORMAT
                elif kind == "percent":
                    assert cell.number_format == "0.00%"
                elif kind == "date":
                    assert cell.number_format == "yyyy-mm-dd" and isinstance(cell.value, dt.datetime)
        values = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
        for got, source in zip(values, d.table.to_pylist(), strict=True):
            for value, (name, original) in zip(got, source.items(), strict=True):
                kind = d.kinds[name]
                if kind == "currency" and original is not None:
                    assert value == pytest.approx(original)
                if kind == "percent" and original is not None:
                    assert value == pytest.approx(original / 100)  # Excel percent: 0.5 shows 50.00%
    summary = book["Summary"]
    labels = {row[0].value: row[1].value for row in summary.iter_rows() if row[0].value}
    assert labels["Total unblended cost"] == pytest.approx(totals(data, PERIOD)["total_unblended_usd"])
    assert "2026-10-01" in labels["Period"]


def test_excel_row_cap_is_reported_on_the_summary(tmp_path: Path) -> None:
    data = [big_dataset(2_500), *datasets(5)[1:]]
    files, facts = write_files(
        report_dir("r", tmp_path), "capped", ("xlsx",), META, totals(data, PERIOD), data,
        max_excel_rows=1_000, root=tmp_path,
    )  # fmt: skip
    assert facts["excel_truncated"] == {"cost_by_day": 2_500}
    book = openpyxl.load_workbook(files[0], read_only=True)
    assert book["Cost by day"].max_row == 1_001
    rows = list(book["Summary"].iter_rows(values_only=True))
    line = next(r for r in rows if r[0] == "Cost by day")
    assert line[1:4] == (
        2_500,
        1_000,
        "yes: 1,000 of 2,500 rows (MAX_EXCEL_ROWS=1,000); all rows are in the CSV / Parquet files",
    )
    other = next(r for r in rows if r[0] == "Cost by service")
    assert other[3] == "no" and other[6] == "*-cost_by_service.csv"


def test_xlsx_is_a_valid_package(written) -> None:
    files, _, _ = written
    with zipfile.ZipFile(_by_suffix(files, ".xlsx")[0]) as z:
        names = set(z.namelist())
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "_rels/.rels"} <= names
        assert z.testzip() is None
        workbook = z.read("xl/workbook.xml").decode()
        assert "_xlnm._FilterDatabase" in workbook


def test_excel_has_native_charts_on_the_data_cells(written) -> None:
    files, data, _ = written
    book = openpyxl.load_workbook(_by_suffix(files, ".xlsx")[0])
    charts = book["Charts"]._charts
    assert [type(c).__name__ for c in charts] == ["LineChart", "BarChart"]
    trend, services = charts
    days = next(d for d in data if d.name == "cost_by_day").rows
    assert [s.val.numRef.f for s in trend.series] == [f"'Cost by day'!$B$2:$B${days + 1}"]
    assert trend.series[0].cat.numRef.f == f"'Cost by day'!$A$2:$A${days + 1}"
    assert [s.val.numRef.f for s in services.series] == ["'Cost by service'!$B$2:$B$11"]  # top 10
    assert services.series[0].cat.numRef.f == "'Cost by service'!$A$2:$A$11"
    assert services.type == "bar" and services.x_axis.scaling.orientation == "maxMin"
    # the referenced cells hold the dataset's figures: the chart draws the report's numbers
    sheet = book["Cost by day"]
    drawn = [sheet.cell(row=r, column=2).value for r in range(2, days + 2)]
    cost = next(d for d in data if d.name == "cost_by_day").table.column("unblended_usd").to_pylist()
    assert drawn == pytest.approx(cost)


def test_excel_prints_landscape_one_page_wide_with_repeated_headers(written) -> None:
    files, data, _ = written
    book = openpyxl.load_workbook(_by_suffix(files, ".xlsx")[0])
    for name in book.sheetnames:
        sheet = book[name]
        assert sheet.page_setup.orientation == "landscape", name
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, name
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0), name
        assert sheet.oddFooter.right.text == "Page &P of &N", name
    for d in data:
        assert book[d.title].print_title_rows == "$1:$1", d.title


def test_excel_shows_a_negative_expected_usage_cost_as_zero_and_says_so(tmp_path: Path) -> None:
    from finops_pipeline_tests.lib.reporting.test_html_chromium import _with

    data = _with(
        datasets(),
        "anomalies",
        {"service": ["Amazon RDS", "Credits"], "actual_usd": [10.48, -5.0],
         "expected_usd": [-0.91, -4.0], "impact_usd": [11.39, -1.0]},
    )  # fmt: skip
    files, _ = write_files(
        report_dir("r", tmp_path), "t", ("xlsx", "csv"), META, totals(data, PERIOD), data, 100, tmp_path
    )
    sheet = openpyxl.load_workbook(_by_suffix(files, ".xlsx")[0])["Cost anomalies"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert [(r["Actual"], r["Expected"], r["Impact"]) for r in rows] == [
        (10.48, 0.0, 10.48),
        (-5.0, -4.0, -1.0),
    ]
    summary = [
        r
        for r in openpyxl.load_workbook(_by_suffix(files, ".xlsx")[0])["Summary"].iter_rows(values_only=True)
    ]
    note = next(r[5] for r in summary if r[0] == "Cost anomalies")
    assert note.startswith("1 expected cost(s) below $0.00 shown as $0.00")
    with next(f for f in files if f.name.endswith("-anomalies.csv")).open(encoding="utf-8-sig") as handle:
        assert "-0.91" in handle.read()  # the data files keep the detector's value
