"""Pages as small as AWS can make them, and a restated day corrected by the next daily refresh."""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.defs.automation.windows import REFRESH_TAG, refresh_window, restated_start
from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.pipeline_fixtures import run_pipeline

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


def test_a_restated_day_is_corrected_by_the_next_daily_run(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    today = sandbox.world.config.as_of
    yesterday_world = sandbox_factory(config=sandbox_config(as_of=today - dt.timedelta(days=1)))
    database = tmp_path / "restated.duckdb"
    pipeline_env_for(database, yesterday_world)
    first = today - dt.timedelta(days=12)
    assert run_pipeline(first, today - dt.timedelta(days=1), assets=COST_ASSETS).success
    seen_yesterday = daily_rows(database)

    pipeline_env_for(database, sandbox)  # the next day: the world observed today
    start, end = refresh_window(load_settings(), today)
    assert run_pipeline(start, end, assets=COST_ASSETS).success
    seen_today = daily_rows(database)

    expected_world = sandbox.world
    truth = {
        (r["period_start"], r["LINKED_ACCOUNT"], r["SERVICE"]): r["amount"]
        for r in expected_world.truth_totals(
            "DAILY", ["LINKED_ACCOUNT", "SERVICE"], "UnblendedCost"
        ).to_pylist()
        if r["period_start"] >= first
    }
    assert {k: v[0] for k, v in seen_today.items()} == truth
    restated_day = today - dt.timedelta(days=4)  # estimated yesterday, final today
    changed = [
        k
        for k in seen_today
        if k[0] == restated_day and seen_today[k][0] != seen_yesterday.get(k, (None,))[0]
    ]
    assert changed, "the restated day should have moved"
    assert all(not seen_today[k][3] for k in seen_today if k[0] == restated_day)
    assert all(seen_yesterday[k][3] for k in seen_yesterday if k[0] == restated_day)
    untouched = [k for k in seen_today if k[0] < start]  # before the refresh window (month close: the 1st)
    assert all(seen_today[k] == seen_yesterday[k] for k in untouched)
    assert sum(v[0] for v in seen_today.values()) == sum(truth.values(), Decimal(0))


def test_the_month_close_refresh_rereads_last_month_but_not_for_the_usage_only_grain(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    close_day = (sandbox.world.config.as_of - dt.timedelta(days=1)).replace(day=2)
    world = sandbox_factory(config=sandbox_config(as_of=close_day))
    database = tmp_path / "close.duckdb"
    pipeline_env_for(database, world)
    settings = load_settings()
    start, end = refresh_window(settings, close_day)
    assert start == first_of_month_months_ago(close_day, 1)
    usage_rows = "SELECT * FROM raw.ce_cost_by_account_usage_type ORDER BY ALL"

    # The same range as a backfill: every grain reads all of it.
    assert run_pipeline(start, end, assets=COST_ASSETS).success
    with duckdb.connect(str(database), read_only=True) as conn:
        backfilled = conn.execute(usage_rows).fetchall()
    # As the daily refresh: the usage-only grain re-reads the restated days alone and keeps the rest.
    refresh = run_pipeline(start, end, assets=COST_ASSETS, tags={REFRESH_TAG: "daily"})
    assert refresh.success
    window = {
        asset: refresh.asset_materializations_for_node(asset)[0].metadata["window_start"].value
        for asset in COST_ASSETS
    }
    assert window.pop("ce_cost_by_account_usage_type") == restated_start(settings, close_day).isoformat()
    assert set(window.values()) == {start.isoformat()}
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute(usage_rows).fetchall() == backfilled
        pages = dict(
            conn.execute(
                "SELECT run_id = ?, sum(pages) FROM meta.api_call_log "
                "WHERE asset_key = 'ce_cost_by_account_usage_type' GROUP BY 1",
                [refresh.run_id],
            ).fetchall()
        )
    assert pages == {False: 3, True: 1}  # a month of 12 accounts' usage types: 3 pages; 5 days: 1
