"""The per-account cost grains from the sandbox's Data Export (FINOPS_COST_DETAIL_SOURCE=data_export).

The export is the sandbox's FOCUS 1.0 Parquet in moto S3, read over HTTP by the pipeline's aws resource;
the reference is the session's Cost Explorer ingest of the same world (``ingested_warehouse``): every
row, all three metrics, equal to the cent, and the Cost Explorer requests each run made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finops_pipeline_tests.focus_support import sandbox_s3, whole_and_behind
from finops_pipeline_tests.pipeline_fixtures import query, run_pipeline, step_failures
from finops_sandbox.data_exports import DataExport
from finops_sandbox.server import Sandbox

CENT = Decimal("0.01")
GRAINS = {
    "ce_cost_daily": ("raw.ce_cost_daily", "account_id, service"),
    "ce_cost_by_account_usage_type": ("raw.ce_cost_by_account_usage_type", "account_id, usage_type"),
    "ce_cost_by_tag": ("raw.ce_cost_by_tag", "account_id, tag_key, tag_value"),
}
# Cost Explorer pages of a run from the export: the days it lacks, one stream per required tag key.
STREAMS = {"ce_cost_daily": 1, "ce_cost_by_account_usage_type": 1, "ce_cost_by_tag": 4}
ROWS_SQL = (
    "SELECT usage_date, {keys}, unblended_cost, amortized_cost, net_unblended_cost FROM {table} ORDER BY ALL"
)


@pytest.fixture(scope="module")
def exports(sandbox: Sandbox) -> Iterator[dict[str, DataExport]]:
    """Two deliveries in the session sandbox: the whole ledger, and one two days behind it."""
    yield from whole_and_behind(sandbox, "finops-detail")


def _run(
    database: Path, env_for: Callable[..., dict[str, str]], uri: str, start: dt.date | None = None
) -> dict[str, dict[str, Any]]:
    """The grains from ``start`` (the full history) from ``uri``; each asset's run figures."""
    env_for(database, FOCUS_EXPORT_URI=uri, FINOPS_COST_DETAIL_SOURCE="data_export")
    result = run_pipeline(start, assets=list(GRAINS))
    assert result.success, step_failures(result)
    return {
        name: {k: v.value for k, v in result.asset_observations_for_node(name)[0].metadata.items()}
        for name in GRAINS
    }


def _assert_rows_equal(database: Path, reference: Path, since: dt.date = dt.date.min) -> None:
    for table, keys in GRAINS.values():
        ours, theirs = (
            [r for r in query(db, ROWS_SQL.format(keys=keys, table=table)) if r[0] >= since]
            for db in (database, reference)
        )
        assert len(ours) == len(theirs) > 1000, table
        width = len(keys.split(",")) + 1
        assert [r[:width] for r in ours] == [r[:width] for r in theirs], table
        pairs = zip(ours, theirs, strict=True)
        worst = max(
            abs(Decimal(a) - Decimal(b)) for x, y in pairs for a, b in zip(x[width:], y[width:], strict=True)
        )
        assert worst < CENT, (table, worst)


def test_the_export_gives_every_day_it_holds_without_cost_explorer(
    tmp_path: Path,
    exports: dict[str, DataExport],
    pipeline_env_for: Callable[..., dict[str, str]],
    ingested_warehouse: Path,
    sandbox: Sandbox,
) -> None:
    database = tmp_path / "finops.duckdb"
    figures = _run(database, pipeline_env_for, exports["whole"].uri)
    world = sandbox.world
    days = (world.data_end - world.history_start).days
    for name, observed in figures.items():
        # Only today, which no source holds yet: one (empty) page of Cost Explorer per stream.
        assert observed["ce_requests"] == STREAMS[name], name
        assert observed["detail_source"] == "data_export"
        assert observed["export_days_read"] == days, name
        assert observed["export_files_read"] == 14, name  # 13 closed months and November
        assert observed["detail_source_fallback"] == ""
    _assert_rows_equal(database, ingested_warehouse)
    (estimated,) = query(database, "SELECT min(usage_date) FROM raw.ce_cost_daily WHERE is_estimated")[0]
    assert estimated == dt.date(2026, 11, 1)  # November open on the 27th, October final


