"""Budgets and forecast on the ingested session sandbox: forecast reconciliation, budgets, thresholds."""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest

from finops_pipeline.config_resources import SpendAlertsResource, resources_for
from finops_pipeline.defs.budgets.assets import compute_budget_status, forecast_window
from finops_pipeline.defs.budgets.checks import spend_within_budgets
from finops_pipeline.lib.reporting.periods import add_months
from finops_pipeline.settings import load_settings
from finops_pipeline.warehouse import WarehouseResource
from finops_pipeline_tests.pipeline_fixtures import materialized_copy, run_pipeline
from finops_sandbox.faults import Faults

BUDGET_ASSETS = ("ce_cost_forecast", "aws_budgets", "budget_status")


@pytest.fixture(scope="module")
def budgets_warehouse(
    ingested_warehouse: Path, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return materialized_copy(ingested_warehouse, sandbox, tmp_path_factory.mktemp("budgets"), BUDGET_ASSETS)


def _sql(database: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.sql(query).pl()


def test_forecast_window_is_one_request_for_two_months() -> None:
    assert forecast_window(dt.date(2026, 11, 27)) == (dt.date(2026, 11, 27), dt.date(2027, 1, 1))
    assert forecast_window(dt.date(2026, 12, 31)) == (dt.date(2026, 12, 31), dt.date(2027, 2, 1))


def test_forecast_and_budgets_are_ingested(budgets_warehouse: Path, sandbox: Any) -> None:
    today = sandbox.world.config.as_of
    forecasts = _sql(budgets_warehouse, "SELECT * FROM raw.ce_forecasts ORDER BY period_start")
    next_month, month_after = add_months(today, 1), add_months(today, 2)
    assert forecasts["period_start"].to_list() == [today, next_month]
    assert forecasts["period_end"].to_list() == [next_month, month_after]
    assert (forecasts["lower_usd"] <= forecasts["mean_usd"]).all()
    assert (forecasts["mean_usd"] <= forecasts["upper_usd"]).all()
    calls = _sql(
        budgets_warehouse,
        "SELECT sum(pages) AS pages FROM meta.api_call_log "
        "WHERE asset_key = 'ce_cost_forecast' AND service = 'ce'",
    )
    assert calls["pages"][0] == 1  # one Cost Explorer request for both months
    budgets = _sql(budgets_warehouse, "SELECT * FROM raw.aws_budgets")
    truth = pl.from_arrow(sandbox.world.budgets)
    assert sorted(budgets["budget_name"]) == sorted(truth["budget_name"])
    assert budgets["linked_account_ids"].list.len().to_list() == [1] * budgets.height
    status = _sql(budgets_warehouse, "SELECT * FROM raw.scan_status WHERE source = 'budgets'")
    assert status["status"].to_list() == ["ok"]


def test_budget_status_reconciles(budgets_warehouse: Path, sandbox: Any) -> None:
    status = _sql(budgets_warehouse, "SELECT * FROM marts.budget_status")
    today = sandbox.world.config.as_of
    month = today.replace(day=1)
    current = status.filter(pl.col("month") == month)
    assert set(current["month_state"]) == {"current"}
    org = current.filter(pl.col("scope") == "organisation").row(0, named=True)
    accounts = current.filter(pl.col("scope") == "account")
    # Month to date: complete days of this month, to the cent of the world's ledger.
    ledger = pl.from_arrow(sandbox.world.ledger).filter(
        (pl.col("usage_date") >= month) & (pl.col("usage_date") < today)
    )
    truth = float(ledger["unblended_cost"].cast(pl.Float64).sum())
    assert org["month_to_date_usd"] == pytest.approx(truth, abs=0.01)
    assert accounts["month_to_date_usd"].sum() == pytest.approx(truth, abs=0.01)
    # Organisation forecast = MTD + Cost Explorer's rest of month; accounts add up to it.
    rest = _sql(
        budgets_warehouse, "SELECT CAST(mean_usd AS DOUBLE) AS m FROM raw.ce_forecasts ORDER BY period_start"
    )
    assert org["forecast_method"] == "cost_explorer"
    assert org["forecast_usd"] == pytest.approx(truth + rest["m"][0], abs=0.01)
    assert accounts["forecast_usd"].sum() == pytest.approx(org["forecast_usd"], abs=0.01)
    assert set(accounts["forecast_method"]) == {"run_rate_scaled_to_cost_explorer"}
    nxt = status.filter(pl.col("month") == add_months(today, 1)).row(0, named=True)
    assert nxt["forecast_usd"] == pytest.approx(rest["m"][1], abs=0.01)
    assert (nxt["status"], nxt["month_state"]) == ("forecast_only", "next")
    # Last month, closed: its final actual against the same limits, to the cent of the ledger.
    closed = status.filter(pl.col("month_state") == "closed")
    last = pl.from_arrow(sandbox.world.ledger).filter(
        (pl.col("usage_date") >= add_months(today, -1)) & (pl.col("usage_date") < month)
    )
    last_truth = float(last["unblended_cost"].cast(pl.Float64).sum())
    assert set(closed["month"]) == {add_months(today, -1)}
    org_closed = closed.filter(pl.col("scope") == "organisation").row(0, named=True)
    assert org_closed["month_to_date_usd"] == pytest.approx(last_truth, abs=0.01)
    assert org_closed["forecast_method"] == "actual"
    assert closed.filter(pl.col("scope") == "account")["month_to_date_usd"].sum() == pytest.approx(
        last_truth, abs=0.01
    )
    # Budgets: each budgeted account is held to its AWS budget; the tightest ones alert.
    budgets = pl.from_arrow(sandbox.world.budgets).with_columns(pl.col("limit_usd").cast(pl.Float64))
    held = accounts.filter(pl.col("limit_source").is_not_null())
    assert sorted(held["account_id"]) == sorted(budgets["account_id"])
    for row in held.iter_rows(named=True):
        limit = budgets.filter(pl.col("account_id") == row["account_id"])["limit_usd"][0]
        assert row["limit_usd"] == pytest.approx(limit)
        expected = (
            "over_budget"
            if row["month_to_date_usd"] >= limit
            else "forecast_over_budget"
            if row["forecast_usd"] >= limit
            else "ok"
        )
        assert row["status"] == expected
    assert set(held["status"]) & {"over_budget", "forecast_over_budget"}
    result = spend_within_budgets(warehouse=WarehouseResource(database=str(budgets_warehouse)))
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN


def alerts(env: dict[str, str]) -> SpendAlertsResource:
    """The ``spend_alerts`` resource the code location builds from these settings."""
    return resources_for(load_settings(env))["spend_alerts"]


def test_thresholds_from_the_spend_alerts_resource(budgets_warehouse: Path, sandbox: Any) -> None:
    as_of = sandbox.world.config.as_of
    month = as_of.replace(day=1)
    with duckdb.connect(str(budgets_warehouse), read_only=True) as conn:
        quiet = compute_budget_status(conn, alerts({}), as_of).to_pylist()
        strict = compute_budget_status(
            conn, alerts({"COST_MONTHLY_WARNING": "1000000000", "COST_DAILY_WARNING": "1"}), as_of
        ).to_pylist()
        tight = compute_budget_status(conn, alerts({"COST_MONTHLY_WARNING": "10"}), as_of).to_pylist()
    org = next(r for r in quiet if r["scope"] == "organisation" and r["month"] == month)
    assert org["status"] == "no_budget" and org["limit_usd"] is None
    org = next(r for r in strict if r["scope"] == "organisation" and r["month"] == month)
    assert org["limit_source"] == "COST_MONTHLY_WARNING"
    assert org["status"] == "over_daily_threshold" and org["last_day"] == as_of - dt.timedelta(days=1)
    org = next(r for r in tight if r["scope"] == "organisation" and r["month"] == month)
    assert org["status"] == "over_budget"


def test_budgets_denied_is_recorded_and_the_run_carries_on(
    sandbox_factory: Any, pipeline_env_for: Any, tmp_path: Path
) -> None:
    denied = sandbox_factory(faults=Faults(deny_operations="DescribeBudgets"))
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, denied, FINOPS_START_DATE="2026-11-01")
    result = run_pipeline(assets=("aws_accounts", "ce_cost_daily", *BUDGET_ASSETS))
    assert result.success
    status = _sql(database, "SELECT status, detail FROM raw.scan_status WHERE source = 'budgets'")
    assert status["status"].to_list() == ["access_denied"]
    assert _sql(database, "SELECT count(*) AS n FROM raw.aws_budgets")["n"][0] == 0
    rows = _sql(database, "SELECT * FROM marts.budget_status WHERE scope = 'account'")
    assert rows.height >= 12 and rows["limit_usd"].null_count() == rows.height
