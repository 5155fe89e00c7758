"""``make demo``: materialize every asset over the full history as real Dagster runs, then summarise.

Runs go into the instance at ``$DAGSTER_HOME`` so ``make ui`` shows them afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import duckdb

from finops_pipeline import tables
from finops_pipeline.clock import today_utc
from finops_pipeline.lib.cost_window import range_tags
from finops_pipeline.lib.run_recovery import fail_dead_runs
from finops_pipeline.lib.savings import total_monthly_savings
from finops_pipeline.settings import REPORT_FORMATS, load_settings

# every table of the raw and marts layers (meta holds the run's own bookkeeping, shown as CE requests)
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


def run_full_history(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    settings = load_settings()
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        instance=instance,
        tags=range_tags(settings.start_date, today_utc()),
        run_config=REPORT_RUN_CONFIG,
        raise_on_error=False,
    )


def report_summary(result: dg.ExecuteInProcessResult) -> str:
    """The report files the run wrote (finops_report's metadata), for the summary."""
    events = result.asset_materializations_for_node("finops_report")
    if not events:
        return "Reports: none written (finops_report did not materialize)"
    files = events[-1].metadata["files"].value
    folder = events[-1].metadata["output_dir"].value
    lines = [f"Reports written to {folder} ({len(files)} files):"]
    lines += [f"  {Path(path).name}" for path in files]
    return "\n".join(lines)


def summary(database: Path, run_id: str) -> str:
    lines = []
    with duckdb.connect(str(database), read_only=True) as conn:
        lines.append("Rows per table:")
        for table in SUMMARY_TABLES:
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            lines.append(f"  {table:<32} {count:>10,}")
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


def main() -> int:
    from finops_pipeline.definitions import defs as load_defs

    settings = load_settings()
    defs = load_defs()
    with dg.DagsterInstance.get() as instance:
        for dead in fail_dead_runs(instance):  # a killed earlier run must not block this one
            print(f"Run {dead.run_id} ({dead.job_name}) failed: its process {dead.pid} is gone")
        result = run_full_history(defs, instance)
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    print(f"Run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    if failed:
        print(f"Failed steps: {', '.join(failed)}", file=sys.stderr)
    print(summary(settings.duckdb_path, result.run_id))
    print(report_summary(result))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
