"""Schedules and SES sensors: their tick logic is module-level, their crons and default statuses are
settings read when the code location loads (the one thing Dagster cannot take from a resource)."""

import datetime as dt

import dagster as dg

from finops_pipeline.config_resources import CostWindowResource, ReportsResource
from finops_pipeline.defs.automation.alert_sensors import alert_tick
from finops_pipeline.defs.automation.email_sensors import anomaly_email_tick, report_email_tick
from finops_pipeline.defs.automation.focus_sensor import focus_export_tick
from finops_pipeline.defs.automation.jobs import daily_ingest_job, finops_report_job, focus_import_job
from finops_pipeline.lib.cost_window import refresh_tags
from finops_pipeline.settings import Settings, load_settings


def daily_ingest_tick(
    context: dg.ScheduleEvaluationContext, cost_window: CostWindowResource
) -> dg.RunRequest:
    """Today's refresh: the partition range Cost Explorer may still restate (``lib/cost_window.py``)."""
    today = context.scheduled_execution_time.date()
    return dg.RunRequest(run_key=None, tags=refresh_tags(cost_window, today))


def report_tick(
    context: dg.ScheduleEvaluationContext, reports: ReportsResource
) -> dg.RunRequest | dg.SkipReason:
    """The report of the tick's UTC day, in the default formats and period."""
    if not reports.schedule_enabled:
        return dg.SkipReason("REPORT_SCHEDULE_ENABLED is false: set it to true to write scheduled reports")
    tick = context.scheduled_execution_time
    as_of = tick.astimezone(dt.UTC).date().isoformat()
    return dg.RunRequest(
        run_key=f"finops_report:{tick.isoformat()}",
        run_config={"ops": {"finops_report": {"config": {"as_of": as_of}}}},
        tags={"finops/trigger": "schedule", "finops/as_of": as_of},
    )


def _running(enabled: bool) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED


def _sensor_running(enabled: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if enabled else dg.DefaultSensorStatus.STOPPED


def build_automation(settings: Settings) -> dg.Definitions:
    """The two schedules, the SES, alert and FOCUS sensors with this load's crons and statuses."""
    daily = dg.schedule(
        name="daily_ingest_schedule",
        job=daily_ingest_job,
        cron_schedule=settings.daily_schedule_cron,
        execution_timezone="UTC",
        default_status=_running(settings.daily_schedule_enabled),
        description="Daily refresh; stopped unless FINOPS_DAILY_SCHEDULE_ENABLED=true.",
    )(daily_ingest_tick)
    report = dg.schedule(
        name="finops_report_schedule",
        job=finops_report_job,
        cron_schedule=settings.report_schedule_cron,
        execution_timezone=settings.report_schedule_timezone,
        default_status=_running(settings.report_schedule_enabled),
        description="The report, default formats and period; runs only if REPORT_SCHEDULE_ENABLED=true.",
    )(report_tick)
    report_mail = dg.sensor(
        name="finops_report_email_sensor",
        minimum_interval_seconds=60,
        default_status=_sensor_running(settings.ses_enabled),
        description="E-mails each new finops_report through SES (SES_ENABLED), retrying failed sends.",
    )(report_email_tick)
    anomaly_mail = dg.sensor(
        name="anomaly_alert_email_sensor",
        minimum_interval_seconds=60,
        default_status=_sensor_running(settings.ses_enabled),
        description="E-mails each new high-severity cost anomaly once through SES (SES_ENABLED).",
    )(anomaly_email_tick)
    alerts = dg.sensor(
        name="finops_alert_sensor",
        minimum_interval_seconds=60,
        default_status=_sensor_running(bool(settings.slack_webhook_url or settings.alert_webhook_url)),
        description="Posts new high-severity anomalies, budget breaches and reports once to Slack "
        "(SLACK_WEBHOOK_URL) and a JSON webhook (ALERT_WEBHOOK_URL), retrying failed posts.",
    )(alert_tick)
    focus = dg.sensor(
        name="focus_export_sensor",
        job=focus_import_job,
        minimum_interval_seconds=settings.focus_sensor_interval_seconds,
        default_status=_sensor_running(settings.focus_export_uri is not None),
        description="Imports a period of the FOCUS export (FOCUS_EXPORT_URI) when its files change.",
    )(focus_export_tick)
    return dg.Definitions(schedules=[daily, report], sensors=[report_mail, anomaly_mail, alerts, focus])


@dg.definitions
def defs() -> dg.Definitions:
    return build_automation(load_settings())
