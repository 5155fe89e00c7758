import datetime as dt

import dagster as dg

from finops_pipeline.lib.cost_window import refresh_window
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.automation_support import schedule_for, tick_schedule

TODAY = dt.date(2026, 11, 27)


def test_mid_month_refresh_may_reread_the_month_cost_explorer_still_estimates() -> None:
    settings = load_settings({}, today=TODAY)
    assert refresh_window(settings, TODAY) == (dt.date(2026, 11, 1), TODAY)


def test_early_month_refresh_also_rereads_last_month_while_it_closes() -> None:
    settings = load_settings({}, today=TODAY)
    assert refresh_window(settings, dt.date(2026, 12, 4)) == (dt.date(2026, 11, 1), dt.date(2026, 12, 4))
    assert refresh_window(settings, dt.date(2026, 12, 6)) == (dt.date(2026, 12, 1), dt.date(2026, 12, 6))
    # The trailing restated days cross into last month even after it is final.
    assert refresh_window(settings, dt.date(2027, 1, 2)) == (dt.date(2026, 12, 1), dt.date(2027, 1, 2))
    no_close = load_settings({"FINOPS_MONTH_CLOSE_DAYS": "0"}, today=TODAY)
    assert refresh_window(no_close, dt.date(2026, 12, 2)) == (dt.date(2026, 11, 28), dt.date(2026, 12, 2))


def test_refresh_never_starts_before_the_first_partition() -> None:
    settings = load_settings({"FINOPS_START_DATE": "2026-11-26"}, today=TODAY)
    assert refresh_window(settings, TODAY) == (dt.date(2026, 11, 26), TODAY)


def test_schedule_requests_one_ranged_run_and_is_stopped_unless_enabled() -> None:
    settings = load_settings({}, today=TODAY)
    schedule = schedule_for(settings, "daily_ingest_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    request = tick_schedule(schedule, settings, dt.datetime(2026, 12, 2, 6, tzinfo=dt.UTC)).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-11-01"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-12-02"
    assert request.tags["finops/refresh"] == "daily"  # each grain re-reads only its estimated days
    enabled = schedule_for(
        load_settings({"FINOPS_DAILY_SCHEDULE_ENABLED": "true"}, today=TODAY), "daily_ingest_schedule"
    )
    assert enabled.default_status == dg.DefaultScheduleStatus.RUNNING
