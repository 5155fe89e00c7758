"""Budgets scoped as AWS applies them: CostFilters of any dimension, FilterExpression, CostTypes.

Reproduces the review's case: an organisation budget of $50,000, an EC2-only $300 budget filtered by
service and tag, and a prod-account budget set through FilterExpression used to give the organisation a
$300 limit (over_budget) and the prod account no budget. The budgets are created through the Budgets API
in a sandbox of their own, with the CalculatedSpend AWS would report for the filtered ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import duckdb
import polars as pl
import pytest

from finops_pipeline.lib.budget_scope import budget_scope
from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.world import build_world

EC2 = "Amazon Elastic Compute Cloud - Compute"


def _budget(name: str, limit: float, **extra: Any) -> dict[str, Any]:
    return {
        "BudgetName": name,
        "BudgetLimit": {"Amount": f"{limit:.2f}", "Unit": "USD"},
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        **extra,
    }


def _spend(actual: float, forecast: float) -> dict[str, Any]:
    return {
        "ActualSpend": {"Amount": f"{actual:.2f}", "Unit": "USD"},
        "ForecastedSpend": {"Amount": f"{forecast:.2f}", "Unit": "USD"},
    }


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from finops_pipeline_tests.conftest import set_aws_env, start_background_sandbox
    from finops_pipeline_tests.pipeline_fixtures import pipeline_env

    folder = tmp_path_factory.mktemp("budget_scope")
    config = sandbox_config(accounts=8, seed=3)
    world = build_world(config)
    handle = start_background_sandbox(folder, config, None)
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(handle.env(), folder / "finops.duckdb"), folder)
        budgeted = set(world.budgets.column("account_id").to_pylist())  # the world's own account budgets
        members = [
            a
            for a in world.accounts.to_pylist()
            if a["account_id"] != world.management_account_id and a["account_id"] not in budgeted
        ]
        prod, pair = members[0]["account_id"], [members[1]["account_id"], members[2]["account_id"]]
        budgets = boto3.client("budgets", region_name="us-east-1")
        owner = world.management_account_id
        for budget in (
            _budget("org-total", 50_000),
            _budget(
                "ec2-prod-only",
                300,
                CostFilters={"Service": [EC2], "TagKeyValue": ["user:Environment$prod"]},
                CalculatedSpend=_spend(120.0, 290.0),
            ),
            _budget(
                "prod-account",
                1_000_000,
                FilterExpression={"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [prod]}},
            ),
            _budget("pair", 2_000_000, CostFilters={"LinkedAccount": pair}),
            _budget(
                "org-amortised-no-credits",
                40_000,
                CostTypes={"UseAmortized": True, "IncludeCredit": False},
                CalculatedSpend=_spend(31_000.0, 36_000.0),
            ),
        ):
            budgets.create_budget(AccountId=owner, Budget=budget)
        result = run_pipeline(
            config.as_of.replace(day=1) - dt.timedelta(days=10),
            config.as_of,
            assets=("aws_accounts", "ce_cost_daily", "ce_cost_forecast", "aws_budgets", "budget_status"),
        )
        assert result.success
        with duckdb.connect(str(folder / "finops.duckdb"), read_only=True) as conn:
            status = conn.sql("SELECT * FROM marts.budget_status WHERE month_state = 'current'").pl()
            raw = conn.sql("SELECT * FROM raw.aws_budgets").pl()
        yield {"status": status, "raw": raw, "prod": prod, "pair": pair, "world": world}
    finally:
        monkeypatch.undo()
        handle.stop()


def test_the_organisation_is_held_to_its_own_budget_not_the_smallest(scoped: dict[str, Any]) -> None:
    org = scoped["status"].filter(pl.col("scope") == "organisation").row(0, named=True)
    assert (org["limit_usd"], org["limit_source"]) == (50_000, "aws_budget:org-total")
    assert org["status"] == "ok"  # a ~$10k month is not over a $50k budget


def test_a_filter_expression_account_budget_is_that_accounts(scoped: dict[str, Any]) -> None:
    row = scoped["status"].filter(pl.col("account_id") == scoped["prod"]).row(0, named=True)
    assert (row["limit_usd"], row["limit_source"]) == (1_000_000, "aws_budget:prod-account")
    assert row["status"] == "ok"


def test_filtered_budgets_are_their_own_rows_with_awss_figures_and_their_scope(
    scoped: dict[str, Any],
) -> None:
    rows = {
        r["budget_name"]: r
        for r in scoped["status"].filter(pl.col("scope") == "budget").iter_rows(named=True)
    }
    assert set(rows) == {"ec2-prod-only", "pair", "org-amortised-no-credits"}
    ec2 = rows["ec2-prod-only"]
    assert (ec2["month_to_date_usd"], ec2["forecast_usd"], ec2["limit_usd"]) == (120.0, 290.0, 300.0)
    assert ec2["forecast_method"] == "aws_budgets" and ec2["status"] == "ok"
    assert (
        f"Service={EC2}" in ec2["scope_detail"] and "TagKeyValue=user:Environment$prod" in ec2["scope_detail"]
    )
    amortised = rows["org-amortised-no-credits"]
    assert (amortised["month_to_date_usd"], amortised["status"]) == (31_000.0, "ok")
    assert (
        "IncludeCredit=false" in amortised["scope_detail"]
        and "UseAmortized=true" in amortised["scope_detail"]
    )
    # several accounts, default cost types: recomputed from Cost Explorer as the sum of its accounts
    accounts = scoped["status"].filter(pl.col("scope") == "account")
    members = accounts.filter(pl.col("account_id").is_in(scoped["pair"]))
    assert rows["pair"]["month_to_date_usd"] == pytest.approx(members["month_to_date_usd"].sum(), abs=0.01)
    assert rows["pair"]["forecast_usd"] == pytest.approx(members["forecast_usd"].sum(), abs=0.01)
    assert rows["pair"]["scope_detail"] == f"accounts {', '.join(sorted(scoped['pair']))}"


def test_raw_budgets_keep_the_filters_as_returned(scoped: dict[str, Any]) -> None:
    raw = {r["budget_name"]: r for r in scoped["raw"].iter_rows(named=True)}
    assert raw["prod-account"]["scope_kind"] == "account"
    assert raw["prod-account"]["linked_account_ids"] == [scoped["prod"]]
    assert "LINKED_ACCOUNT" in raw["prod-account"]["filter_expression"]
    assert raw["ec2-prod-only"]["scope_kind"] == "filtered"
    assert raw["org-total"]["scope_kind"] == "organisation"


@pytest.mark.parametrize(
    ("budget", "kind", "accounts", "measure"),
    [
        ({}, "organisation", (), "unblended"),
        ({"CostFilters": {"LinkedAccount": ["111111111111"]}}, "account", ("111111111111",), "unblended"),
        ({"CostFilters": {"Region": ["eu-west-1"]}}, "filtered", (), "aws_calculated"),
        (
            {"FilterExpression": {"Not": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["1"]}}}},
            "filtered",
            (),
            "aws_calculated",
        ),
        (
            {
                "FilterExpression": {
                    "And": [
                        {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": ["2"]}},
                        {"CostCategories": {"Key": "Team", "Values": ["data"]}},
                    ]
                }
            },
            "filtered",
            (),
            "aws_calculated",
        ),
        ({"CostTypes": {"IncludeTax": False}}, "organisation", (), "aws_calculated"),
        ({"CostTypes": {"IncludeTax": True}}, "organisation", (), "unblended"),  # the default, said out loud
    ],
)
def test_budget_scope_rules(budget: dict, kind: str, accounts: tuple, measure: str) -> None:
    scope = budget_scope(budget)
    assert (scope.kind, scope.account_ids, scope.measure) == (kind, accounts, measure)
