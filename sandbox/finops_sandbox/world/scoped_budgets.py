"""Budgets of every filter kind AWS Budgets offers, with the spend AWS would calculate for each scope.

Why: a real organisation's payer keeps budgets on a service, a tag, a group of accounts, a cost category,
a ``FilterExpression``, and budgets that count other cost types (amortised, without credits, tax or
support). A pipeline that reads only ``CostFilters.LinkedAccount`` mistakes each of them for an
organisation budget (issue #13). The world computes each budget's ``CalculatedSpend`` from its own ledger,
as AWS applies the scope, so a test can hold the pipeline's figures to it.

References (AWS Budgets API Reference):
- ``Budget.CostFilters`` (legacy map: ``Service``, ``LinkedAccount``, ``TagKeyValue`` with values
  ``user:<key>$<value>``, ...) and ``Budget.FilterExpression`` (Cost Explorer's ``Expression`` grammar:
  ``Dimensions``, ``Tags``, ``CostCategories``, ``And`` / ``Or`` / ``Not``):
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html
- ``CostTypes`` (``IncludeTax``, ``IncludeSupport``, ``IncludeCredit``, ``UseAmortized``, ...; every
  ``Include*`` defaults to true, ``UseAmortized`` / ``UseBlended`` to false):
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CostTypes.html
- ``CalculatedSpend`` (``ActualSpend``, ``ForecastedSpend``):
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_CalculatedSpend.html

The world's cost category ``Team`` maps the accounts of the Production OU to ``platform`` (a cost category
rule on LINKED_ACCOUNT); the emulator does not serve cost categories, which only these budgets read.
Forecasts are the month's run rate (AWS forecasts with its own model; the pipeline takes AWS's figure).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from finops_sandbox import catalog as cat
from finops_sandbox.world.budgets import BUDGET_SCHEMA, CENT, run_rate
from finops_sandbox.world.config import WorldConfig, month_start

COST_CATEGORY = "Team"
COST_CATEGORY_VALUE = "platform"
COST_CATEGORY_OU = "Production"


def _tag_active(config: WorldConfig, key: str) -> str:
    """SQL: the day is one on which `key` is an active cost allocation tag (Budgets filter by those only)."""
    if key in config.inactive_tag_keys:
        return "FALSE"
    dated = dict(config.tag_activation_dates)
    return f"usage_date >= DATE '{dated[key].isoformat()}'" if key in dated else "TRUE"


def _definitions(config: WorldConfig, members: list[str], budgeted: set[str]) -> list[dict[str, Any]]:
    """(name, limit, CostFilters, FilterExpression, CostTypes, scope kind, SQL predicate, metric)."""
    free = [a for a in members if a not in budgeted]
    group, single, rds_owner = free[:3], free[3] if len(free) > 3 else free[-1], members[0]
    env = _tag_active(config, "Environment")
    prod = (
        f"({env}) AND workload_id IN "
        "(SELECT workload_id FROM tags WHERE key = 'Environment' AND value = 'prod')"
    )
    no_tax_support = f"record_type <> '{cat.RT_TAX}' AND service <> '{cat.SVC_SUPPORT}'"
    category = f"account_id IN (SELECT account_id FROM accounts WHERE ou_name = '{COST_CATEGORY_OU}')"
    listed = ", ".join(f"'{a}'" for a in group)
    out = [
        ("org-monthly", 1_000_000, {}, None, None, "organisation", "TRUE", "unblended_cost"),
        ("ec2-compute", 2_000, {"Service": [cat.SVC_EC2]}, None, None, "filtered",
         f"service = '{cat.SVC_EC2}'", "unblended_cost"),
        ("prod-environment", 5_000, {"TagKeyValue": ["user:Environment$prod"]}, None, None, "filtered",
         prod, "unblended_cost"),
        ("shared-accounts", 100_000, {"LinkedAccount": group}, None, None, "accounts",
         f"account_id IN ({listed})", "unblended_cost"),
        ("team-platform", 50_000, {},
         {"CostCategories": {"Key": COST_CATEGORY, "Values": [COST_CATEGORY_VALUE]}}, None, "filtered",
         category, "unblended_cost"),
        ("member-expression", 80_000, {},
         {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [single]}}, None, "account",
         f"account_id = '{single}'", "unblended_cost"),
        ("member-rds", 500, {},
         {"And": [
             {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [rds_owner]}},
             {"Dimensions": {"Key": "SERVICE", "Values": [cat.SVC_RDS]}},
         ]}, None, "filtered", f"account_id = '{rds_owner}' AND service = '{cat.SVC_RDS}'", "unblended_cost"),
        ("org-amortized-no-credits", 1_000_000, {}, None, {"UseAmortized": True, "IncludeCredit": False},
         "organisation", f"record_type <> '{cat.RT_CREDIT}'", "amortized_cost"),
        ("org-without-tax-and-support", 1_000_000, {}, None, {"IncludeTax": False, "IncludeSupport": False},
         "organisation", no_tax_support, "unblended_cost"),
    ]  # fmt: skip
    keys = ("name", "limit", "filters", "expression", "cost_types", "kind", "where", "metric")
    return [dict(zip(keys, row, strict=True)) for row in out]


def scoped_budgets(
    config: WorldConfig,
    management: str,
    ledger: pa.Table,
    workload_tags: pa.Table,
    accounts: pa.Table,
    budgeted: set[str],
) -> pa.Table:
    """The budgets of every kind, their month to date within scope and its run-rate forecast."""
    members = [
        r["account_id"]
        for r in accounts.to_pylist()
        if r["account_id"] != management and r["status"] == "ACTIVE"
    ]
    first, as_of = month_start(config.as_of), config.as_of
    con = duckdb.connect()
    try:
        con.register("ledger", ledger)
        con.register("tags", workload_tags)
        con.register("accounts", accounts)
        rows = []
        for b in _definitions(config, members, budgeted):
            (actual,) = con.execute(
                f"SELECT coalesce(sum({b['metric']}), 0) FROM ledger "
                f"WHERE usage_date >= ? AND usage_date < ? AND ({b['where']})",
                [first, as_of],
            ).fetchone()  # type: ignore[misc]
            spend = Decimal(actual).quantize(CENT)
            rows.append(_row(b, spend, as_of))
    finally:
        con.close()
    return pa.Table.from_pylist(rows, schema=BUDGET_SCHEMA)


def _row(b: dict[str, Any], spend: Decimal, as_of: dt.date) -> dict[str, Any]:
    accounts = b["filters"].get("LinkedAccount") or []
    single = b["kind"] == "account"
    expression_account = (b["expression"] or {}).get("Dimensions", {}).get("Values", [None])[0]
    return {
        "account_id": (accounts[0] if accounts else expression_account) if single else None,
        "budget_name": b["name"],
        "limit_usd": Decimal(b["limit"]),
        "cost_filters": json.dumps(b["filters"]),
        "filter_expression": json.dumps(b["expression"]) if b["expression"] else None,
        "cost_types": json.dumps(b["cost_types"]) if b["cost_types"] else None,
        "scope_kind": b["kind"],
        "actual_usd": spend,
        "forecast_usd": run_rate(spend, as_of),
    }
