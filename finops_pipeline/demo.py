"""``make demo``: materialize every asset over the full history as real Dagster runs, then summarise.

Runs go into the instance at ``$DAGSTER_HOME`` so ``make ui`` shows them afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import yaml
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import create_execution_plan, execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.snap import snapshot_from_execution_plan
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from finops_pipeline import tables
from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.focus.partitions import (
    FOCUS_PARTITIONED,
    all_periods_tags,
    export_source,
    register_periods,
)
from finops_pipeline.lib.cost_window import range_tags
from finops_pipeline.lib.run_recovery import fail_dead_runs
from finops_pipeline.lib.savings import total_monthly_savings
from finops_pipeline.log_config import DAGSTER_LOG_LEVELS, RunProgress, progress_logger
from finops_pipeline.settings import REPORT_FORMATS, load_settings

# every table of the raw and marts layers (meta holds the run's own bookkeeping, shown as CE requests)
FOCUS_KEYS = frozenset(dg.AssetKey(name) for name in FOCUS_PARTITIONED)
SUMMARY_TABLES = tuple(t.name for t in tables.TABLES if t.layer != "meta")
HEADLINES_SQL = """
SELECT
    (SELECT round(compliance_pct, 1) FROM marts.tag_compliance_summary
      WHERE dimension = 'overall' ORDER BY snapshot_date DESC LIMIT 1),
    (SELECT round(spend_coverage_pct, 1) FROM marts.tag_compliance_summary
      WHERE dimension = 'overall' ORDER BY snapshot_date DESC LIMIT 1),
    (SELECT count(*) FROM marts.cost_anomalies
      WHERE source = 'finops_pipeline' AND grain = 'account_service'),
    (SELECT coalesce(sum(impact_usd), 0) FROM marts.cost_anomalies
      WHERE source = 'finops_pipeline' AND grain = 'account_service')
