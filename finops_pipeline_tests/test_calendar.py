"""The calendar sweep: the daily refresh, budgets and the default report on the days that break calendars.

Each edge day gets its own sandbox world observed on that day and the pipeline's clock pinned to it
(``FINOPS_TODAY``), so nothing here depends on the machine's date. Every expectation comes from the
world's ledger (its ground truth) or from the calendar rule written out in the test, never from the
pipeline's own helpers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest
from dagster._utils.schedules import cron_string_iterator

from finops_pipeline.lib.cost_window import refresh_tags
from finops_pipeline.lib.reporting.report import generate_report
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.automation_support import schedule_for, tick_schedule
from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.world import World, build_world

D = dt.date
EDGE_DAYS = {
    "first_of_month": D(2026, 12, 1),
    "month_close": D(2026, 12, 3),
    "last_day_of_month": D(2026, 12, 31),
    "new_year": D(2027, 1, 1),
    "leap_day": D(2028, 2, 29),
    "dst_change_paris": D(2027, 3, 28),
}
BUDGET_ASSETS = ("aws_accounts", "ce_cost_daily", "ce_cost_forecast", "aws_budgets", "budget_status")


def month_start(day: dt.date, back: int = 0) -> dt.date:
    """The 1st of the month ``back`` months before ``day``'s (written here, not imported)."""
    index = day.year * 12 + day.month - 1 - back
    return D(index // 12, index % 12 + 1, 1)


def truth(world: World, start: dt.date, end: dt.date, by: str | None = None) -> Any:
    """The ledger's unblended total over [start, end), in dollars (per ``by`` when given)."""
    ledger = pl.from_arrow(world.ledger).filter(
        (pl.col("usage_date") >= start) & (pl.col("usage_date") < end)
    )
    cost = pl.col("unblended_cost").cast(pl.Float64)
    if by is None:
        return float(ledger.select(cost.sum()).item())
    return dict(ledger.group_by(by).agg(cost.sum()).iter_rows())


def expected_refresh(day: dt.date) -> tuple[dt.date, dt.date]:
    """The documented rule: this month (and the 4 days before today, 3 restated + yesterday's oldest)
    through today, and all of last month while it is closing (the 1st to the 5th)."""
    start = min(day - dt.timedelta(days=4), month_start(day))
    if day.day <= 5:
        start = min(start, month_start(day, 1))
    return start, day


@pytest.fixture(scope="module", params=sorted(EDGE_DAYS), ids=sorted(EDGE_DAYS))
def edge(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A world observed on the edge day, and a warehouse holding its last three months."""
    from finops_pipeline_tests.conftest import start_background_sandbox

    day = EDGE_DAYS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    config = sandbox_config(as_of=day)
    handle = start_background_sandbox(folder, config, None)
    monkeypatch = pytest.MonkeyPatch()
    try:
        from finops_pipeline_tests.conftest import set_aws_env
        from finops_pipeline_tests.pipeline_fixtures import pipeline_env

        database = folder / "finops.duckdb"
        set_aws_env(monkeypatch, pipeline_env(handle.env(), database), folder)
        monkeypatch.setenv("FINOPS_TODAY", day.isoformat())
        monkeypatch.chdir(folder)
        monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(folder))
        history = run_pipeline(month_start(day, 2), day, assets=BUDGET_ASSETS)
        assert history.success, [e.message for e in history.all_events if e.is_step_failure]
        settings = load_settings()
        refresh = run_pipeline(assets=("ce_cost_daily",), tags=refresh_tags(settings, day))
        assert refresh.success
        metadata = refresh.asset_observations_for_node("ce_cost_daily")[0].metadata  # the window's figures
        refreshed = (metadata["window_checked_start"].value, metadata["window_end_exclusive"].value)
        report = generate_report("json", output_dir="reports")
        month_report = generate_report("json", preset="previous_full_month", output_dir="reports")
        payloads = [json.loads(Path(r["files"][0]).read_text()) for r in (report, month_report)]
        yield {
            "day": day,
            "world": build_world(config),
            "database": database,
            "refreshed": refreshed,
            "report": payloads[0],
            "month_report": payloads[1],
        }
    finally:
        monkeypatch.undo()
        handle.stop()


def _sql(database: Path, query: str, params: list[Any] | None = None) -> pl.DataFrame:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.sql(query, params=params or []).pl()


def test_costs_equal_the_ledger_to_the_cent_in_every_month(edge: dict[str, Any]) -> None:
    day, world = edge["day"], edge["world"]
    months = [month_start(day, 2), month_start(day, 1), month_start(day)]
    got = _sql(
        edge["database"],
        "SELECT CAST(date_trunc('month', usage_date) AS DATE) AS m, "
        "CAST(sum(unblended_cost) AS DOUBLE) AS usd "
        "FROM raw.ce_cost_daily WHERE usage_date <= ? GROUP BY 1 ORDER BY 1",
        [day],
    )
    ends = [*months[1:], day + dt.timedelta(days=1)]
    expected = [round(truth(world, m, e), 2) for m, e in zip(months, ends, strict=True)]
    if day.day == 1 and truth(world, day, day + dt.timedelta(days=1)) == 0:
        months, expected = months[:2], expected[:2]  # no estimate for today yet
    assert got["m"].to_list() == months
    assert [round(v, 2) for v in got["usd"]] == pytest.approx(expected, abs=0.01)


def test_the_daily_refresh_rereads_the_restated_days_and_the_closing_month(edge: dict[str, Any]) -> None:
    start, last = expected_refresh(edge["day"])
    assert edge["refreshed"] == (start.isoformat(), (last + dt.timedelta(days=1)).isoformat())


def test_per_account_forecasts_add_up_to_cost_explorer_and_never_collapse(edge: dict[str, Any]) -> None:
    day, world = edge["day"], edge["world"]
    status = _sql(edge["database"], "SELECT * FROM marts.budget_status WHERE month_state = 'current'")
    org = status.filter(pl.col("scope") == "organisation").row(0, named=True)
    accounts = status.filter(pl.col("scope") == "account")
    assert org["month"] == month_start(day)
    assert org["month_to_date_usd"] == pytest.approx(truth(world, month_start(day), day), abs=0.01)
    assert accounts["forecast_usd"].sum() == pytest.approx(org["forecast_usd"], rel=0.01)
    assert set(accounts["forecast_method"]) == {"run_rate_scaled_to_cost_explorer"}
    recent = truth(world, day - dt.timedelta(days=7), day, by="account_id")
    spending = {a for a, usd in recent.items() if usd > 0}
    forecasts = dict(accounts.select("account_id", "forecast_usd").iter_rows())
    assert spending and all(forecasts[a] > 0 for a in spending)


def test_last_month_is_kept_closed_at_its_actual(edge: dict[str, Any]) -> None:
    day, world = edge["day"], edge["world"]
    closed = _sql(edge["database"], "SELECT * FROM marts.budget_status WHERE month_state = 'closed'")
    org = closed.filter(pl.col("scope") == "organisation").row(0, named=True)
    assert org["month"] == month_start(day, 1)
    assert org["month_to_date_usd"] == pytest.approx(
        truth(world, month_start(day, 1), month_start(day)), abs=0.01
    )
    assert org["forecast_method"] == "actual"


def test_the_default_report_covers_complete_days_and_compares_like_for_like(edge: dict[str, Any]) -> None:
    day, world = edge["day"], edge["world"]
    totals = edge["report"]["totals"]
    if day.day == 1:  # no complete day this month: last month, said so
        start, end, label = month_start(day, 1), month_start(day), "previous_full_month"
        prev = (month_start(day, 2), month_start(day, 1))
        assert "is the 1st" in totals["period_note"]
    else:
        start, end, label = month_start(day), day, "month_to_date"
        before = month_start(day, 1)
        prev = (before, min(before + dt.timedelta(days=(day - start).days), start))
        assert totals["period_note"] == ""
    assert (totals["period_start"], totals["period_end_exclusive"], totals["period_label"]) == (
        start.isoformat(),
        end.isoformat(),
        label,
    )
    assert totals["total_unblended_usd"] == pytest.approx(round(truth(world, start, end), 2), abs=0.01)
    assert totals["total_unblended_usd"] > 0
    assert (totals["comparison_start"], totals["comparison_end_exclusive"]) == tuple(
        p.isoformat() for p in prev
    )
    previous = round(truth(world, *prev), 2)
    assert totals["previous_period_unblended_usd"] == pytest.approx(previous, abs=0.01)
    change = round((truth(world, start, end) - previous) * 100 / previous, 2)
    assert totals["change_vs_previous_pct"] == pytest.approx(change, abs=0.01)


def test_a_month_report_holds_that_month_and_its_own_budgets(edge: dict[str, Any]) -> None:
    day, world = edge["day"], edge["world"]
    payload = edge["month_report"]
    totals = payload["totals"]
    month, before = month_start(day, 1), month_start(day, 2)
    assert totals["total_unblended_usd"] == pytest.approx(
        round(truth(world, month, month_start(day)), 2), abs=0.01
    )
    assert totals["previous_period_unblended_usd"] == pytest.approx(
        round(truth(world, before, month), 2), abs=0.01
    )
    assert totals["comparison"].startswith(f"compared with {before:%B %Y}, the calendar month before")
    budgets = payload["datasets"]["budget_status"]["rows"]
    assert budgets and {r["month"] for r in budgets} == {month.isoformat()}
    assert {r["month_state"] for r in budgets} == {"closed"}
    movers = payload["datasets"]["top_movers"]["rows"]
    assert movers
    for row in movers:  # rounded for presentation: no float noise in the file
        assert row["change_pct"] is None or row["change_pct"] == round(row["change_pct"], 4)


def _ticks(cron: str, timezone: str, day: dt.date) -> list[dt.datetime]:
    """The schedule's ticks within ``day`` in ``timezone``, as Dagster's scheduler iterates them."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    ticks = []
    for tick in cron_string_iterator(start.timestamp(), cron, timezone):
        if tick >= end:
            return ticks
        ticks.append(tick)
    return ticks


@pytest.mark.parametrize(
    ("day", "cron", "utc_times"),
    [
        (D(2027, 3, 28), "0 2 * * *", ["01:00"]),  # 02:00 does not exist in Paris that night: 03:00 CEST
        (D(2027, 3, 28), "30 1 * * *", ["00:30"]),  # before the change: 01:30 CET
        # 02:30 happens twice in Paris that night: one tick, at the second (02:30 CET), as Dagster does
        (D(2027, 10, 31), "30 2 * * *", ["01:30"]),
        (D(2027, 10, 31), "0 4 * * *", ["03:00"]),  # after the change: 04:00 CET
        (D(2028, 2, 29), "0 2 * * *", ["01:00"]),
        (D(2027, 1, 1), "30 0 * * *", ["23:30"]),  # 00:30 in Paris on New Year's Day is 31 December UTC
    ],
)
def test_the_report_schedule_ticks_once_a_day_across_dst_changes(
    day: dt.date, cron: str, utc_times: list[str]
) -> None:
    settings = load_settings(
        {
            "REPORT_SCHEDULE_ENABLED": "true",
            "REPORT_SCHEDULE_CRON": cron,
            "REPORT_SCHEDULE_TIMEZONE": "Europe/Paris",
        }
    )
    schedule = schedule_for(settings, "finops_report_schedule")
    ticks = _ticks(cron, "Europe/Paris", day)
    assert [t.astimezone(dt.UTC).strftime("%H:%M") for t in ticks] == utc_times
    (request,) = tick_schedule(schedule, settings, ticks[0]).run_requests
    as_of = request.run_config["ops"]["finops_report"]["config"]["as_of"]
    assert as_of == ticks[0].astimezone(dt.UTC).date().isoformat()  # the report's "today" is the UTC day


@pytest.mark.parametrize("name", sorted(EDGE_DAYS))
def test_the_daily_refresh_ticks_once_and_asks_for_the_refresh_window(name: str) -> None:
    day = EDGE_DAYS[name]
    settings = load_settings({"FINOPS_DAILY_SCHEDULE_ENABLED": "true"}, today=day)
    schedule = schedule_for(settings, "daily_ingest_schedule")
    (tick,) = _ticks(schedule.cron_schedule, "UTC", day)
    (request,) = tick_schedule(schedule, settings, tick).run_requests
    start, last = expected_refresh(day)
    assert request.tags["dagster/asset_partition_range_start"] == start.isoformat()
    assert request.tags["dagster/asset_partition_range_end"] == last.isoformat()
