"""``finops_report_schedule``: the report at REPORT_SCHEDULE_CRON in REPORT_SCHEDULE_TIMEZONE if enabled."""

import datetime as dt
from typing import Any

import dagster as dg

from finops_pipeline.settings import Settings


def build_report_schedule(settings: Settings, job: Any) -> dg.ScheduleDefinition:
    enabled = settings.report_schedule_enabled

    @dg.schedule(
        name="finops_report_schedule",
        job=job,
        cron_schedule=settings.report_schedule_cron,
        execution_timezone=settings.report_schedule_timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description="The report, default formats and period; runs only if REPORT_SCHEDULE_ENABLED=true.",
    )
    def finops_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if not enabled:
            return dg.SkipReason(
                "REPORT_SCHEDULE_ENABLED is false: set it to true to write scheduled reports"
            )
        tick = context.scheduled_execution_time
        as_of = tick.astimezone(dt.UTC).date().isoformat()
        return dg.RunRequest(
            run_key=f"finops_report:{tick.isoformat()}",
            run_config={"ops": {"finops_report": {"config": {"as_of": as_of}}}},
            tags={"finops/trigger": "schedule", "finops/as_of": as_of},
        )

    return finops_report_schedule
