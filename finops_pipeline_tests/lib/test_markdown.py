"""Metadata tables: untrusted names cannot split a cell or end the table."""

from finops_pipeline.lib.markdown import md_table, usd


def test_a_pipe_or_line_break_in_a_value_stays_inside_its_cell() -> None:
    rows = [("prod | `x`", 1234.5), ("two\nlines", None), ("third", 1.0)]
    table = md_table(("account", "USD"), ((name, usd(v)) for name, v in rows), limit=2)
    assert table.splitlines() == [
        "| account | USD |",
        "|---|---|",
        "| prod \\| 'x' | 1,234.50 |",
        "| two lines |  |",
    ]


def test_no_rows_gives_the_empty_text_and_cells_are_cut_to_width() -> None:
    assert md_table(("a",), [], limit=5) == "none"
    assert md_table(("a",), [], empty="no anomalies") == "no anomalies"
    assert md_table(("a",), [("x" * 10,)], width=6).splitlines()[2] == "| xxx... |"
