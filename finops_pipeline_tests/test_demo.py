"""The demo's summary lines (the full demo is `make demo`; its run is the pipeline the other tests run)."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finops_pipeline.defs.focus.partitions import FOCUS_PERIODS
from finops_pipeline.demo import import_focus_export, rows_line, run_full_history
from finops_pipeline.settings import REPORT_FORMATS

WORKSPACE = Path(__file__).resolve().parents[1] / "workspace.yaml"
SAMPLE_DIR = Path(__file__).parent / "data" / "focus"


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


def test_the_full_history_run_leaves_the_billing_period_assets_out_but_runs_their_checks() -> None:
    """The FOCUS assets are partitioned by billing period, the run by day: they have their own run
    (``import_focus_export``), and their checks run in the full-history one, after Cost Explorer's days."""

    @dg.asset
    def ce_cost_daily() -> None:
        return None

    @dg.asset(partitions_def=FOCUS_PERIODS)
    def focus_cost() -> None:
        return None

    @dg.asset_check(asset=focus_cost, additional_deps=[ce_cost_daily])
    def focus_matches_cost_explorer() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    defs = dg.Definitions(
        assets=[ce_cost_daily, focus_cost],
        asset_checks=[focus_matches_cost_explorer],
        executor=dg.in_process_executor,
    )
    with dg.instance_for_test() as instance:
        result, _ = run_full_history(defs, instance, "CRITICAL", WORKSPACE)
        assert result.success
        assert instance.get_run_by_id(result.run_id).asset_selection == {dg.AssetKey("ce_cost_daily")}
        assert [e.check_name for e in result.get_asset_check_evaluations()] == ["focus_matches_cost_explorer"]


def test_the_demo_imports_every_billing_period_of_a_configured_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FOCUS_EXPORT_URI set: its periods become partitions and one focus_import_job run imports them all
    (here the FinOps Foundation sample: one period, September 2024), without the checks."""
    from finops_pipeline.definitions import defs as load_defs

    monkeypatch.setenv("FOCUS_EXPORT_URI", str(SAMPLE_DIR))
    monkeypatch.setenv("FINOPS_DUCKDB_PATH", str(tmp_path / "finops.duckdb"))
    with dg.instance_for_test() as instance:
        result = import_focus_export(load_defs(), instance, WORKSPACE)
        assert result is not None and result.success
        assert instance.get_dynamic_partitions("focus_billing_period") == ["2024-09"]
        for asset in ("focus_cost", "focus_spend_coverage", "focus_showback"):
            assert [m.partition for m in result.asset_materializations_for_node(asset)] == ["2024-09"]
        assert result.get_asset_check_evaluations() == []
        run = instance.get_run_by_id(result.run_id)
        assert run.remote_job_origin.job_name == "focus_import_job"
    with duckdb.connect(str(tmp_path / "finops.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw.focus_cost").fetchone()[0] == 1000
    monkeypatch.delenv("FOCUS_EXPORT_URI")
    with dg.instance_for_test() as instance:
        assert import_focus_export(load_defs(), instance, WORKSPACE) is None  # no export: no run
