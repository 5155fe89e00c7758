"""Budgets: monthly COST budgets for a few member accounts, some set below last month's spend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from finops_sandbox.world.config import MICRO, Window, day_number, month_start
from finops_sandbox.world.org import Account
from finops_sandbox.world.rng import stable_key

_BUDGET_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("budget_name", pa.string()), ("limit_usd", pa.decimal128(18, 2))]
)


def budgets_table(window: Window, accounts: list[Account], lc: dict[str, Any]) -> pa.Table:
    """Monthly COST budgets for a few accounts, some below last month's actual spend (so alerts fire)."""
    last_month = month_start(window.config.as_of, 1)
    lo, hi = day_number(last_month), day_number(month_start(window.config.as_of))
    in_month = (lc["day"] >= lo) & (lc["day"] < hi)
    spend = np.zeros(len(accounts), dtype=np.int64)
    np.add.at(spend, lc["acct"][in_month], lc["unb"][in_month])
    members = [a for a in accounts[1:] if a.suspended_at is None and spend[a.idx] > 0]
    members.sort(key=lambda a: stable_key(window.seed, "budget", a.account_id))
    chosen = members[: max(2, len(members) // 8)]
    factors = (0.85, 1.3, 1.6, 0.95)
    rows = []
    for i, a in enumerate(chosen):
        limit = max(10, round(spend[a.idx] / MICRO * factors[i % len(factors)]))
        rows.append(
            {"account_id": a.account_id, "budget_name": f"{a.name}-monthly-cost", "limit_usd": Decimal(limit)}
        )
    return pa.Table.from_pylist(rows, schema=_BUDGET_SCHEMA)
