"""The one clock: FINOPS_TODAY pins every "today", a bad pin is a clear error, partitions follow it."""

import datetime as dt

import pytest

from finops_pipeline import clock
from finops_pipeline.defs.ingest.partitions import daily_partitions
from finops_pipeline.settings import SettingsError, load_settings


@pytest.mark.parametrize("day", ["2026-12-01", "2027-01-01", "2028-02-29", "2026-12-31", "2024-03-01"])
def test_a_pinned_day_is_today_everywhere(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    monkeypatch.setenv("FINOPS_TODAY", day)
    pinned = dt.date.fromisoformat(day)
    assert clock.today_utc() == pinned
    assert clock.utc_now().date() == pinned and clock.utc_now().tzinfo is not None
    settings = load_settings({"FINOPS_TODAY": day})
    assert settings.start_date == clock.first_of_month_months_ago(pinned, 13)
    keys = daily_partitions(settings).get_partition_keys()
    # the first and last partition come from the pin, whatever the machine's date
    assert (keys[0], keys[-1]) == (settings.start_date.isoformat(), day)


def test_unpinned_is_the_machine_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    class Frozen(dt.datetime):  # the machine's clock, stood in for: the test never reads the real one
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:
            return dt.datetime(2031, 7, 4, 23, 59, tzinfo=tz)

    monkeypatch.delenv("FINOPS_TODAY")
    monkeypatch.setattr(clock.dt, "datetime", Frozen)
    assert clock.pinned_today() is None
    assert clock.today_utc() == clock.machine_today() == dt.date(2031, 7, 4)
    assert clock.utc_now() == dt.datetime(2031, 7, 4, 23, 59, tzinfo=dt.UTC)


def test_a_bad_pin_names_the_variable_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match=r"FINOPS_TODAY='yesterday' is invalid: .*Fix: use a UTC date"):
        load_settings({"FINOPS_TODAY": "yesterday"})
    monkeypatch.setenv("FINOPS_TODAY", "2026-02-30")
    with pytest.raises(clock.ClockError, match=r"FINOPS_TODAY='2026-02-30' is not a date: use a UTC date"):
        clock.today_utc()


@pytest.mark.parametrize(
    ("day", "months", "first"),
    [
        (dt.date(2026, 1, 31), 1, dt.date(2025, 12, 1)),
        (dt.date(2026, 11, 27), 13, dt.date(2025, 10, 1)),
        (dt.date(2028, 2, 29), 0, dt.date(2028, 2, 1)),
        (dt.date(2026, 12, 31), -2, dt.date(2027, 2, 1)),
    ],
)
def test_first_of_month_months_ago(day: dt.date, months: int, first: dt.date) -> None:
    assert clock.first_of_month_months_ago(day, months) == first
