"""Budgets of every filter kind in the sandbox world: budget_status matches each one's spend to the cent.

The world (``--scoped-budgets``) keeps account budgets plus an organisation budget, a service budget, a tag
budget, a group of accounts, a cost category, two FilterExpression budgets (one account alone, one account
and a service) and two organisation budgets counting other cost types; each carries the CalculatedSpend AWS
would report for its scope, computed from the world's ledger. The pipeline must recompute the scopes it can
(organisation, account, accounts with default cost types) from Cost Explorer and land on the same cents,
hold the others to AWS's figures, and label every scope that is not an account or the organisation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import duckdb
import polars as pl
import pytest

from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.world import World, build_world


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from finops_pipeline_tests.conftest import set_aws_env, start_background_sandbox
    from finops_pipeline_tests.pipeline_fixtures import pipeline_env

    folder = tmp_path_factory.mktemp("budget_kinds")
    config = sandbox_config(accounts=8, seed=3, scoped_budgets=True)
    world = build_world(config)
    handle = start_background_sandbox(folder, config, None)
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(handle.env(), folder / "finops.duckdb"), folder)
        result = run_pipeline(
            config.as_of.replace(day=1) - dt.timedelta(days=10),
            config.as_of,
            assets=("aws_accounts", "ce_cost_daily", "ce_cost_forecast", "aws_budgets", "budget_status"),
        )
        assert result.success
        with duckdb.connect(str(folder / "finops.duckdb"), read_only=True) as conn:
            status = conn.sql("SELECT * FROM marts.budget_status WHERE month_state = 'current'").pl()
            raw = conn.sql("SELECT * FROM raw.aws_budgets").pl()
        yield {"status": status, "raw": raw, "world": world}
    finally:
        monkeypatch.undo()
        handle.stop()


def _row_of(status: pl.DataFrame, budget: dict[str, Any]) -> dict[str, Any]:
    """The budget_status row that holds `budget`: its account's, the organisation's, or its own."""
    default_types = budget["cost_types"] is None
    if budget["scope_kind"] == "account" and default_types:
        rows = status.filter((pl.col("scope") == "account") & (pl.col("account_id") == budget["account_id"]))
    elif budget["scope_kind"] == "organisation" and default_types:
        rows = status.filter(pl.col("scope") == "organisation")
    else:
        rows = status.filter((pl.col("scope") == "budget") & (pl.col("budget_name") == budget["budget_name"]))
    assert rows.height == 1, budget["budget_name"]
    return rows.row(0, named=True)


def test_the_world_has_every_kind(kinds: dict[str, Any]) -> None:
    budgets = kinds["world"].budgets.to_pylist()
    filters = {k for b in budgets for k in json.loads(b["cost_filters"])}
    expressions = [json.loads(b["filter_expression"]) for b in budgets if b["filter_expression"]]
    assert {"LinkedAccount", "Service", "TagKeyValue"} <= filters
    assert any("CostCategories" in e for e in expressions) and any("And" in e for e in expressions)
    assert {"UseAmortized", "IncludeCredit", "IncludeTax", "IncludeSupport"} <= {
        k for b in budgets if b["cost_types"] for k in json.loads(b["cost_types"])
    }
    assert {b["scope_kind"] for b in budgets} == {"organisation", "account", "accounts", "filtered"}


def test_every_budgets_actual_spend_is_the_worlds_to_the_cent(kinds: dict[str, Any]) -> None:
    world: World = kinds["world"]
    for budget in world.budgets.to_pylist():
        row = _row_of(kinds["status"], budget)
        assert row["month_to_date_usd"] == pytest.approx(float(budget["actual_usd"]), abs=0.005), budget[
            "budget_name"
        ]
        assert row["limit_usd"] == pytest.approx(float(budget["limit_usd"])), budget["budget_name"]


def test_scopes_aws_computes_are_held_to_awss_forecast_and_recomputed_ones_to_cost_explorer(
    kinds: dict[str, Any],
) -> None:
    for budget in kinds["world"].budgets.to_pylist():
        row = _row_of(kinds["status"], budget)
        if budget["scope_kind"] == "filtered" or budget["cost_types"]:
            assert row["forecast_method"] == "aws_budgets", budget["budget_name"]
            assert row["forecast_usd"] == pytest.approx(float(budget["forecast_usd"]), abs=0.005)
        else:
            assert row["forecast_method"] != "aws_budgets", budget["budget_name"]


def test_scopes_that_are_not_an_account_or_the_organisation_are_labelled(kinds: dict[str, Any]) -> None:
    own = {
        r["budget_name"]: r for r in kinds["status"].filter(pl.col("scope") == "budget").iter_rows(named=True)
    }
    assert set(own) == {
        "ec2-compute",
        "prod-environment",
        "shared-accounts",
        "team-platform",
        "member-rds",
        "org-amortized-no-credits",
        "org-without-tax-and-support",
    }
    assert own["ec2-compute"]["scope_detail"] == "Service=Amazon Elastic Compute Cloud - Compute"
    assert own["prod-environment"]["scope_detail"] == "TagKeyValue=user:Environment$prod"
    assert own["team-platform"]["scope_detail"] == "Team EQUALS platform"
    assert "LINKED_ACCOUNT EQUALS" in own["member-rds"]["scope_detail"]
    assert "SERVICE EQUALS Amazon Relational Database Service" in own["member-rds"]["scope_detail"]
    assert own["shared-accounts"]["scope_detail"].startswith("accounts ")
    assert "IncludeTax=false" in own["org-without-tax-and-support"]["scope_detail"]
    assert "UseAmortized=true" in own["org-amortized-no-credits"]["scope_detail"]
    # A filtered budget is never taken for the organisation's: the organisation row keeps its own budget.
    org = kinds["status"].filter(pl.col("scope") == "organisation").row(0, named=True)
    assert org["limit_source"] == "aws_budget:org-monthly"
    assert own["ec2-compute"]["status"] == "over_budget"  # $2,000 against the month's EC2 spend
    raw = {r["budget_name"]: r["scope_kind"] for r in kinds["raw"].iter_rows(named=True)}
    assert raw == {b["budget_name"]: b["scope_kind"] for b in kinds["world"].budgets.to_pylist()}
