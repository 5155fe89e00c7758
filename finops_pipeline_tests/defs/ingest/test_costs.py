"""Cost grains against the sandbox's ground truth: every metric, every month, to the cent."""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, USAGE_RECORD_TYPES
from finops_pipeline_tests.pipeline_fixtures import run_pipeline

CENT = Decimal("0.01")
METRICS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
}
GRAIN_TABLES = ("raw.ce_cost_daily", "raw.ce_cost_by_region", "raw.ce_cost_by_usage_type")
COST_ASSETS = tuple(grain.asset_name for grain in COST_GRAINS)


def monthly(
    conn: duckdb.DuckDBPyConnection, table: str, column: str, where: str = "true"
) -> dict[dt.date, Decimal]:
    rows = conn.execute(
        f"SELECT date_trunc('month', usage_date)::DATE, sum({column}) FROM {table} WHERE {where} GROUP BY 1"
    ).fetchall()
    return {month: Decimal(total) for month, total in rows}


def truth(world: Any, granularity: str, group_by: list[str], metric: str) -> dict[tuple, Decimal]:
    table = world.truth_totals(granularity, group_by, metric).to_pylist()
    return {tuple(row[k] for k in ["period_start", *group_by]): row["amount"] for row in table}


@pytest.mark.parametrize("metric", METRICS)
def test_monthly_totals_equal_ground_truth_in_every_grain(
    ingested_warehouse: Path, sandbox: Any, metric: str
) -> None:
    expected = {key[0]: amount for key, amount in truth(sandbox.world, "MONTHLY", [], metric).items()}
    # 13 closed months, plus the current one once it has a day (the ledger ends before the as-of day)
    assert len(expected) == 13 + (sandbox.world.data_end.day > 1)
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        for table in GRAIN_TABLES:
            actual = monthly(conn, table, METRICS[metric])
            assert actual.keys() == expected.keys(), table
            for month, amount in expected.items():
                assert abs(actual[month] - amount) < CENT, (table, month, actual[month], amount)
        for key in ("Environment", "Owner", "Project", "CostCenter"):
            actual = monthly(conn, "raw.ce_cost_by_tag", METRICS[metric], f"tag_key = '{key}'")
            assert all(abs(actual[m] - expected[m]) < CENT for m in expected), key


def test_account_month_totals_equal_ground_truth(ingested_warehouse: Path, sandbox: Any) -> None:
    expected = truth(sandbox.world, "MONTHLY", ["LINKED_ACCOUNT"], "NetUnblendedCost")
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        rows = conn.execute(
            "SELECT date_trunc('month', usage_date)::DATE, account_id, sum(net_unblended_cost) "
            "FROM raw.ce_cost_daily GROUP BY 1, 2"
        ).fetchall()
    actual = {(month, account): Decimal(total) for month, account, total in rows}
    assert actual.keys() == expected.keys()
    assert max(abs(actual[k] - expected[k]) for k in expected) < CENT


def test_account_usage_type_grain_is_usage_without_late_postings(
    ingested_warehouse: Path, sandbox: Any
) -> None:
    """Every account × usage type × month to the cent, usage record types only (no month-close items)."""
    ledger = duckdb.connect()
    ledger.register("ledger", sandbox.world.ledger)
    totals = (
        "SELECT date_trunc('month', usage_date)::DATE, account_id, usage_type, sum(unblended_cost) "
        "FROM {} GROUP BY ALL"
    )
    expected = {
        tuple(keys): Decimal(total)
        for *keys, total in ledger.execute(
            totals.format(f"ledger WHERE record_type IN {tuple(USAGE_RECORD_TYPES)}")
        ).fetchall()
    }
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        rows = conn.execute(totals.format("raw.ce_cost_by_account_usage_type")).fetchall()
    actual = {tuple(keys): Decimal(total) for *keys, total in rows}
    assert len(expected) > 12 * 14 * 10  # accounts × months × usage types
    assert actual.keys() == expected.keys()
    assert max(abs(actual[k] - expected[k]) for k in expected) < CENT
    # Support ("Dollar"), tax, credits, refunds, the Savings Plans fee and the RI fees' HeavyUsage lines.
    month_close = {"Dollar", "Tax", "Credit", "Refund", "ComputeSP:1yrNoUpfront"}
    assert not {key[2] for key in actual} & month_close
    assert not any("HeavyUsage:" in key[2] for key in actual)


def test_untagged_spend_is_the_empty_tag_value(ingested_warehouse: Path, sandbox: Any) -> None:
    expected = truth(sandbox.world, "MONTHLY", ["TAG:Environment"], "UnblendedCost")
    untagged = {k[0]: v for k, v in expected.items() if k[1] == ""}
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        actual = monthly(
            conn, "raw.ce_cost_by_tag", "unblended_cost", "tag_key = 'Environment' AND tag_value = ''"
        )
    assert untagged and all(abs(actual[m] - untagged[m]) < CENT for m in untagged)
    assert sum(untagged.values()) > 0


