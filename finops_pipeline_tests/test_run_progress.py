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
