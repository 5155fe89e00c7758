"""Reporting domain: the ``finops_report`` asset and job, its schedule, and the SES e-mail sensors."""

import dagster as dg

from finops_pipeline.defs.reporting.assets import MART_DEPS, RAW_DEPS, REPORT_ASSET, build_report_asset
from finops_pipeline.defs.reporting.schedules import build_report_schedule
from finops_pipeline.defs.reporting.sensors import build_anomaly_email_sensor, build_report_email_sensor
from finops_pipeline.settings import Settings, load_settings

REPORT_JOB = "finops_report_job"


def build_reporting_defs(settings: Settings) -> dg.Definitions:
    report = build_report_asset(settings, [*RAW_DEPS, *MART_DEPS])
    job = dg.define_asset_job(
        name=REPORT_JOB,
        selection=[REPORT_ASSET],
        description="Write the report files (CSV, JSON, Excel, Parquet, HTML); the e-mail sensor mails them.",
    )
    return dg.Definitions(
        assets=[report],
        jobs=[job],
        schedules=[build_report_schedule(settings, job)],
        sensors=[build_report_email_sensor(settings), build_anomaly_email_sensor(settings)],
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_reporting_defs(load_settings())
