"""The demo's summary lines (the full demo is `make demo`; its run is the pipeline the other tests run)."""

from pathlib import Path

import dagster as dg

from finops_pipeline.demo import rows_line, run_full_history
from finops_pipeline.settings import REPORT_FORMATS

WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"


def test_the_rows_line_totals_every_table_and_names_the_empty_ones() -> None:
    counts = [("raw.ce_cost_daily", 35_275), ("raw.focus_cost", 0), ("marts.recommendations", 174)]
    assert rows_line(counts) == "Rows: 35,449 in 3 tables; empty: focus_cost"
    assert rows_line(counts[:1]) == "Rows: 35,275 in 1 table"


def test_the_demo_run_has_a_target_and_the_workspace_origin_the_timeline_needs() -> None:
    """The UI's runs list shows a run's asset selection as its Target, and its Timeline draws only runs
    whose origin names the workspace's code location and repository: the demo's run must carry both."""

    class ReportConfig(dg.Config):
        formats: list[str]

    @dg.asset
    def ce_cost_daily() -> int:
        return 1

    @dg.asset(deps=[ce_cost_daily])
    def finops_report(config: ReportConfig) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"formats": len(config.formats)})

    defs = dg.Definitions(assets=[ce_cost_daily, finops_report], executor=dg.in_process_executor)
    with dg.instance_for_test() as instance:
        result, _ = run_full_history(defs, instance, "CRITICAL", WORKSPACE)
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.asset_selection == {
            dg.AssetKey("ce_cost_daily"),
            dg.AssetKey("finops_report"),
        }
        origin = run.remote_job_origin
        assert origin is not None and origin.job_name == "__ASSET_JOB"
        # what workspace.yaml names and what `make ui` loads: location finops_pipeline, one repository
        assert origin.repository_origin.code_location_origin.location_name == "finops_pipeline"
        assert origin.repository_origin.repository_name == "__repository__"
        report = result.asset_materializations_for_node("finops_report")
        assert report[-1].metadata["formats"].value == len(REPORT_FORMATS)
