"""Which days a daily refresh re-reads: the restated tail, plus last month while it is still closing."""

import datetime as dt

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.settings import Settings

REFRESH_TAG = "finops/refresh"  # on runs of the daily schedule: "daily"


def restated_start(settings: Settings, today: dt.date) -> dt.date:
    """First day whose usage Cost Explorer may still restate.

    Yesterday's run saw the ``restatement_days`` days before yesterday as estimated; today's run
    re-reads all of them, so the oldest one gets its final figures.
    """
    return max(today - dt.timedelta(days=settings.restatement_days + 1), settings.start_date)


def refresh_window(settings: Settings, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last partition (both inclusive) of the daily refresh run."""
    start = restated_start(settings, today)
    if today.day <= settings.month_close_days:
        # Credits, refunds and tax for last month post in the first days of this one.
        start = min(start, first_of_month_months_ago(today, 1))
    return max(start, settings.start_date), today


def refresh_tags(settings: Settings, today: dt.date) -> dict[str, str]:
    """The tags of today's daily refresh run: its partition range, marked as the daily refresh."""
    return {**range_tags(*refresh_window(settings, today)), REFRESH_TAG: "daily"}


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
