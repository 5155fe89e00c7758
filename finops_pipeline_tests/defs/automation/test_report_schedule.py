"""finops_report_schedule: enabled or not, its cron and time zone, and load-time validation."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.defs.automation.jobs import daily_ingest_job, finops_report_job
from finops_pipeline.defs.reporting.assets import finops_report
from finops_pipeline.settings import SettingsError, load_settings
from finops_pipeline_tests.automation_support import tick_schedule


def _defs(**env: str) -> dg.Definitions:
    settings = load_settings(env)
    return dg.Definitions.merge(
        build_automation(settings),
        dg.Definitions(
            assets=[finops_report],
            jobs=[finops_report_job, daily_ingest_job],
            resources=resources_for(settings),
        ),
    )


def _schedule(**env: str) -> dg.ScheduleDefinition:
    return _defs(**env).resolve_schedule_def("finops_report_schedule")


def _tick(when: dt.datetime, **env: str):
    return tick_schedule(_schedule(**env), load_settings(env), when)


def test_defaults_are_daily_at_two_utc_and_stopped() -> None:
    schedule = _schedule()
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    result = _tick(dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC))
    assert result.run_requests == [] or result.run_requests is None
    assert "REPORT_SCHEDULE_ENABLED is false" in result.skip_message


def test_enabled_schedule_requests_one_run_per_tick_with_the_utc_day() -> None:
    schedule = _schedule(
        REPORT_SCHEDULE_ENABLED="true",
        REPORT_SCHEDULE_CRON="30 1 * * *",
        REPORT_SCHEDULE_TIMEZONE="Europe/Paris",
    )
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 1 * * *", "Europe/Paris")
    # 01:30 in Paris on 1 March 2024 is 00:30 UTC on 1 March: the report's "today" is the UTC day.
    tick = dt.datetime(2024, 3, 1, 1, 30, tzinfo=ZoneInfo("Europe/Paris"))
    env = {
        "REPORT_SCHEDULE_ENABLED": "true",
        "REPORT_SCHEDULE_CRON": "30 1 * * *",
        "REPORT_SCHEDULE_TIMEZONE": "Europe/Paris",
    }
    result = _tick(tick, **env)
    (request,) = result.run_requests
    assert request.run_config == {"ops": {"finops_report": {"config": {"as_of": "2024-03-01"}}}}
    assert request.run_key == f"finops_report:{tick.isoformat()}"
    late = dt.datetime(2024, 3, 1, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))  # 23:30 UTC on the leap day
    (request,) = _tick(late, **env).run_requests
    assert request.run_config["ops"]["finops_report"]["config"]["as_of"] == "2024-02-29"


def test_schedule_targets_the_report_job() -> None:
    defs = _defs(REPORT_SCHEDULE_ENABLED="true")
    assert defs.resolve_schedule_def("finops_report_schedule").job_name == "finops_report_job"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REPORT_SCHEDULE_CRON": "every day"}, "REPORT_SCHEDULE_CRON='every day' is invalid"),
        ({"REPORT_SCHEDULE_CRON": "0 25 * * *"}, "REPORT_SCHEDULE_CRON"),
        (
            {"REPORT_SCHEDULE_TIMEZONE": "Europe/Atlantis"},
            "REPORT_SCHEDULE_TIMEZONE='Europe/Atlantis' is invalid: not an IANA time zone",
        ),
        ({"REPORT_SCHEDULE_ENABLED": "maybe"}, "REPORT_SCHEDULE_ENABLED"),
        (
            {"SES_ENABLED": "true", "SES_SENDER_EMAIL": "finops@example.com"},
            "SES_ENABLED=true needs SES_RECIPIENT_EMAILS",
        ),
        ({"SES_SENDER_EMAIL": "not-an-address"}, "SES_SENDER_EMAIL='not-an-address' is invalid"),
        (
            {"SES_RECIPIENT_EMAILS": "a@example.com,b@example.com\r\nBcc: x@evil.example"},
            "SES_RECIPIENT_EMAILS",
        ),
        ({"REPORT_OUTPUT_DIR": "../escape"}, "REPORT_OUTPUT_DIR='../escape' is invalid"),
        ({"MAX_EXCEL_ROWS": "2000000"}, "MAX_EXCEL_ROWS"),
        ({"REPORT_DEFAULT_FORMATS": "csv,docx"}, "unknown format docx"),
    ],
)
def test_bad_settings_fail_at_load_with_variable_value_and_fix(env: dict, message: str) -> None:
    with pytest.raises(SettingsError, match="Fix: ") as caught:
        build_automation(load_settings(env))
    assert message in str(caught.value)
