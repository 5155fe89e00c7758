"""What the daily refresh re-reads: the days Cost Explorer last said were estimated, within a budget.

Cost Explorer marks a day ``Estimated`` until its month's bill is final (every day of the current month,
and last month's until the first days of this one), and an estimated day can still change: usage is
restated, and fees, support, discounts, credits, refunds and tax post while a month closes. So each
grain's refresh starts at the oldest day its table holds as estimated (or the first day it does not
hold yet) and reads through today; a day stored as final is never read again.

The budget (``FINOPS_RESTATEMENT_REQUEST_BUDGET``) caps the requests of that read, per request stream.
When it runs out, the complete days read so far are kept, and one more stream reads the newest days
(the days not stored yet and the trailing ``FINOPS_RESTATEMENT_DAYS`` + 1): freshness is never traded
for restatement. The estimated days in between keep their stored figures and flag, so a later run, or
a backfill, reads them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from finops_pipeline.defs.ingest.cost_explorer_api import CostGrain, stream_grain
from finops_pipeline.warehouse import Stage

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class RereadPlan:
    """One grain's refresh: re-read ``[start, end)``; ``[tail_start, end)`` whatever the budget."""

    start: dt.date
    tail_start: dt.date
    end: dt.date


def plan_reread(
    conn: duckdb.DuckDBPyConnection, table: str, start: dt.date, end: dt.date, tail_floor: dt.date
) -> RereadPlan:
    """From the stored flags: the oldest estimated day, or the first day not stored, through ``end``.

    ``tail_floor`` is the first of the trailing restated days; the tail also starts no later than the
    first day not stored, so a day never read is read whatever the budget.
    """
    stored = dict(
        conn.execute(
            f"SELECT usage_date, bool_or(is_estimated) FROM {table} "
            "WHERE usage_date >= ? AND usage_date < ? GROUP BY 1",
            [start, end],
        ).fetchall()
    )
    first_missing = next(
        (d for d in (start + dt.timedelta(days=i) for i in range((end - start).days)) if d not in stored),
        end,
    )
    oldest_estimated = min((d for d, estimated in stored.items() if estimated), default=end)
    first = min(oldest_estimated, first_missing)
    return RereadPlan(start=first, tail_start=max(first, min(first_missing, tail_floor)), end=end)


def read_plan(
    client: Any,
    grain: CostGrain,
    tag_keys: tuple[str | None, ...],
    plan: RereadPlan,
    budget: int,
    stage: Stage,
    reserve: Callable[[int, str], None] | None = None,
) -> list[tuple[dt.date, dt.date]]:
    """Stage the plan's rows; the windows they replace: one, or two when the budget stopped a stream early."""
    if plan.start >= plan.end:
        return []
    cut = plan.end
    for key in tag_keys:
        cut = min(cut, stream_grain(client, grain, (plan.start, plan.end), key, stage, budget, reserve))
    # Every stream keeps the same days, since one window of the table is replaced for all tag keys;
    # dropped before the tail is staged, whose days start at or after the cut.
    stage.drop(from_day=cut)
    windows = [(plan.start, cut)]
    if cut < plan.end:
        tail = max(cut, plan.tail_start)
        for key in tag_keys:
            stream_grain(client, grain, (tail, plan.end), key, stage, reserve=reserve)
        windows.append((tail, plan.end))
    return windows
