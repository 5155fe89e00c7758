"""Daily partitions for the Cost Explorer grains: UTC days from FINOPS_START_DATE through today."""

import dagster as dg

from finops_pipeline.settings import Settings


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, because Cost Explorer already shows today's estimate.
    return dg.DailyPartitionsDefinition(
        start_date=settings.start_date.isoformat(), end_offset=1, timezone="UTC"
    )
