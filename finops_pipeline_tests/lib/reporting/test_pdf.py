"""The executive PDF, opened with pypdf (a PDF reader): its pages, figures, tables and inert text."""

import re
from pathlib import Path

import pyarrow as pa
import pypdf
import pytest

from finops_pipeline.lib.reporting.chart_data import kpi_items, money
from finops_pipeline.lib.reporting.columns import VIEWS, label
from finops_pipeline.lib.reporting.datasets import SPEC_BY_NAME, Dataset, empty_table, totals
from finops_pipeline.lib.reporting.report import write_files
from finops_pipeline.lib.reporting.safety import report_dir
from finops_pipeline.lib.reporting.writers.pdf_report import plain
from finops_pipeline_tests.lib.reporting.synthetic import PERIOD, datasets
from finops_pipeline_tests.lib.reporting.test_writers import META

MARKUP = "**bold** <b>x</b> [go](http://evil.example/)"  # within a cell's 60 characters


def _pdf(tmp_path: Path, data: list[Dataset]) -> tuple[Path, dict, dict]:
    figures = totals(data, PERIOD, 900.0)
    files, facts = write_files(
        report_dir("r", tmp_path), "t", ("pdf",), META, figures, data, 1000, root=tmp_path
    )
    return files[0], facts, figures


def _text(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def test_pdf_opens_with_the_period_total_and_every_kpi(tmp_path: Path) -> None:
    path, facts, figures = _pdf(tmp_path, datasets())
    reader = pypdf.PdfReader(path)
    assert len(reader.pages) == facts["pdf_pages"] == 5 and path.stat().st_size == facts["pdf_bytes"]
    assert reader.metadata.title == META["title"]
    cover = _text(path)[0]
    assert money(figures["total_unblended_usd"]) in cover  # the period's total, to the cent
    assert "2026-10-01 to 2026-10-31" in cover
    for name, value in kpi_items(figures):
        assert f"{value}\n{name}" in cover, (name, value)
    assert "Page 1 of 5" in cover


def test_pdf_tables_are_the_views_with_labels_and_what_the_files_hold(tmp_path: Path) -> None:
    path, _, _ = _pdf(tmp_path, datasets())
    text = "\n".join(_text(path))
    assert "Cost trend" in text and "Top services" in text and "Savings per month" in text
    for name in ("top_movers", "anomalies", "recommendations", "worst_offenders"):
        view = VIEWS[name]
        assert " ".join(label(c) for c in view.columns) in text.replace("\n", " "), name
    assert "10 of 20 rows, 8 of 22 columns shown: all of them are in the CSV / Excel / Parquet files" in text


def test_pdf_prints_untrusted_text_as_text(tmp_path: Path) -> None:
    data = datasets()
    spec = SPEC_BY_NAME["top_movers"]
    rows = {
        "account_name": [MARKUP, "Zürich-データ Łódź", "line one\r\nline two"],
        "service": ['=HYPERLINK("http://evil.example","x")', "Москва Σύνοψη", "+cmd"],
        "change_usd": [3.0, 2.0, 1.0],
    }
    table = pa.table(
        {c: pa.array(rows.get(c, [None] * 3), empty_table(spec).schema.field(c).type) for c in spec.columns}
    )
    data = [d if d.name != "top_movers" else Dataset(spec, table, "synthetic") for d in data]
    path, _, _ = _pdf(tmp_path, data)
    text = " ".join(_text(path)).replace("\n", " ")
    assert MARKUP in text  # markdown and HTML printed as the characters they are, not bold, not links
    # Latin, Greek and Cyrillic as written (the embedded font draws them); CJK, which it lacks, as ?
    assert "Zürich-??? Łódź" in text and "Москва Σύνοψη" in text and "line one line two" in text
    assert '=HYPERLINK("http://evil.example","x")' in text
    reader = pypdf.PdfReader(path)
    assert all("/Annots" not in page for page in reader.pages)  # no link anywhere
    raw = path.read_bytes()
    # fpdf2's /OpenAction is the first page's zoom (a destination, not an action): not matched here
    assert not re.search(rb"/URI|/JavaScript|/JS\b|/Launch|/SubmitForm|/AA\b", raw)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\x00b\x1bc", "abc"),
        ("tab\there", "tab here"),
        ("…–—−€", "…–—−€"),
        ("Kraków", "Kraków"),
        ("東京", "??"),
        ("x" * 70, "x" * 59 + "…"),
    ],
)
def test_plain_text_keeps_what_the_font_draws_without_controls(value: str, expected: str) -> None:
    assert plain(value, 60) == expected
