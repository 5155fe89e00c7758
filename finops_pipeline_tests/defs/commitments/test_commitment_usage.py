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


# --- FINOPS_SP_COVERAGE_ACCOUNT_DAYS: Savings Plans coverage per account every N days, else organisation-wide
SP_DAYS_SQL = """
SELECT usage_date, round(sum(covered_cost), 2), round(sum(on_demand_cost), 2) FROM raw.commitment_coverage
WHERE commitment_type LIKE 'Savings Plans: %' AND usage_date >= ? AND usage_date < ? GROUP BY 1 ORDER BY 1
"""
ORGANIZATION_SQL = """
SELECT usage_date, round(covered_cost, 2), round(on_demand_cost, 2), per_account
FROM raw.sp_coverage_organization ORDER BY 1
"""
SP_KPIS_SQL = """
SELECT usage_date, scope = 'organization', round(eligible_on_demand_usd, 2), coverage_pct,
       effective_savings_rate_pct, coverage_known
FROM marts.commitment_kpis
WHERE commitment_type = 'Savings Plans: Compute' AND usage_date >= ? AND usage_date < ? ORDER BY 1, 2
"""


def _sp_days(database: Path) -> list[tuple[Any, ...]]:
    return query(database, SP_DAYS_SQL, [START, END])


def test_with_weekly_account_coverage_a_refresh_reads_the_organisation_in_one_request(
    warehouse_copy: Path, pipeline_env_for: Any
) -> None:
    before, per_account = _window(warehouse_copy), _sp_days(warehouse_copy)
    pipeline_env_for(warehouse_copy, FINOPS_SP_COVERAGE_ACCOUNT_DAYS="7")
    result = run_pipeline(START, END, assets=["commitment_usage"])
    assert result.success
    # the full history read these days per account: the accounts' Savings Plans rows stay as they are
    assert _requests(warehouse_copy, result.run_id)["GetSavingsPlansCoverage"] == 1
    assert _window(warehouse_copy) == before
    # the organisation's one answer equals its accounts' answers, to the cent, day by day
    organization = query(warehouse_copy, ORGANIZATION_SQL)
    assert [row[:3] for row in organization] == per_account
    assert [row[3] for row in organization] == [True, True, True]
    assert len(per_account) == 3 and all(
        covered > 0 and on_demand > 0 for _, covered, on_demand in per_account
    )


def test_days_never_read_per_account_show_the_organisation_and_unknown_accounts_until_n_days_pass(
    warehouse_copy: Path, pipeline_env_for: Any
) -> None:
    per_account = _sp_days(warehouse_copy)
    with duckdb.connect(str(warehouse_copy)) as conn:  # the window as weekly reads leave it between reads
        conn.execute(
            "DELETE FROM raw.commitment_coverage WHERE commitment_type LIKE 'Savings Plans: %' "
            "AND usage_date >= ? AND usage_date < ?",
            [START, END],
        )
    pipeline_env_for(warehouse_copy, FINOPS_SP_COVERAGE_ACCOUNT_DAYS="7")
    weekly = run_pipeline(START, END, assets=["commitment_usage", "commitment_kpis"])
    assert weekly.success
    assert _requests(warehouse_copy, weekly.run_id)["GetSavingsPlansCoverage"] == 1
    assert query(warehouse_copy, ORGANIZATION_SQL) == [(*row, False) for row in per_account]
    kpis = query(warehouse_copy, SP_KPIS_SQL, [START, END])
    organization = [row for row in kpis if row[1]]
    # the organisation's coverage is the one it had when every account was read (eligible $, covered %)
    assert [(d, e) for d, _, e, *_ in organization] == [(d, e) for d, _, e in per_account]
    for (_, _, _, pct, _, known), (_, c, e) in zip(organization, per_account, strict=True):
        assert known and abs(pct - float(100 * c / (c + e))) < 0.01
    accounts = [row for row in kpis if not row[1]]
    assert len(accounts) >= 3  # the accounts owning plans: unknown coverage, not 0%
    assert all(pct is None and rate is None and known is False for *_, pct, rate, known in accounts)
    # two days later (FINOPS_SP_COVERAGE_ACCOUNT_DAYS=2 here): the oldest unread day is 2 days old
    pipeline_env_for(warehouse_copy, FINOPS_SP_COVERAGE_ACCOUNT_DAYS="2")
    again = run_pipeline(START, END, assets=["commitment_usage"])
    assert again.success
    calls = _requests(warehouse_copy, again.run_id)["GetSavingsPlansCoverage"]
    assert calls == _accounts(warehouse_copy) + 1
    assert _sp_days(warehouse_copy) == per_account
    assert [row[3] for row in query(warehouse_copy, ORGANIZATION_SQL)] == [True, True, True]


# --- the daily refresh: its trailing days, and older days of its range only from the first one that moved
MONTH = (dt.date(2026, 11, 1), SANDBOX_AS_OF)
TAIL = dt.date(2026, 11, 22)  # restated_start: the last FINOPS_RESTATEMENT_DAYS + 1 days before today


def _month(database: Path) -> list[tuple[Any, ...]]:
    return query(database, WINDOW_SQL, [*MONTH, *MONTH])


def _daily_refresh(database: Path) -> tuple[dict[str, int], dict[str, Any]]:
    from finops_pipeline.lib.cost_window import refresh_tags
    from finops_pipeline.settings import load_settings

    result = run_pipeline(assets=["commitment_usage"], tags=refresh_tags(load_settings(), SANDBOX_AS_OF))
    assert result.success
    observed = [
        e.event_specific_data.asset_observation.metadata
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ][-1]
    return _requests(database, result.run_id), {k: v.value for k, v in observed.items()}


def test_a_daily_refresh_probes_older_days_and_reads_only_from_the_first_that_moved(
    warehouse_copy: Path, pipeline_env_for: Any
) -> None:
    before = _month(warehouse_copy)
    pipeline_env_for(warehouse_copy)
    calls, seen = _daily_refresh(warehouse_copy)
    # nothing moved since the full history: the trailing five days are read, the 21 older ones probed
    assert (seen["window_checked_start"], seen["window_start"]) == ("2026-11-01", TAIL.isoformat())
    assert seen["days_probed_unchanged"] == 21
    assert _month(warehouse_copy) == before
    accounts = _accounts(warehouse_copy)
    # the probe: one request per family and RI service (6); RI coverage of the five days read per day
    assert calls["GetReservationCoverage"] == 2 + 5 * 2
    assert calls["GetSavingsPlansCoverage"] == 1 + accounts
    assert sum(calls.values()) - calls["GetCallerIdentity"] == 35
    # a day Cost Explorer has restated since it was stored (here: its stored figure is off by $5)
    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(
            "UPDATE raw.commitment_utilization SET used_commitment = used_commitment + 5 "
            "WHERE usage_date = '2026-11-10' AND account_id = (SELECT min(account_id) "
            "FROM raw.commitment_utilization WHERE usage_date = '2026-11-10')"
        )
    calls, seen = _daily_refresh(warehouse_copy)
    assert (seen["window_start"], seen["days_probed_unchanged"]) == ("2026-11-10", 9)
    assert _month(warehouse_copy) == before  # read again, as Cost Explorer answers it
    # 17 days of RI coverage: per account now (2 per account), cheaper than per day (2 per day)
    assert calls["GetReservationCoverage"] == 2 + 2 * accounts
