"""The run's Cost Explorer request budget: a read that would pass it says so before it is spent, with an
estimate close to what the read really costs, and nothing is written; no request ever goes past it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from finops_pipeline.request_budget import RequestBudget, RequestBudgetExceeded
from finops_pipeline_tests.pipeline_fixtures import query, run_pipeline, step_failures

COST_SQL = "SELECT count(*), sum(unblended_cost) FROM raw.ce_cost_daily"


def _pages_of_the_full_history(ingested: Path) -> int:
    """What ce_cost_daily's full history really cost in the session's ingest run."""
    rows = query(ingested, "SELECT sum(pages) FROM meta.api_call_log WHERE asset_key = 'ce_cost_daily'")
    return int(rows[0][0])


def _refusal(result: Any) -> tuple[int, int, int]:
    """(requests it would need, requests spent, budget) from the one failed step's message."""
    said = "\n".join(step_failures(result))
    found = re.search(
        r"would need about ([\d,]+) Cost Explorer .* has spent ([\d,]+) of its budget of ([\d,]+)", said
    )
    assert found, said
    assert "Fix: set FINOPS_RUN_REQUEST_BUDGET to at least" in said
    need, spent, budget = (int(g.replace(",", "")) for g in found.groups())
    return need, spent, budget


def test_a_first_backfill_over_budget_stops_after_its_first_page(
    ingested_warehouse: Path, pipeline_env_for: Any, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, FINOPS_RUN_REQUEST_BUDGET="5")
    result = run_pipeline(assets=["ce_cost_daily"])
    assert not result.success
    need, spent, budget = _refusal(result)
    assert (spent, budget) == (1, 5)  # the first page, which the estimate is made from
    real = _pages_of_the_full_history(ingested_warehouse)
    assert real > 20
    assert abs(spent + need - real) <= 0.1 * real  # the estimate is within 10% of the real cost
    assert query(database, COST_SQL) == [(0, None)]  # nothing written


def test_a_backfill_of_stored_days_over_budget_is_refused_before_any_request(
    ingested_warehouse: Path, warehouse_copy: Path, pipeline_env_for: Any
) -> None:
    before = query(warehouse_copy, COST_SQL)
    pipeline_env_for(warehouse_copy, FINOPS_RUN_REQUEST_BUDGET="3")
    result = run_pipeline(assets=["ce_cost_daily"])
    assert not result.success
    need, spent, budget = _refusal(result)
    assert (spent, budget) == (0, 3)  # refused from the stored rows: not one page spent
    real = _pages_of_the_full_history(ingested_warehouse)
    assert abs(need - real) <= 0.1 * real
    assert query(warehouse_copy, COST_SQL) == before


def test_no_request_goes_past_the_budget(warehouse_copy: Path, pipeline_env_for: Any) -> None:
    """commitment_usage lists the commitments' owners (3 requests) before it plans: the 3rd is refused."""
    before = query(warehouse_copy, "SELECT count(*), sum(used_commitment) FROM raw.commitment_utilization")
    pipeline_env_for(warehouse_copy, FINOPS_RUN_REQUEST_BUDGET="2")
    result = run_pipeline(assets=["commitment_usage"])
    assert not result.success
    said = "\n".join(step_failures(result))
    assert "was refused: the budget is spent; 1 Cost Explorer request(s) ($0.01)" in said, said
    assert "this run has spent 2 of its budget of 2 requests ($0.02, FINOPS_RUN_REQUEST_BUDGET)" in said
    assert (
        query(warehouse_copy, "SELECT count(*), sum(used_commitment) FROM raw.commitment_utilization")
        == before
    )


def test_the_budget_counts_and_refuses_with_the_figures() -> None:
    budget = RequestBudget(10)
    for _ in range(6):
        budget.charge("GetCostAndUsage")
    budget.reserve(4, "ce_cost_daily over 2026-01-01..2026-01-31")  # exactly the limit: allowed
    with pytest.raises(RequestBudgetExceeded) as refused:
        budget.reserve(5, "ce_cost_daily over 2026-01-01..2026-01-31")
    assert str(refused.value).startswith(
        "ce_cost_daily over 2026-01-01..2026-01-31 would need about 5 Cost Explorer request(s) ($0.05); "
        "this run has spent 6 of its budget of 10 requests ($0.10, FINOPS_RUN_REQUEST_BUDGET)."
    )
    assert "set FINOPS_RUN_REQUEST_BUDGET to at least 11" in str(refused.value)
    assert budget.spent == 6  # a refusal spends nothing
