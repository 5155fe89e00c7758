"""What an AWS budget covers and what it counts, read as AWS applies it.

AWS Budgets scope a budget with the legacy ``CostFilters`` (a map of dimension to values: LinkedAccount,
Service, Region, UsageType, TagKeyValue, CostCategory, …) or the newer ``FilterExpression`` (the Cost
Explorer ``Expression`` grammar: Dimensions, Tags, CostCategories, And / Or / Not), and choose what
counts with ``CostTypes`` (IncludeCredit, IncludeRefund, IncludeTax, IncludeSupport, IncludeUpfront,
IncludeRecurring, IncludeSubscription, IncludeOtherSubscription, IncludeDiscount, UseBlended,
UseAmortized). A budget is organisation-wide only when nothing scopes it.
References: AWS Budgets API Reference, data types ``Budget``, ``CostTypes`` and ``Expression``
(https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_Budget.html).

The pipeline recomputes a budget's spend from Cost Explorer only where it can do so exactly: a budget
scoped to the organisation or to linked accounts alone that counts the default cost types (unblended,
everything included). Every other budget is held to AWS's own ``CalculatedSpend`` (actual and forecast),
labelled with its scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# CostTypes as AWS defaults them for a COST budget: everything counted, unblended.
DEFAULT_COST_TYPES = {
    "IncludeCredit": True,
    "IncludeDiscount": True,
    "IncludeOtherSubscription": True,
    "IncludeRecurring": True,
    "IncludeRefund": True,
    "IncludeSubscription": True,
    "IncludeSupport": True,
    "IncludeTax": True,
    "IncludeUpfront": True,
    "UseAmortized": False,
    "UseBlended": False,
}
ACCOUNT_KEYS = ("LinkedAccount", "LINKED_ACCOUNT")


@dataclass(frozen=True)
class BudgetScope:
    kind: str  # organisation | account | accounts | filtered
    account_ids: tuple[str, ...]
    description: str  # human words: "whole organisation", "accounts 1, 2", "Service=…; TagKeyValue=…"
    measure: str  # unblended (recomputed from Cost Explorer) | aws_calculated (AWS's CalculatedSpend)


def _expression_accounts(expression: dict[str, Any]) -> tuple[str, ...] | None:
    """The accounts of an expression that scopes by linked account alone, else None."""
    if not expression:
        return ()
    if set(expression) == {"And"}:
        parts = [_expression_accounts(e) for e in expression["And"]]
        if any(p is None for p in parts) or sum(bool(p) for p in parts) > 1:
            return None
        return next((p for p in parts if p), ())
    dims = expression.get("Dimensions") or {}
    if (
        set(expression) == {"Dimensions"}
        and dims.get("Key") == "LINKED_ACCOUNT"
        and set(dims.get("MatchOptions") or ["EQUALS"]) == {"EQUALS"}
    ):
        return tuple(dims.get("Values") or ())
    return None


def _describe_expression(expression: dict[str, Any]) -> str:
    for op in ("And", "Or"):
        if op in expression:
            return f" {op.upper()} ".join(f"({_describe_expression(e)})" for e in expression[op])
    if "Not" in expression:
        return f"NOT ({_describe_expression(expression['Not'])})"
    for kind in ("Dimensions", "Tags", "CostCategories"):
        if kind in expression:
            part = expression[kind]
            options = "/".join(part.get("MatchOptions") or ["EQUALS"])
            return f"{part.get('Key')} {options} {', '.join(part.get('Values') or [])}"
    return json.dumps(expression, sort_keys=True)


def budget_scope(budget: dict[str, Any]) -> BudgetScope:
    """The scope and the measure of one ``DescribeBudgets`` budget."""
    filters = {k: list(v) for k, v in (budget.get("CostFilters") or {}).items() if v}
    expression = budget.get("FilterExpression") or {}
    cost_types = {**DEFAULT_COST_TYPES, **(budget.get("CostTypes") or {})}
    default_types = cost_types == DEFAULT_COST_TYPES
    accounts = tuple(next((filters[k] for k in ACCOUNT_KEYS if k in filters), []))
    others = {k: v for k, v in filters.items() if k not in ACCOUNT_KEYS}
    from_expression = _expression_accounts(expression)
    if others or from_expression is None:
        words = [f"{k}={', '.join(v)}" for k, v in sorted(filters.items())]
        if expression:
            words.append(_describe_expression(expression))
        return BudgetScope("filtered", accounts, "; ".join(words), "aws_calculated")
    accounts = tuple(sorted({*accounts, *from_expression}))
    measure = "unblended" if default_types else "aws_calculated"
    types = "" if default_types else " (" + _describe_cost_types(cost_types) + ")"
    if not accounts:
        return BudgetScope("organisation", (), "whole organisation" + types, measure)
    if len(accounts) == 1:
        return BudgetScope("account", accounts, f"account {accounts[0]}{types}", measure)
    return BudgetScope("accounts", accounts, f"accounts {', '.join(accounts)}{types}", measure)


def _describe_cost_types(cost_types: dict[str, bool]) -> str:
    changed = [k for k, v in cost_types.items() if DEFAULT_COST_TYPES.get(k) != v]
    return ", ".join(f"{k}={str(cost_types[k]).lower()}" for k in sorted(changed))