def test_estimated_flags_cover_exactly_the_days_whose_bill_is_not_final(
    ingested_warehouse: Path, sandbox: Any
) -> None:
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        estimated = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT usage_date FROM raw.ce_cost_daily WHERE is_estimated"
            ).fetchall()
        }
        newest = conn.execute("SELECT max(usage_date) FROM raw.ce_cost_daily").fetchone()[0]
    world = sandbox.world
    # As of the 27th last month's bill is final: every day of this month so far is estimated.
    assert world.estimated_from == world.data_end.replace(day=1)
    assert estimated == {world.estimated_from + dt.timedelta(days=i) for i in range(world.data_end.day - 1)}
    assert newest == world.data_end - dt.timedelta(days=1)


def test_full_backfill_reads_each_grain_as_one_paginated_stream(ingested_warehouse: Path) -> None:
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        per_asset = dict(
            conn.execute(
                "SELECT asset_key, sum(pages) FROM meta.api_call_log WHERE service = 'ce' "
                "AND operation = 'GetCostAndUsage' GROUP BY 1"
            ).fetchall()
        )
        days = conn.execute("SELECT count(DISTINCT usage_date) FROM raw.ce_cost_daily").fetchone()[0]
    one_request_per_day_per_grain = days * (4 + 4)
    assert set(per_asset) >= set(COST_ASSETS)
    assert sum(per_asset.values()) * 10 <= one_request_per_day_per_grain


def table_digest(database: Path) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return {
            table: conn.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {table}").fetchone()
            for table in (*GRAIN_TABLES, "raw.ce_cost_by_account_usage_type", "raw.ce_cost_by_tag")
        }


def test_rerunning_a_range_leaves_identical_tables(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    pipeline_env_for(warehouse_copy)
    before = table_digest(warehouse_copy)
    start = sandbox.world.data_end - dt.timedelta(days=40)
    end = sandbox.world.data_end
    for _ in range(2):
        result = run_pipeline(start, end, assets=COST_ASSETS)
        assert result.success
        assert table_digest(warehouse_copy) == before


def test_the_drilldown_grain_reads_only_its_window_and_keeps_older_days(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    """FINOPS_DRILLDOWN_DAYS=30 over a 60-day backfill: the last 30 days read, to the cent; the 30
    before not read, and what the table held for them kept; the other grains read all 60."""
    pipeline_env_for(warehouse_copy, FINOPS_DRILLDOWN_DAYS="30")
    today = sandbox.world.config.as_of
    start, first_read = today - dt.timedelta(days=60), today - dt.timedelta(days=30)
    query = (
        "SELECT usage_date, account_id, usage_type, unblended_cost FROM raw.ce_cost_by_account_usage_type "
        "WHERE usage_date >= ? AND usage_date < ? ORDER BY ALL"
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        older = conn.execute(query, [start, first_read]).fetchall()
    assert len(older) > 30 * 12 * 10  # the full history had them
    result = run_pipeline(start, today, assets=["ce_cost_by_account_usage_type", "ce_cost_daily"])
    assert result.success
    observed = {
        a: result.asset_observations_for_node(a)[0].metadata
        for a in ("ce_cost_by_account_usage_type", "ce_cost_daily")
    }
    assert observed["ce_cost_by_account_usage_type"]["days_before_drilldown_window"].value == 30
    assert observed["ce_cost_by_account_usage_type"]["window_start"].value == first_read.isoformat()
    assert observed["ce_cost_daily"]["days_before_drilldown_window"].value == 0
    assert observed["ce_cost_daily"]["window_start"].value == start.isoformat()
    ledger = duckdb.connect()
    ledger.register("ledger", sandbox.world.ledger)
    daily = "SELECT usage_date, sum(unblended_cost) FROM {} AND usage_date >= ? AND usage_date < ? GROUP BY 1"
    expected = dict(
        ledger.execute(
            daily.format(f"ledger WHERE record_type IN {tuple(USAGE_RECORD_TYPES)}"), [first_read, today]
        ).fetchall()
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        assert conn.execute(query, [start, first_read]).fetchall() == older
        actual = dict(
            conn.execute(
                daily.format("raw.ce_cost_by_account_usage_type WHERE true"), [first_read, today]
            ).fetchall()
        )
        groups = len(conn.execute(query, [first_read, today + dt.timedelta(days=1)]).fetchall())
        pages = dict(
            conn.execute(
                "SELECT asset_key, sum(pages) FROM meta.api_call_log WHERE run_id = ? GROUP BY 1",
                [result.run_id],
            ).fetchall()
        )
    assert len(expected) == 30 and actual.keys() == expected.keys()
    assert max(abs(Decimal(actual[d]) - Decimal(expected[d])) for d in expected) < CENT
    # One stream over the window alone: its groups (today's empty period takes a place too) in
    # 1,000-group pages.
    assert pages["ce_cost_by_account_usage_type"] == -(-(groups + 1) // 1000)
