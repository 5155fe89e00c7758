"""The demo's progress: one line per asset step with its seconds and key figures; checks only counted."""

import io

import dagster as dg

from finops_pipeline.log_config import RunProgress, progress_logger


@dg.asset
def spend() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={"dagster/row_count": 12, "ce_cost_usd": 0.03, "unblended_cost_usd": 1234.5}
    )


@dg.asset_check(asset=spend)
def spend_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


def test_one_line_per_asset_step_and_the_checks_counted() -> None:
    defs = dg.Definitions(assets=[spend], asset_checks=[spend_is_positive], jobs=[dg.define_asset_job("j")])
    job = defs.resolve_job_def("j")
    out = io.StringIO()
    progress = RunProgress(out, len(job.graph.nodes))
    job = job.with_logger_defs({"progress": progress_logger(progress)})
    result = job.execute_in_process(run_config={"loggers": {"progress": {}}}, raise_on_error=False)
    assert result.success
    (line,) = out.getvalue().splitlines()  # the check's step prints nothing
    assert line.startswith("[1/2] spend ")
    assert line.endswith("12 rows, unblended_cost_usd $1,234.50")  # not the API calls' ce_cost_usd
    assert progress.checks_line() == "Checks: 0 passed, 1 failed (spend_is_positive)"


DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-29", end_date="2026-12-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def usage(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """As commitment_usage: each day its own figures (the last one empty), the window on an observation."""
    per_day = {"2026-11-29": (4, 10.0, 80.0), "2026-11-30": (0, 0.0, 0.0)}
    for key in context.partition_keys:
        rows, usd, pct = per_day[key]
        context.add_asset_metadata(
            {"dagster/row_count": rows, "commitment_usd": usd, "utilization_pct": pct}, partition_key=key
        )
    window = {"table_rows": 4, "commitment_usd": 10.0, "utilization_pct": 80.0, "ce_cost_usd": 0.02}
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata=window))
    return dg.MaterializeResult()


def test_a_partitioned_step_shows_its_window_not_its_last_day() -> None:
    job = dg.Definitions(assets=[usage], jobs=[dg.define_asset_job("u")]).resolve_job_def("u")
    out = io.StringIO()
    progress = RunProgress(out, len(job.graph.nodes))
    job = job.with_logger_defs({"progress": progress_logger(progress)})
    tags = {
        "dagster/asset_partition_range_start": "2026-11-29",
        "dagster/asset_partition_range_end": "2026-11-30",
    }
    result = job.execute_in_process(run_config={"loggers": {"progress": {}}}, tags=tags)
    assert result.success
    (line,) = out.getvalue().splitlines()
    # The last day (0 rows, $0.00, 0%) would read as a broken asset; the window is $10.00 at 80%.
    assert line.endswith("4 rows, commitment_usd $10.00, utilization_pct 80.0%"), line
