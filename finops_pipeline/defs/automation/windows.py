"""Which days a daily refresh re-reads: the restated tail, plus last month while it is still closing."""

import datetime as dt

from finops_pipeline.settings import Settings, first_of_month_months_ago


def refresh_window(settings: Settings, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last partition (both inclusive) of the daily refresh run.

    Yesterday's run saw the ``restatement_days`` days before yesterday as estimated; today's run
    re-reads all of them, so the oldest one gets its final figures.
    """
    start = today - dt.timedelta(days=settings.restatement_days + 1)
    if today.day <= settings.month_close_days:
        # Credits, refunds and tax for last month post in the first days of this one.
        start = min(start, first_of_month_months_ago(today, 1))
    return max(start, settings.start_date), today


def range_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }
