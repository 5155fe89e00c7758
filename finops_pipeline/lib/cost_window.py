"""Which days a daily refresh may re-read: this month, plus last month while it is still closing.

The range is what Cost Explorer can still mark estimated; inside it each cost grain re-reads only the
days its table holds as estimated (``defs/ingest/restatement.py``), so a final day costs nothing.
"""

import datetime as dt
from typing import Protocol

from finops_pipeline.clock import first_of_month_months_ago

REFRESH_TAG = "finops/refresh"  # on runs of the daily schedule: "daily"


class CostWindow(Protocol):
    """The settings a window depends on: ``Settings`` and ``CostWindowResource`` both carry them."""

    @property
    def start_date(self) -> dt.date: ...

    @property
    def restatement_days(self) -> int: ...

    @property
    def month_close_days(self) -> int: ...


def restated_start(settings: CostWindow, today: dt.date) -> dt.date:
    """First day of the trailing days the refresh reads whatever its request budget.

    Cost Explorer restates the last ``restatement_days`` days most; with the days not stored yet they are
    the part of a refresh that is never given up when the budget runs out.
    """
    return max(today - dt.timedelta(days=settings.restatement_days + 1), settings.start_date)


def refresh_window(settings: CostWindow, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last partition (both inclusive) of the daily refresh run.

    Every day of this month is estimated; last month's days too until its bill is final, in the first
    days of this one (``month_close_days``: fees, support, discounts, credits, refunds and tax post then).
    """
    start = min(restated_start(settings, today), estimated_since(settings, today))
    return max(start, settings.start_date), today


def estimated_since(settings: CostWindow, today: dt.date) -> dt.date:
    """The first day whose bill is not final: this month's 1st, last month's while it closes."""
    return first_of_month_months_ago(today, 1 if today.day <= settings.month_close_days else 0)


def refresh_tags(settings: CostWindow, today: dt.date) -> dict[str, str]:
    """The tags of today's daily refresh run: its partition range, marked as the daily refresh."""
    return {**range_tags(*refresh_window(settings, today)), REFRESH_TAG: "daily"}


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
