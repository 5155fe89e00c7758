"""Daily automation: re-materialize the restated window of every cost grain plus the snapshots."""

import dagster as dg

from finops_pipeline.defs import layers
from finops_pipeline.defs.automation.windows import refresh_tags
from finops_pipeline.settings import Settings, load_settings

# Raw tables first, then every mart built from them; reports have their own schedule.
DAILY_SELECTION = dg.AssetSelection.groups(*layers.RAW_GROUPS, *layers.MART_GROUPS)


def build_automation_defs(settings: Settings) -> dg.Definitions:
    daily_ingest_job = dg.define_asset_job(
        name="daily_ingest_job",
        selection=DAILY_SELECTION,
        description="Cost grains over the restated window, the snapshots, and every mart built on them.",
    )

    @dg.schedule(
        job=daily_ingest_job,
        cron_schedule=settings.daily_schedule_cron,
        execution_timezone="UTC",
        default_status=(
            dg.DefaultScheduleStatus.RUNNING
            if settings.daily_schedule_enabled
            else dg.DefaultScheduleStatus.STOPPED
        ),
        description="Daily refresh; stopped unless FINOPS_DAILY_SCHEDULE_ENABLED=true.",
    )
    def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        today = context.scheduled_execution_time.date()
        return dg.RunRequest(run_key=None, tags=refresh_tags(settings, today))

    return dg.Definitions(jobs=[daily_ingest_job], schedules=[daily_ingest_schedule])


@dg.definitions
def defs() -> dg.Definitions:
    return build_automation_defs(load_settings())
