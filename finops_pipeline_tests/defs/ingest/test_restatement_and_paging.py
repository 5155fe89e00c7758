"""Pages as small as AWS can make them, and the daily refresh driven by Cost Explorer's `Estimated` flag.

The refresh re-reads the days the tables hold as estimated (not a fixed trailing window), never a day
stored as final, and within FINOPS_RESTATEMENT_REQUEST_BUDGET requests per stream.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, USAGE_RECORD_TYPES
from finops_pipeline.lib.cost_window import refresh_tags, restated_start
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.world import build_world

COST_ASSETS = tuple(grain.asset_name for grain in COST_GRAINS)


def daily_rows(database: Path, table: str = "raw.ce_cost_daily") -> dict[tuple, tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT usage_date, account_id, service, unblended_cost, amortized_cost, net_unblended_cost, "
            f"is_estimated FROM {table}"
        ).fetchall()
    return {r[:3]: r[3:] for r in rows}


def test_tiny_pages_give_the_same_rows_as_large_ones(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any, ingested_warehouse: Path
) -> None:
    tiny = sandbox_factory(page_size=7)
    database = tmp_path / "tiny.duckdb"
    pipeline_env_for(database, tiny)
    start = sandbox.world.data_end - dt.timedelta(days=10)
    result = run_pipeline(start, sandbox.world.data_end, assets=["ce_cost_daily"])
    assert result.success
    big = {k: v for k, v in daily_rows(ingested_warehouse).items() if k[0] >= start}
    assert daily_rows(database) == big
    with duckdb.connect(str(database), read_only=True) as conn:
        pages = conn.execute(
            "SELECT pages FROM meta.api_call_log "
            "WHERE asset_key = 'ce_cost_daily' AND operation = 'GetCostAndUsage'"
        ).fetchone()[0]
    flattened = len(big) + 1  # today's period has no groups yet and still takes its place in the answer
    assert pages == -(-flattened // 7)  # ceil: every page full but the last


def truth_daily(world: Any, first: dt.date) -> dict[tuple, Decimal]:
    return {
        (r["period_start"], r["LINKED_ACCOUNT"], r["SERVICE"]): r["amount"]
        for r in world.truth_totals("DAILY", ["LINKED_ACCOUNT", "SERVICE"], "UnblendedCost").to_pylist()
        if r["period_start"] >= first
    }


def pages_by_asset(database: Path, run_id: str) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return dict(
            conn.execute(
                "SELECT asset_key, sum(pages) FROM meta.api_call_log WHERE run_id = ? "
                "AND operation = 'GetCostAndUsage' GROUP BY 1",
                [run_id],
            ).fetchall()
        )


def window_starts(result: Any) -> dict[str, str]:
    return {
        asset: result.asset_observations_for_node(asset)[0].metadata["window_start"].value
        for asset in COST_ASSETS
    }


def test_a_late_restatement_five_days_back_is_picked_up_by_the_next_daily_run(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    """A day older than the trailing three, still estimated, changes: the next refresh re-reads it."""
    today = sandbox.world.config.as_of
    late = {"late_restatement_days": 3}
    yesterday_world = sandbox_factory(config=sandbox_config(as_of=today - dt.timedelta(days=1), **late))
    today_world = sandbox_factory(config=sandbox_config(as_of=today, **late))
    database = tmp_path / "restated.duckdb"
    pipeline_env_for(database, yesterday_world)
    first = today.replace(day=1)  # the refresh's range: days before it are final
    assert run_pipeline(first, today - dt.timedelta(days=1), assets=COST_ASSETS).success
    seen_yesterday = daily_rows(database)

    pipeline_env_for(database, today_world)  # the next day: the world observed today
    settings = load_settings()
    refresh = run_pipeline(assets=COST_ASSETS, tags=refresh_tags(settings, today))
    assert refresh.success
    seen_today = daily_rows(database)
    truth = truth_daily(build_world(sandbox_config(as_of=today, **late)), first)
    assert {k: v[0] for k, v in seen_today.items()} == truth  # every day to the cent, the late one too
    late_day = today - dt.timedelta(days=5)
    assert late_day < restated_start(settings, today)  # the old fixed window would not have read it
    changed = [k for k in seen_today if k[0] == late_day and seen_today[k][0] != seen_yesterday[k][0]]
    assert changed, "the late restated day should have moved"
    assert all(seen_today[k][3] for k in seen_today if k[0] == late_day)  # and is still estimated
    # The region grain's November fits two pages: read whole. Every other grain's older days are probed
    # first, and read from the oldest day whose total moved: today - 7, the oldest day yesterday's world
    # restated late (today's no longer does). November 1-19 had not moved: kept, still estimated.
    starts = window_starts(refresh)
    assert starts.pop("ce_cost_by_region") == first.isoformat()
    assert set(starts.values()) == {(today - dt.timedelta(days=7)).isoformat()}
    for asset in starts:
        metadata = refresh.asset_observations_for_node(asset)[0].metadata
        assert metadata["estimated_days_unchanged"].value == 19
        assert metadata["window_days_read"].value == 8  # 3 late days and the newest 5
        assert metadata["estimated_days_not_reread"].value == 0


def test_a_day_stored_as_final_is_not_read_again(
    tmp_path: Path, pipeline_env_for: Any, monkeypatch: Any, sandbox_factory: Any
) -> None:
    """November is estimated on 4 December, final on the 5th: read once more then, never after."""
    extras = {"month_close_extras": True}
    # 5,000-group pages: four days fit one page per stream and the request budget never bites (the cap has
    # its own test below); this one is about final days.
    dec4 = sandbox_factory(config=sandbox_config(as_of=dt.date(2026, 12, 4), **extras), page_size=5000)
    dec5 = sandbox_factory(config=sandbox_config(as_of=dt.date(2026, 12, 5), **extras), page_size=5000)
    database = tmp_path / "final.duckdb"
    pipeline_env_for(database, dec4)
    monkeypatch.setenv("FINOPS_TODAY", "2026-12-04")
    assert run_pipeline(dt.date(2026, 11, 1), dt.date(2026, 12, 4), assets=COST_ASSETS).success
    assert all(row[3] for row in daily_rows(database).values())  # all estimated

    pipeline_env_for(database, dec5)
    monkeypatch.setenv("FINOPS_TODAY", "2026-12-05")
    day = dt.date(2026, 12, 5)
    first = run_pipeline(assets=COST_ASSETS, tags=refresh_tags(load_settings(), day))
    assert first.success
    # November must be looked at again, since it was estimated. The region grain's fits one page: read.
    # Every other grain probes it first: no day's total moved, so all 30 are flagged final unread.
    starts = window_starts(first)
    assert starts.pop("ce_cost_by_region") == "2026-11-01"
    assert set(starts.values()) == {"2026-12-01"}
    for asset in starts:
        assert first.asset_observations_for_node(asset)[0].metadata["days_flagged_final_unread"].value == 30
    stored = daily_rows(database)
    assert not any(v[3] for k, v in stored.items() if k[0] < dt.date(2026, 12, 1))  # now stored final
    assert {k: v[0] for k, v in stored.items()} == truth_daily(
        build_world(sandbox_config(as_of=day, **extras)), dt.date(2026, 11, 1)
    )
    reconcile_month_close_record_types(database, build_world(sandbox_config(as_of=day, **extras)))
    second = run_pipeline(assets=COST_ASSETS, tags=refresh_tags(load_settings(), day))
    assert second.success
    assert set(window_starts(second).values()) == {"2026-12-01"}  # final November is not read again
    before, after = pages_by_asset(database, first.run_id), pages_by_asset(database, second.run_id)
    assert sum(after.values()) < sum(before.values())
    # Four days of December: one page per stream (5 grains, 4 tag keys: 8 streams).
    # (the month-close reconciliation check of last month adds its own request on each run)
    assert {k: v for k, v in after.items() if k in COST_ASSETS} == dict.fromkeys(COST_ASSETS, 1) | {
        "ce_cost_by_tag": 4
    }
    assert daily_rows(database) == stored


def reconcile_month_close_record_types(database: Path, world: Any) -> None:
    """November per record type: the usage grain is the usage types, the rest is each month-close type."""
    month = dt.date(2026, 11, 1)
    truth = {
        r["RECORD_TYPE"]: r["amount"]
        for r in world.truth_totals("MONTHLY", ["RECORD_TYPE"]).to_pylist()
        if r["period_start"] == month
    }
    assert {"Fee", "Discount", "BundledDiscount", "RIFee", "SavingsPlanRecurringFee", "Recurring"} <= set(
        truth
    )
    query = "SELECT sum(unblended_cost) FROM {} WHERE usage_date >= ? AND usage_date < ?"
    with duckdb.connect(str(database), read_only=True) as conn:
        total, usage = (
            conn.execute(query.format(table), [month, dt.date(2026, 12, 1)]).fetchone()[0]
            for table in ("raw.ce_cost_daily", "raw.ce_cost_by_account_usage_type")
        )
    cent = Decimal("0.01")
    assert abs(total - sum(truth.values())) < cent
    assert abs(usage - sum(v for k, v in truth.items() if k in USAGE_RECORD_TYPES)) < cent
    month_close = sum(v for k, v in truth.items() if k not in USAGE_RECORD_TYPES)
    assert abs((total - usage) - month_close) < cent and month_close != 0


def test_a_refresh_of_an_unchanged_month_probes_it_and_reads_only_the_newest_days(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    """The world has not moved since the backfill: one ungrouped request confirms the older days."""
    tiny = sandbox_factory(page_size=50)
    database = tmp_path / "unchanged.duckdb"
    pipeline_env_for(database, tiny, FINOPS_RESTATEMENT_REQUEST_BUDGET="2")
    today = sandbox.world.config.as_of
    assert run_pipeline(today.replace(day=1), today, assets=["ce_cost_daily"]).success
    before = daily_rows(database)
    settings = load_settings()
    refresh = run_pipeline(assets=["ce_cost_daily"], tags=refresh_tags(settings, today))
    assert refresh.success
    metadata = refresh.asset_observations_for_node("ce_cost_daily")[0].metadata
    tail = restated_start(settings, today)
    tail_groups = sum(1 for k in before if k[0] >= tail) + 1  # today's empty period takes its place too
    pages = pages_by_asset(database, refresh.run_id)["ce_cost_daily"]
    assert pages == 1 + -(-tail_groups // 50)  # the probe, then the newest days
    assert metadata["estimated_days_unchanged"].value == (tail - today.replace(day=1)).days
    assert metadata["estimated_days_not_reread"].value == 0
    assert metadata["window_start"].value == tail.isoformat()
    assert daily_rows(database) == before


def test_the_request_budget_caps_the_reread_of_moved_days_and_keeps_the_newest_days(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    """Budget 1 on 50-group pages: the days that moved stay as stored, labelled; the newest are read."""
    today = sandbox.world.config.as_of
    late = {"late_restatement_days": 3}
    yesterday = sandbox_factory(
        config=sandbox_config(as_of=today - dt.timedelta(days=1), **late), page_size=50
    )
    database = tmp_path / "budget.duckdb"
    pipeline_env_for(database, yesterday, FINOPS_RESTATEMENT_REQUEST_BUDGET="1")
    first = today.replace(day=1)
    assert run_pipeline(first, today - dt.timedelta(days=1), assets=["ce_cost_daily"]).success
    seen_yesterday = daily_rows(database)
    pipeline_env_for(
        database, sandbox_factory(config=sandbox_config(as_of=today, **late), page_size=50),
        FINOPS_RESTATEMENT_REQUEST_BUDGET="1",
    )  # fmt: skip
    settings = load_settings()
    refresh = run_pipeline(assets=["ce_cost_daily"], tags=refresh_tags(settings, today))
    assert refresh.success
    metadata = refresh.asset_observations_for_node("ce_cost_daily")[0].metadata
    tail = restated_start(settings, today)
    # Moved: today - 7 .. tail - 1, restated late by one world or the other.
    moved = [today - dt.timedelta(days=d) for d in range(7, (today - tail).days, -1)]
    assert metadata["estimated_days_not_reread"].value == len(moved) == 3
    assert metadata["estimated_days_unchanged"].value == (tail - first).days - len(moved)
    rows = daily_rows(database)
    tail_groups = sum(1 for k in rows if k[0] >= tail) + 1
    pages = pages_by_asset(database, refresh.run_id)["ce_cost_daily"]
    assert pages == 1 + 1 + -(-tail_groups // 50)  # the probe, the budget's page, the newest days
    truth = truth_daily(build_world(sandbox_config(as_of=today, **late)), first)
    assert {k: v for k, v in rows.items() if k[0] in moved} == {
        k: v for k, v in seen_yesterday.items() if k[0] in moved
    }  # as stored, and flagged estimated for the next run
    assert {k: v[0] for k, v in rows.items() if k[0] not in moved} == {
        k: v for k, v in truth.items() if k[0] not in moved
    }
    assert any(rows[k][0] != truth[k] for k in rows if k[0] in moved)
