"""The demo's summary lines (the full demo is `make demo`; its run is the pipeline the other tests run)."""

import dagster as dg

from finops_pipeline.demo import rows_line, run_full_history
from finops_pipeline.settings import REPORT_FORMATS


def test_the_rows_line_totals_every_table_and_names_the_empty_ones() -> None:
    counts = [("raw.ce_cost_daily", 35_275), ("raw.focus_cost", 0), ("marts.recommendations", 174)]
    assert rows_line(counts) == "Rows: 35,449 in 3 tables; empty: focus_cost"
    assert rows_line(counts[:1]) == "Rows: 35,275 in 1 table"


def test_the_demo_run_names_every_asset_as_its_target() -> None:
    """The UI's runs list shows a run's asset selection as its Target: the demo's run must carry one."""

    class ReportConfig(dg.Config):
        formats: list[str]

    @dg.asset
    def ce_cost_daily() -> int:
        return 1

    @dg.asset(deps=[ce_cost_daily])
    def finops_report(config: ReportConfig) -> int:
        return len(config.formats)

    defs = dg.Definitions(assets=[ce_cost_daily, finops_report])
    with dg.instance_for_test() as instance:
        result, _ = run_full_history(defs, instance, "CRITICAL")
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.asset_selection == {
            dg.AssetKey("ce_cost_daily"),
            dg.AssetKey("finops_report"),
        }
        assert result.output_for_node("finops_report") == len(REPORT_FORMATS)
