"""commitment_usage on a daily refresh: read per day (one grouped request per day), same rows as the
full history read per account, at a fraction of the requests; a failed grouped request labels every
account and keeps their stored days."""

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_pipeline_tests.pipeline_fixtures import query, run_pipeline
from finops_sandbox.faults import Faults

# A refresh of three closed days, the month's close included: 2026-11-24 .. 2026-11-26.
START, END = SANDBOX_AS_OF - dt.timedelta(days=3), SANDBOX_AS_OF
WINDOW_SQL = """
SELECT 'u', usage_date, account_id, commitment_type, total_commitment, used_commitment, net_savings,
       NULL, NULL
FROM raw.commitment_utilization WHERE usage_date >= ? AND usage_date < ?
UNION ALL
SELECT 'c', usage_date, account_id, commitment_type, covered_cost, on_demand_cost, NULL, covered_hours,
       on_demand_hours
FROM raw.commitment_coverage WHERE usage_date >= ? AND usage_date < ?
ORDER BY ALL
"""


def _window(database: Path) -> list[tuple[Any, ...]]:
    return query(database, WINDOW_SQL, [START, END, START, END])


def _requests(database: Path, run_id: str) -> dict[str, int]:
    rows = query(
        database,
        "SELECT operation, sum(calls) FROM meta.api_call_log WHERE asset_key = 'commitment_usage' "
        "AND run_id = ? GROUP BY 1",
        [run_id],
    )
    return {op: int(n) for op, n in rows}


def _statuses(database: Path) -> dict[str, int]:
    sql = "SELECT status, count(*) FROM raw.scan_status WHERE source = 'ce_commitments' GROUP BY 1"
    return dict(query(database, sql))


def _accounts(database: Path) -> int:
    return query(database, "SELECT count(*) FROM raw.aws_accounts")[0][0]


def test_a_daily_refresh_reads_coverage_per_day_and_gives_the_same_rows(
    warehouse_copy: Path, pipeline_env_for: Any
) -> None:
    before = _window(warehouse_copy)  # the full history's rows, read per account
    pipeline_env_for(warehouse_copy)
    result = run_pipeline(START, END, assets=["commitment_usage"])
    assert result.success
    assert _window(warehouse_copy) == before
    assert len(before) > 50
    accounts = _accounts(warehouse_copy)
    calls = _requests(warehouse_copy, result.run_id)
    # per day: one grouped coverage request per day and RI service, instead of one per account and service
    assert calls["GetReservationCoverage"] == 3 * 2
    assert calls["GetSavingsPlansCoverage"] == accounts  # AWS has no per-account grouping for it
    assert _statuses(warehouse_copy) == {"ok": accounts}
    observed = [
        e.event_specific_data.asset_observation.metadata
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observed[-1]["ri_coverage_read"].value == "per day"
    assert observed[-1]["ce_requests_if_per_account"].value - observed[-1]["ce_requests_planned"].value == (
        accounts * 2 - 6
    )


def test_a_refused_grouped_request_labels_every_account_and_keeps_their_days(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox_factory: Any
) -> None:
    before = _window(warehouse_copy)
    faulted = sandbox_factory(faults=Faults(deny_operations=frozenset({"GetReservationCoverage"})))
    pipeline_env_for(warehouse_copy, faulted)
    result = run_pipeline(START, END, assets=["commitment_usage"])
    assert result.success
    assert _window(warehouse_copy) == before  # nothing dropped, nothing doubled
    assert _statuses(warehouse_copy) == {"access_denied": _accounts(warehouse_copy)}
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        details = {d for (d,) in conn.execute(
            "SELECT DISTINCT detail FROM raw.scan_status WHERE source = 'ce_commitments'"
        ).fetchall()}  # fmt: skip
    assert len(details) == 1 and "GetReservationCoverage" in details.pop()
