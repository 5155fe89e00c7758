"""Acceptance (#17): each daily partition of a cost asset carries its own day's figures, not the window's."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb

from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures

ASSETS = ("ce_cost_daily", "ce_cost_by_tag")
TAG_KEYS = 4  # the default REQUIRED_TAG_KEYS: ce_cost_by_tag holds every day once per key


def stored_days(database: Path, table: str, divisor: int) -> dict[str, tuple[Decimal, int]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(
            f"SELECT strftime(usage_date, '%Y-%m-%d'), sum(unblended_cost), count(*) FROM {table} GROUP BY 1"
        ).fetchall()
    return {day: (Decimal(total) / divisor, count) for day, total, count in rows}


def test_each_partition_shows_its_own_day_total_as_duckdb_holds_it(
    tmp_path: Path, project: Path, sandbox: object, pipeline_env_for: Callable[..., dict[str, str]]
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    today = sandbox.world.config.as_of  # type: ignore[attr-defined]
    start = today - dt.timedelta(days=40)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = run_pipeline(start, today, assets=ASSETS, instance=instance)
        assert result.success, step_failures(result)
        for asset, divisor in (("ce_cost_daily", 1), ("ce_cost_by_tag", TAG_KEYS)):
            records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
            by_partition = {r.partition_key: r.asset_materialization.metadata for r in records}
            expected = stored_days(database, f"raw.{asset}", divisor)
            days = {
                (start + dt.timedelta(days=n)).isoformat() for n in range((today - start).days + 1)
            }  # through today
            assert set(by_partition) == days, asset  # one materialization per day of the run
            assert set(expected) <= days and len(expected) >= len(days) - 1  # today may have no cost yet
            for day, metadata in by_partition.items():
                total, rows = expected.get(day, (Decimal(0), 0))
                assert metadata["unblended_cost_usd"].value == float(round(total, 2)), (asset, day)
                assert metadata["dagster/row_count"].value == rows, (asset, day)
            shown = [by_partition[d]["unblended_cost_usd"].value for d in sorted(days)]
            assert len(set(shown)) > len(shown) // 2, asset  # a daily trend, not one flat window figure
            (window,) = result.asset_observations_for_node(asset)
            window_total = sum(total for total, _ in expected.values())
            assert window.metadata["window_unblended_cost_usd"].value == float(round(window_total, 2))
            assert window.metadata["window_days"].value == len(days)
            assert window.metadata["ce_requests"].value >= 1
