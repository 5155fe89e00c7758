"""Budgets: monthly COST budgets for a few member accounts, some set below last month's spend.

Each budget carries its filters as the Budgets API takes them and its ``CalculatedSpend`` as AWS would
report it on ``as_of``: the ledger's month to date within its scope (``actual_usd``), and a run-rate
forecast of the month (``forecast_usd``). With ``WorldConfig.scoped_budgets`` the world also budgets by
every other kind AWS offers (``scoped.py``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from finops_sandbox.world.config import MICRO, Window, day_number, month_start
from finops_sandbox.world.org import Account
from finops_sandbox.world.rng import stable_key

BUDGET_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),  # the one linked account a budget covers; null for any other scope
        ("budget_name", pa.string()),
        ("limit_usd", pa.decimal128(18, 2)),
        ("cost_filters", pa.string()),  # JSON: Budget.CostFilters ({} for none)
        ("filter_expression", pa.string()),  # JSON: Budget.FilterExpression, or null
        ("cost_types", pa.string()),  # JSON: Budget.CostTypes set away from AWS's defaults, or null
        ("scope_kind", pa.string()),  # organisation | account | accounts | filtered (budget_scope's words)
        ("actual_usd", pa.decimal128(18, 2)),  # CalculatedSpend.ActualSpend on as_of
        ("forecast_usd", pa.decimal128(18, 2)),  # CalculatedSpend.ForecastedSpend on as_of
    ]
)
CENT = Decimal("0.01")


def run_rate(actual: Decimal, as_of: Any) -> Decimal:
    """The month's forecast from its days so far (the days before as_of): the sandbox's ForecastedSpend."""
    first = month_start(as_of)
    length = (month_start(as_of, -1) - first).days
    elapsed = (as_of - first).days
    return (actual * length / elapsed).quantize(CENT) if elapsed else Decimal("0.00")


def budgets_table(window: Window, accounts: list[Account], lc: dict[str, Any]) -> pa.Table:
    """Monthly COST budgets for a few accounts, some below last month's actual spend (so alerts fire)."""
    last_month = month_start(window.config.as_of, 1)
    lo, hi = day_number(last_month), day_number(month_start(window.config.as_of))
    in_month = (lc["day"] >= lo) & (lc["day"] < hi)
    spend = np.zeros(len(accounts), dtype=np.int64)
    np.add.at(spend, lc["acct"][in_month], lc["unb"][in_month])
    this_month = (lc["day"] >= hi) & (lc["day"] < day_number(window.config.as_of))
    mtd = np.zeros(len(accounts), dtype=np.int64)
    np.add.at(mtd, lc["acct"][this_month], lc["unb"][this_month])
    members = [a for a in accounts[1:] if a.suspended_at is None and spend[a.idx] > 0]
    members.sort(key=lambda a: stable_key(window.seed, "budget", a.account_id))
    chosen = members[: max(2, len(members) // 8)]
    factors = (0.85, 1.3, 1.6, 0.95)
    rows = []
    for i, a in enumerate(chosen):
        limit = max(10, round(spend[a.idx] / MICRO * factors[i % len(factors)]))
        actual = (Decimal(int(mtd[a.idx])) / MICRO).quantize(CENT)
        rows.append(
            {
                "account_id": a.account_id,
                "budget_name": f"{a.name}-monthly-cost",
                "limit_usd": Decimal(limit),
                "cost_filters": json.dumps({"LinkedAccount": [a.account_id]}),
                "filter_expression": None,
                "cost_types": None,
                "scope_kind": "account",
                "actual_usd": actual,
                "forecast_usd": run_rate(actual, window.config.as_of),
            }
        )
    return pa.Table.from_pylist(rows, schema=BUDGET_SCHEMA)
