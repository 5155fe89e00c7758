"""Daily partitions for the Cost Explorer grains: UTC days from FINOPS_START_DATE through today."""

import datetime as dt

import dagster as dg

from finops_pipeline.clock import machine_today, pinned_today
from finops_pipeline.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Today's partition exists, because Cost Explorer already shows today's estimate.

    With the real clock, Dagster moves the last partition forward by itself (``end_offset=1``). Dagster
    counts partitions from the machine's clock, so with a pinned clock (``FINOPS_TODAY``) the offset is
    the distance from the machine's day to the pinned one, and ``end_date`` caps the set at the pinned
    day: the last partition is the pinned day whatever the machine's date (in the past or the future).
    """
    pinned = pinned_today()
    if pinned is None:
        return dg.DailyPartitionsDefinition(
            start_date=settings.start_date.isoformat(), end_offset=1, timezone="UTC"
        )
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(),
        end_date=(pinned + dt.timedelta(days=1)).isoformat(),
        end_offset=(pinned - machine_today()).days + 1,
        timezone="UTC",
    )