"""
SAVINGS_BY_KIND_SQL = """
SELECT kind, coalesce(sum(estimated_monthly_savings_usd), 0) FROM marts.recommendations GROUP BY 1
"""
LAST_THREE_MONTHS_SQL = """
-- The three complete months before $month (the 1st of today's month), then $month itself to date.
SELECT strftime(date_trunc('month', usage_date), '%Y-%m') AS month,
       sum(unblended_cost) AS unblended, sum(amortized_cost) AS amortized,
       sum(net_unblended_cost) AS net_unblended, count(DISTINCT usage_date) AS days
FROM raw.ce_cost_daily
WHERE usage_date >= CAST($month AS DATE) - INTERVAL 3 MONTH AND usage_date < $today
GROUP BY 1 ORDER BY 1
"""
CE_REQUESTS_SQL = """
SELECT coalesce(sum(pages), 0), coalesce(sum(estimated_cost_usd), 0)
FROM meta.api_calls WHERE service = 'ce' AND run_id = ?
"""


# make demo writes the report in every format (the asset's default is REPORT_DEFAULT_FORMATS).
REPORT_RUN_CONFIG = {"ops": {"finops_report": {"config": {"formats": list(REPORT_FORMATS)}}}}


def workspace_job_origin(workspace: Path, job_name: str) -> RemoteJobOrigin | None:
    """The origin the UI gives ``job_name`` of the workspace's code location (None: no workspace file).

    Why: the UI's Timeline draws only runs whose origin names a code location and repository
    (``repositoryOrigin``); an in-process run has none, so the demo's run was missing there. It names the
    location ``make ui`` loads from ``workspace.yaml`` (its ``python_module`` entry) and the repository a
    ``Definitions`` object becomes.
    """
    if not workspace.is_file():
        return None
    (entry,) = yaml.safe_load(workspace.read_text())["load_from"]
    module = entry["python_module"]
    target = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name=module["module_name"],
        working_directory=str(workspace.parent),
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, module["location_name"])
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


def full_history_selection(
    job: dg.JobDefinition,
) -> tuple[frozenset[dg.AssetKey], frozenset[dg.AssetCheckKey]]:
    """What a run over a range of days materialises: every asset but the FOCUS ones (partitioned by
    billing period, which a range of days cannot hold), and every check."""
    assets = frozenset(job.asset_layer.executable_asset_keys - FOCUS_KEYS)
    return assets, frozenset(job.asset_layer.asset_graph.asset_check_keys)


def run_full_history(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    dagster_log_level: str,
    workspace: Path,
) -> tuple[dg.JobExecutionResult, RunProgress]:
    """The whole history as one run: Dagster's console at ``dagster_log_level``, progress one line a step.

    The run is created with every asset as its selection (the UI's runs list shows it as the Target) and
    with the origin of ``workspace``'s code location (the Timeline shows it), then executed here. The
    FOCUS assets are partitioned by billing period, not by day, so ``import_focus_export`` runs them
    before; their checks run here, after Cost Explorer's days, which the reconcile check compares with.
    """
    settings = load_settings()
    job = defs.resolve_implicit_global_asset_job_def()
    assets, checks = full_history_selection(job)
    steps = len(job.get_subset(asset_selection=assets, asset_check_selection=checks).graph.nodes)
    progress = RunProgress(sys.stdout, steps)  # one step per node: assets and checks
    job = job.with_logger_defs({"console": dg.colored_console_logger, "progress": progress_logger(progress)})
    loggers = {"console": {"config": {"log_level": dagster_log_level}}, "progress": {}}
    run = _create_run(
        instance,
        job,
        assets,
        checks,
        run_config={**REPORT_RUN_CONFIG, "loggers": loggers},
        tags={**job.run_tags, **range_tags(settings.start_date, today_utc())},
        origin=workspace_job_origin(workspace, job.name),
    )
    return execute_run(InMemoryJob(job), run, instance), progress


def _create_run(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    assets: frozenset[dg.AssetKey],
    checks: frozenset[dg.AssetCheckKey],
    run_config: dict[str, Any],
    tags: dict[str, str],
    origin: RemoteJobOrigin | None,
) -> dg.DagsterRun:
    """A run of ``job`` selecting ``assets`` and ``checks`` (``create_run_for_job`` takes no check
    selection: it would keep only the checks of the selected assets, not those of the FOCUS assets)."""
    subset = job.get_subset(asset_selection=assets, asset_check_selection=checks)
    plan = create_execution_plan(subset, run_config=run_config, tags=tags)
    return instance.create_run(
        job_name=job.name,
        run_id=None,
        run_config=run_config,
        status=None,
        tags=tags,
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=snapshot_from_execution_plan(plan, subset.get_job_snapshot_id()),
        job_snapshot=subset.get_job_snapshot(),
        parent_job_snapshot=subset.get_parent_job_snapshot(),
        asset_selection=assets,
        asset_check_selection=checks,
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=origin,
        job_code_origin=None,
        asset_graph=subset.asset_layer.asset_graph,
    )


def import_focus_export(
    defs: dg.Definitions, instance: dg.DagsterInstance, workspace: Path
) -> dg.JobExecutionResult | None:
    """Every billing period of the FOCUS export (FOCUS_EXPORT_URI) as one run; None: no export or periods.

    What ``focus_export_sensor`` does a period at a time, for the whole export at once: its periods are
    added as partitions, then ``focus_import_job`` runs over all of them, without the checks (the
    full-history run holds them).
    """
    settings = load_settings()
    uri = settings.focus_export_uri
    if uri is None:
        return None
    if not register_periods(instance, export_source(uri, resources_for(settings)["aws"])):
        return None
    job = defs.resolve_job_def("focus_import_job")
    run = _create_run(
        instance,
        job,
        frozenset(job.asset_layer.executable_asset_keys),
        frozenset(),
        run_config={},
        tags={**job.run_tags, **all_periods_tags(instance)},
        origin=workspace_job_origin(workspace, job.name),
    )
    return execute_run(InMemoryJob(job), run, instance)


def report_summary(result: dg.JobExecutionResult) -> str:
    """The report files the run wrote (finops_report's metadata), in one line per folder."""
    events = result.asset_materializations_for_node("finops_report")
    if not events:
        return "Reports: none written (finops_report did not materialize)"
    files = [Path(path) for path in events[-1].metadata["files"].value]
    folder = events[-1].metadata["output_dir"].value
    kinds = Counter(path.suffix.lstrip(".") for path in files)
    html = next((path.name for path in files if path.suffix == ".html"), None)
    line = (
        f"Reports: {len(files)} files in {folder} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
    )
    return line + (f"\n  open {folder}/{html}" if html else "")


def rows_line(counts: list[tuple[str, int]]) -> str:
    """The warehouse's rows in one line, naming the empty tables: each asset's own rows are already on
    its progress line, and a table per line made the demo's output 14 lines longer."""
    empty = [t.split(".", 1)[1] for t, n in counts if n == 0]
    total = sum(n for _, n in counts)
    tables_word = "table" if len(counts) == 1 else "tables"
    named = f"; empty: {', '.join(empty)}" if empty else ""
    return f"Rows: {total:,} in {len(counts)} {tables_word}{named}"


def summary(database: Path, run_id: str) -> str:
    lines = []
    with duckdb.connect(str(database), read_only=True) as conn:
        counts = [(t, conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in SUMMARY_TABLES]
        lines.append(rows_line(counts))
        today = today_utc()
        lines.append("Cost of the last three full months, then this month's complete days (USD):")
        lines.append(f"  {'month':<8} {'unblended':>14} {'amortized':>14} {'net unblended':>14}")
        params = {"month": today.replace(day=1), "today": today}
        for month, unblended, amortized, net, days in conn.execute(LAST_THREE_MONTHS_SQL, params).fetchall():
            to_date = f"  (to date, {days} days)" if month == today.strftime("%Y-%m") else ""
            lines.append(f"  {month:<8} {unblended:>14,.2f} {amortized:>14,.2f} {net:>14,.2f}{to_date}")
        score, coverage, anomalies, impact = conn.execute(HEADLINES_SQL).fetchone()
        savings = total_monthly_savings(dict(conn.execute(SAVINGS_BY_KIND_SQL).fetchall()))
        lines.append(f"Tag compliance score {score}% of resources; spend coverage {coverage}% of cost")
        lines.append(f"Anomalies (account x service): {anomalies}, net impact ${impact:,.2f}")
        lines.append(f"Savings found: ${savings:,.2f} a month (waste, rightsizing, the larger of RI / SP)")
        requests, dollars = conn.execute(CE_REQUESTS_SQL, [run_id]).fetchone()
        lines.append(f"Cost Explorer requests this run: {requests} (${dollars:.2f} at $0.01 each)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m finops_pipeline.demo", description=__doc__)
    parser.add_argument(
        "--dagster-log-level",
        type=str.upper,
        choices=DAGSTER_LOG_LEVELS,
        default="INFO",
        help="level of Dagster's own console log (DEBUG prints every event, one line per partition per "
        "asset); `make demo DAGSTER_LOG_LEVEL=DEBUG` passes it (default INFO)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from finops_pipeline.definitions import defs as load_defs

    args = parse_args(argv)
    settings = load_settings()
    defs = load_defs()
    print(
        f"Demo: every asset over {settings.start_date} .. {today_utc()} into {settings.duckdb_path}, "
        f"scan regions {','.join(settings.scan_regions)}; one line per asset as it finishes"
    )
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        for dead in fail_dead_runs(instance):  # a killed earlier run must not block this one
            print(f"Run {dead.run_id} ({dead.job_name}) failed: its process {dead.pid} is gone")
        focus = import_focus_export(defs, instance, settings.project_root / "workspace.yaml")
        if focus is not None:
            print(
                f"FOCUS export imported by run {focus.run_id}: {'succeeded' if focus.success else 'FAILED'}"
            )
        result, progress = run_full_history(
            defs, instance, args.dagster_log_level, settings.project_root / "workspace.yaml"
        )
    elapsed = time.monotonic() - started
    print(progress.checks_line())
    if progress.failed_steps:
        print(f"Failed steps: {', '.join(progress.failed_steps)}", file=sys.stderr)
    print(summary(settings.duckdb_path, result.run_id))
    print(report_summary(result))
    verdict = "succeeded" if result.success else "FAILED"
    print(f"Run {result.run_id} {verdict} in {elapsed:.0f} s; `make ui` shows it at http://127.0.0.1:3000")
    return 0 if result.success and (focus is None or focus.success) else 1


if __name__ == "__main__":
    sys.exit(main())
