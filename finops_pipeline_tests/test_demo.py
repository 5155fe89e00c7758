"""The demo's summary lines (the full demo is `make demo`; its run is the pipeline the other tests run)."""

from finops_pipeline.demo import rows_line


def test_the_rows_line_totals_every_table_and_names_the_empty_ones() -> None:
    counts = [("raw.ce_cost_daily", 35_275), ("raw.focus_cost", 0), ("marts.recommendations", 174)]
    assert rows_line(counts) == "Rows: 35,449 in 3 tables; empty: focus_cost"
    assert rows_line(counts[:1]) == "Rows: 35,275 in 1 table"
