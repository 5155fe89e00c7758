"""What the daily refresh re-reads: the days Cost Explorer last said were estimated, within a budget.

Cost Explorer marks a day ``Estimated`` until its month's bill is final (every day of the current month,
and last month's until the first days of this one), and an estimated day can still change: usage is
restated, and fees, support, discounts, credits, refunds and tax post while a month closes. So each
grain's refresh starts at the oldest day its table holds as estimated (or the first day it does not
hold yet) and reads through today; a day stored as final is never read again.

Re-reading a month of estimated days at a fine grain costs what the grain's rows cost: at 1,000
accounts about 36 pages a day for account × usage type. Most of those days did not move, so when the
older days would take more than ``PROBE_MIN_PAGES`` pages, one ungrouped request first gives each day's
total as Cost Explorer now answers it (the grain's own filter, all three metrics: its ``Total``), and
only the days whose total moved are read at the grain (``probe_days``). A day whose total did not move
keeps its rows; one that did not move and is now final is flagged final without a read. A restatement
that moves cost between groups and leaves a day's total to the micro-dollar is missed until the next
backfill: no total, and so no month figure, changes with it.

The budget (``FINOPS_RESTATEMENT_REQUEST_BUDGET``) caps the requests of each read of older days, per
request stream. When it runs out, the complete days read so far are kept, and one more stream reads the
newest days (the days not stored yet and the trailing ``FINOPS_RESTATEMENT_DAYS`` + 1): freshness is
never traded for restatement. The estimated days in between keep their stored figures and flag, so a
later run, or a backfill, reads them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from finops_pipeline.defs.ingest.cost_explorer_api import (
    COST_METRICS,
    CostGrain,
    all_pages,
    grain_request,
    stream_grain,
)
from finops_pipeline.warehouse import Stage

ONE_DAY = dt.timedelta(days=1)
# One probe request pays for itself when the older days would take more pages than this to read.
PROBE_MIN_PAGES = 2
# Each stored group is rounded to the micro-dollar, so a day's stored sum may differ from Cost
# Explorer's unrounded total by up to half a micro-dollar per group.
MICRO = Decimal("0.000001")

Totals = tuple[Decimal, Decimal, Decimal]


@dataclass(frozen=True)
class RereadPlan:
    """One grain's refresh: re-read ``[start, end)``; ``[tail_start, end)`` whatever the budget."""

    start: dt.date
    tail_start: dt.date
    end: dt.date


@dataclass
class Reread:
    """What a refresh read: the windows its staged rows replace, and the days it did not need to read."""

    windows: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    checked_from: dt.date | None = None  # the first day looked at, read or probed
    finalised: list[dt.date] = field(default_factory=list)  # total unchanged, now final: flag flipped
    confirmed: int = 0  # estimated days whose total had not moved: rows kept, still estimated
    not_reread: int = 0  # days that moved (or were not probed) and the budget left unread


@dataclass(frozen=True)
class StoredDay:
    """A day as one tag key's rows hold it: the three sums, how many groups, whether estimated."""

    totals: Totals
    groups: int
    estimated: bool


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


STORED_DAYS_SQL = """
SELECT usage_date, {key}, sum(unblended_cost), sum(amortized_cost), sum(net_unblended_cost), count(*),
       bool_or(is_estimated)
FROM {table} WHERE usage_date >= ? AND usage_date < ? GROUP BY ALL
"""


def stored_days(
    conn: duckdb.DuckDBPyConnection, grain: CostGrain, window: tuple[dt.date, dt.date]
) -> dict[tuple[dt.date, str], StoredDay]:
    """Each day of ``window`` as the table holds it, per tag key ('' for a grain without one)."""
    key = "tag_key" if grain.per_tag_key else "''"
    rows = conn.execute(STORED_DAYS_SQL.format(key=key, table=grain.table), list(window)).fetchall()
    return {(day, k): StoredDay((u, a, n), int(count), bool(est)) for day, k, u, a, n, count, est in rows}