def test_days_the_export_lacks_yet_come_from_cost_explorer(
    tmp_path: Path,
    exports: dict[str, DataExport],
    pipeline_env_for: Callable[..., dict[str, str]],
    ingested_warehouse: Path,
    sandbox: Sandbox,
) -> None:
    database = tmp_path / "finops.duckdb"
    figures = _run(database, pipeline_env_for, exports["behind"].uri)
    days = (sandbox.world.data_end - sandbox.world.history_start).days
    for name, observed in figures.items():
        assert observed["export_days_read"] == days - 2, name
        assert observed["window_days_read"] == days + 1, name  # and today, from Cost Explorer
        # The two days the export lacks and today: one page a stream at 12 accounts (the whole history
        # is 40-165 a stream).
        assert observed["ce_requests"] == STREAMS[name], name
    _assert_rows_equal(database, ingested_warehouse)


def test_an_unreadable_export_falls_back_to_cost_explorer_and_says_so(
    tmp_path: Path,
    pipeline_env_for: Callable[..., dict[str, str]],
    ingested_warehouse: Path,
) -> None:
    database = tmp_path / "finops.duckdb"
    november = dt.date(2026, 11, 1)
    figures = _run(database, pipeline_env_for, "s3://finops-no-such-export/focus/finops-focus", november)
    for name, observed in figures.items():
        assert "NoSuchBucket" in observed["detail_source_fallback"], name
        assert observed["export_days_read"] == 0
        assert observed["window_days_read"] == 27, name  # every day of November to date, paid
    _assert_rows_equal(database, ingested_warehouse, november)


def test_the_daily_refresh_takes_restatements_from_the_next_delivery(
    tmp_path: Path, pipeline_env_for: Callable[..., dict[str, str]], sandbox_factory: Any
) -> None:
    """Yesterday's days from Cost Explorer; today's delivery restates an estimated day older than the
    trailing three: the refresh from the export holds today's figures of every November day, paying
    Cost Explorer only for today."""
    from finops_pipeline.lib.cost_window import refresh_tags
    from finops_pipeline.settings import load_settings
    from finops_pipeline_tests.conftest import sandbox_config
    from finops_pipeline_tests.defs.ingest.test_restatement_and_paging import daily_rows, truth_daily
    from finops_sandbox.world import build_world

    late = {"late_restatement_days": 3}
    today = sandbox_config().as_of
    yesterday_world = sandbox_factory(config=sandbox_config(as_of=today - dt.timedelta(days=1), **late))
    today_world = sandbox_factory(config=sandbox_config(as_of=today, **late))
    database = tmp_path / "finops.duckdb"
    first = today.replace(day=1)
    pipeline_env_for(database, yesterday_world)
    assert run_pipeline(first, today - dt.timedelta(days=1), assets=list(GRAINS)).success
    before = daily_rows(database)

    world = build_world(sandbox_config(as_of=today, **late))  # the background sandbox's own world
    export = DataExport(sandbox_s3(today_world.env()), "finops-detail-refresh")
    export.publish(world)
    pipeline_env_for(
        database, today_world, FOCUS_EXPORT_URI=export.uri, FINOPS_COST_DETAIL_SOURCE="data_export"
    )
    refresh = run_pipeline(assets=list(GRAINS), tags=refresh_tags(load_settings(), today))
    assert refresh.success, step_failures(refresh)
    after = daily_rows(database)
    truth = truth_daily(world, first)
    assert {k: v[0] for k, v in after.items() if k[0] >= first} == truth  # every day to the cent
    late_day = today - dt.timedelta(days=5)
    assert any(after[k][0] != before[k][0] for k in after if k[0] == late_day), "the late day moved"
    for name in GRAINS:
        observed = {k: v.value for k, v in refresh.asset_observations_for_node(name)[0].metadata.items()}
        assert observed["ce_requests"] == STREAMS[name], name
        assert observed["export_days_read"] == (today - first).days, name  # 1 to 26 November
