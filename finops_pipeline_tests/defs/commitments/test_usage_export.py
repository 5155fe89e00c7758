"""commitment_usage from the sandbox's Data Export (FINOPS_COST_DETAIL_SOURCE=data_export).

The reference is the session's Cost Explorer ingest of the same world (``ingested_warehouse``, Savings
Plans coverage read per account every day): every utilization and coverage row, dollars to the cent and
hours to the hundredth, with no Cost Explorer request for the days the export holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from finops_pipeline_tests.focus_support import whole_and_behind
from finops_pipeline_tests.pipeline_fixtures import query, run_pipeline, step_failures
from finops_sandbox.data_exports import DataExport
from finops_sandbox.server import Sandbox

CENT = Decimal("0.01")
ASSETS = ["aws_accounts", "commitment_inventory", "commitment_usage"]
ROWS_SQL = """
SELECT 'u', usage_date, account_id, commitment_type, total_commitment, used_commitment,
       unused_commitment, on_demand_equivalent, net_savings, purchased_hours, used_hours
FROM raw.commitment_utilization WHERE usage_date >= ? AND usage_date < ?
UNION ALL
SELECT 'c', usage_date, account_id, commitment_type, covered_cost, on_demand_cost, 0, 0, 0, covered_hours,
       on_demand_hours
FROM raw.commitment_coverage WHERE usage_date >= ? AND usage_date < ?
ORDER BY ALL
"""
KEYS = 4  # family, day, account, commitment type
MONEY = slice(4, 9)


@pytest.fixture(scope="module")
def exports(sandbox: Sandbox) -> Iterator[dict[str, DataExport]]:
    """Two deliveries in the session sandbox: the whole ledger, and one two days behind it."""
    yield from whole_and_behind(sandbox, "finops-commit")


def _run(
    database: Path, env_for: Callable[..., dict[str, str]], uri: str, start: dt.date | None = None
) -> dict[str, Any]:
    """commitment_usage (after the accounts and the inventory) from ``start`` from ``uri``; its figures."""
    env_for(database, FOCUS_EXPORT_URI=uri, FINOPS_COST_DETAIL_SOURCE="data_export")
    result = run_pipeline(start, assets=ASSETS)
    assert result.success, step_failures(result)
    observed = result.asset_observations_for_node("commitment_usage")[0].metadata
    return {k: v.value for k, v in observed.items()}


def _assert_rows_equal(database: Path, reference: Path, since: dt.date, until: dt.date) -> int:
    """Every row of the window equal: keys exactly, dollars to the cent, hours to the hundredth."""
    ours, theirs = (query(db, ROWS_SQL, [since, until] * 2) for db in (database, reference))
    assert [r[:KEYS] for r in ours] == [r[:KEYS] for r in theirs]
    for mine, reference_row in zip(ours, theirs, strict=True):
        for a, b in zip(mine[MONEY], reference_row[MONEY], strict=True):
            assert abs(Decimal(a) - Decimal(b)) < CENT, (mine, reference_row)
        for a, b in zip(mine[MONEY.stop :], reference_row[MONEY.stop :], strict=True):
            assert (a is None and b is None) or abs(a - b) < 0.01, (mine, reference_row)
    return len(ours)


def test_the_export_gives_every_commitment_day_without_cost_explorer(
    tmp_path: Path,
    exports: dict[str, DataExport],
    pipeline_env_for: Callable[..., dict[str, str]],
    ingested_warehouse: Path,
    sandbox: Sandbox,
) -> None:
    database = tmp_path / "finops.duckdb"
    world = sandbox.world
    observed = _run(database, pipeline_env_for, exports["whole"].uri)
    days = (world.data_end - world.history_start).days
    assert observed["ce_requests"] == 0
    assert observed["detail_source"] == "data_export"
    assert observed["export_days_read"] == days
    assert (observed["days_awaiting_export"], observed["export_terms_unknown"]) == (0, 0)
    # Every account that held a commitment, as the Cost Explorer ingest found them.
    (owners,) = query(ingested_warehouse, "SELECT count(DISTINCT account_id) FROM raw.commitment_utilization")
    assert observed["commitment_owners"] == owners[0] > 0
    rows = _assert_rows_equal(database, ingested_warehouse, world.history_start, world.data_end)
    assert rows > 10_000  # 12 accounts × 395 days of utilization and coverage
    utilization = query(
        database,
        "SELECT round(sum(total_commitment), 2), round(sum(used_commitment), 2), count(*) "
        "FILTER (WHERE purchased_hours IS NULL AND commitment_type LIKE 'Reserved%') "
        "FROM raw.commitment_utilization",
    )
    assert utilization == query(
        ingested_warehouse,
        "SELECT round(sum(total_commitment), 2), round(sum(used_commitment), 2), 0 "
        "FROM raw.commitment_utilization",
    )
    # Savings Plans coverage per account on every day: the organisation's figure is their sum.
    assert query(database, "SELECT bool_and(per_account), count(*) FROM raw.sp_coverage_organization") == [
        (True, days)
    ]


def test_days_the_export_lacks_wait_for_its_next_delivery(
    tmp_path: Path,
    exports: dict[str, DataExport],
    pipeline_env_for: Callable[..., dict[str, str]],
    ingested_warehouse: Path,
    sandbox: Sandbox,
) -> None:
    """Two days behind: those days are not bought from Cost Explorer (a request per day and kind, and the
    organisation's coverage), they are counted as waiting and come with the next delivery."""
    database = tmp_path / "finops.duckdb"
    world = sandbox.world
    observed = _run(database, pipeline_env_for, exports["behind"].uri)
    delivered = world.data_end - dt.timedelta(days=2)
    assert (observed["ce_requests"], observed["days_awaiting_export"]) == (0, 2)
    assert observed["export_days_read"] == (delivered - world.history_start).days
    _assert_rows_equal(database, ingested_warehouse, world.history_start, delivered)
    newest = "SELECT max(usage_date) FROM raw.commitment_utilization"
    assert query(database, newest) == [(delivered - dt.timedelta(days=1),)]


def test_an_unreadable_export_falls_back_to_cost_explorer_and_says_so(
    tmp_path: Path, pipeline_env_for: Callable[..., dict[str, str]], ingested_warehouse: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    november = dt.date(2026, 11, 1)
    observed = _run(database, pipeline_env_for, "s3://finops-no-such-export/focus/finops-focus", november)
    assert "NoSuchBucket" in observed["detail_source_fallback"]
    assert (observed["detail_source"], observed["export_days_read"]) == ("cost_explorer", 0)
    assert observed["ce_requests"] > 0
    until = query(ingested_warehouse, "SELECT max(usage_date) + 1 FROM raw.commitment_utilization")[0][0]
    assert _assert_rows_equal(database, ingested_warehouse, november, until) > 300