def day_totals(
    client: Any, grain: CostGrain, window: tuple[dt.date, dt.date]
) -> dict[dt.date, tuple[Totals, bool]]:
    """Each day's total of the grain's three metrics and ``Estimated`` flag, as Cost Explorer answers now.

    The grain's request without its ``GroupBy``: Cost Explorer then answers each period's ``Total``
    (API reference, ``ResultByTime.Total``), one result per day, a page for months of days.
    """
    request = grain_request(grain, *window, None)
    request.pop("GroupBy")
    answer: dict[dt.date, tuple[Totals, bool]] = {}
    for page in all_pages(client.get_cost_and_usage, **request):
        for period in page.get("ResultsByTime", []):
            total = period.get("Total", {})
            amounts = tuple(Decimal(total.get(m, {}).get("Amount", "0")) for m in COST_METRICS)
            day = dt.date.fromisoformat(period["TimePeriod"]["Start"])
            answer[day] = (amounts, bool(period.get("Estimated", False)))  # type: ignore[assignment]
    return answer


def probe_days(
    answer: dict[dt.date, tuple[Totals, bool]],
    stored: dict[tuple[dt.date, str], StoredDay],
    tag_keys: Sequence[str | None],
    window: tuple[dt.date, dt.date],
) -> tuple[list[dt.date], list[dt.date], int]:
    """The days of ``window`` to read (a total moved), to flag final (unchanged, now final), and how
    many stayed as they were (unchanged, still estimated)."""
    moved: list[dt.date] = []
    finalised: list[dt.date] = []
    confirmed = 0
    zero = (Decimal(0),) * 3
    for offset in range((window[1] - window[0]).days):
        day = window[0] + dt.timedelta(days=offset)
        totals, estimated_now = answer.get(day, (zero, True))
        held = [stored.get((day, k or ""), StoredDay(zero, 0, True)) for k in tag_keys]  # type: ignore[arg-type]
        if any(
            abs(have - want) > MICRO * (s.groups + 1)
            for s in held
            for have, want in zip(s.totals, totals, strict=True)
        ):
            moved.append(day)
        elif not estimated_now and any(s.estimated for s in held):
            finalised.append(day)
        elif any(s.estimated for s in held):
            confirmed += 1
    return moved, finalised, confirmed


def runs_of(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as ``[start, end)`` windows: one request stream each."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + ONE_DAY)
        else:
            runs.append((day, day + ONE_DAY))
    return runs


def read_plan(
    client: Any,
    grain: CostGrain,
    tag_keys: tuple[str | None, ...],
    plan: RereadPlan,
    budget: int,
    stage: Stage,
    reserve: Callable[[int, str], None] | None = None,
    stored: dict[tuple[dt.date, str], StoredDay] | None = None,
) -> Reread:
    """Stage the plan's rows and say which windows they replace.

    With ``stored`` (the older days as the table holds them) those days are probed first and only the
    ones that moved are read; without, every one is. Each read of older days stops at ``budget`` pages
    per stream; the newest days (``plan.tail_start`` on) are read whatever the budget.
    """
    done = Reread(checked_from=plan.start)
    if plan.start >= plan.end:
        return done
    head = (plan.start, plan.tail_start)
    if stored is not None and head[0] < head[1]:
        answer = day_totals(client, grain, head)
        moved, done.finalised, done.confirmed = probe_days(answer, stored, tag_keys, head)
        runs = [*runs_of(moved), (plan.tail_start, plan.end)]
    else:
        runs = [(plan.start, plan.end)]
    for run in runs:
        unbounded = stored is not None and run[0] >= plan.tail_start
        cut, max_pages = run[1], None if unbounded else budget
        for key in tag_keys:
            cut = min(cut, stream_grain(client, grain, run, key, stage, max_pages, reserve))
        # Every stream keeps the same days, since one window of the table is replaced for all tag keys;
        # later runs, the tail's included, start at or after the cut and are not staged yet.
        stage.drop(from_day=cut)
        if cut > run[0]:
            done.windows.append((run[0], cut))
        if cut < run[1] and run[1] == plan.end:
            tail = max(cut, plan.tail_start)
            for key in tag_keys:
                stream_grain(client, grain, (tail, plan.end), key, stage, reserve=reserve)
            done.windows.append((tail, plan.end))
            done.not_reread += (tail - cut).days
        else:
            done.not_reread += (run[1] - cut).days
    return done


def mark_final(conn: duckdb.DuckDBPyConnection, table: str, days: Sequence[dt.date]) -> None:
    """Flag final the days a probe found unchanged and no longer estimated (their rows are as read)."""
    if days:
        marks = ", ".join("?" for _ in days)
        conn.execute(f"UPDATE {table} SET is_estimated = false WHERE usage_date IN ({marks})", list(days))
