"""A forecast Cost Explorer cannot make (DataUnavailableException, a new account): ``ce_cost_forecast``
succeeds with no forecast and says so, and ``budget_status`` still runs, on the run rate, labelled."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures
from finops_sandbox.faults import Faults

BUDGET_ASSETS = ["ce_cost_forecast", "aws_budgets", "budget_status"]


def _rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(query).fetchall()


def test_forecast_data_unavailable_leaves_the_forecast_unknown_and_budget_status_runs_labelled(
    ingested_warehouse: Path,
    sandbox: Any,
    sandbox_factory: Callable[..., Any],
    pipeline_env_for: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    pipeline_env_for(database)
    assert run_pipeline(assets=BUDGET_ASSETS).success  # yesterday's kind of state: a forecast on file
    pipeline_env_for(database, sandbox_factory(faults=Faults(ce_refusals="forecast-data-unavailable")))
    result = run_pipeline(assets=BUDGET_ASSETS)
    assert result.success, step_failures(result)

    today = sandbox.world.config.as_of
    assert _rows(database, f"SELECT count(*) FROM raw.ce_forecasts WHERE snapshot_date = '{today}'") == [(0,)]
    ((status, detail),) = _rows(
        database, "SELECT status, detail FROM raw.scan_status WHERE source = 'ce_forecast'"
    )
    assert status == "data_unavailable"
    assert detail.startswith(
        "GetCostForecast: DataUnavailableException: Insufficient amount of historical data."
    )
    assert "Fix: Cost Explorer has too little cost history to answer" in detail
    assert "nothing to grant" in detail and "grant ce:" not in detail

    (forecast,) = result.asset_materializations_for_node("ce_cost_forecast")
    metadata = {k: v.value for k, v in forecast.metadata.items()}
    assert metadata["forecast_status"] == "data_unavailable"
    assert "rest_of_month_forecast_usd" not in metadata  # unknown, not zero
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = checks["forecast_available"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["forecast_status"].value == "data_unavailable"

    current = _rows(
        database,
        "SELECT scope, forecast_method, forecast_usd, month_to_date_usd, forecast_lower_usd "
        "FROM marts.budget_status WHERE month_state = 'current' AND scope IN ('organisation', 'account')",
    )
    assert current and {r[1] for r in current} == {"run_rate_forecast_data_unavailable"}
    assert all(r[2] >= r[3] and r[4] is None for r in current)  # run rate on top of MTD, no interval
    # Next month had only Cost Explorer's forecast: no row rather than yesterday's forecast as today's.
    assert _rows(database, "SELECT count(*) FROM marts.budget_status WHERE month_state = 'next'") == [(0,)]
    (budget_status,) = result.asset_materializations_for_node("budget_status")
    assert budget_status.metadata["forecast_status"].value == "data_unavailable"
