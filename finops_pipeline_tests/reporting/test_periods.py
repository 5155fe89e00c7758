import datetime as dt

import pytest

from finops_pipeline.reporting.periods import ReportRangeError, resolve_period

D = dt.date


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (D(2026, 3, 1), D(2026, 2, 1), D(2026, 3, 1)),  # 28-day February
        (D(2024, 3, 1), D(2024, 2, 1), D(2024, 3, 1)),  # leap February (29 days)
        (D(2024, 3, 31), D(2024, 2, 1), D(2024, 3, 1)),
        (D(2026, 1, 1), D(2025, 12, 1), D(2026, 1, 1)),  # across the year
        (D(2026, 1, 31), D(2025, 12, 1), D(2026, 1, 1)),
        (D(2026, 12, 31), D(2026, 11, 1), D(2026, 12, 1)),
    ],
)
def test_previous_full_month_ends_on_the_first_exclusive(
    today: dt.date, start: dt.date, end: dt.date
) -> None:
    period = resolve_period(preset="previous_full_month", today=today)
    assert (period.start, period.end) == (start, end)
    assert period.last_day == end - dt.timedelta(days=1)
    assert period.days == (end - start).days


def test_leap_february_has_29_days_and_common_has_28() -> None:
    assert resolve_period(preset="previous_full_month", today=D(2024, 3, 15)).days == 29
    assert resolve_period(preset="previous_full_month", today=D(2025, 3, 15)).days == 28
    assert resolve_period(preset="previous_full_month", today=D(2000, 3, 15)).days == 29  # divisible by 400
    assert resolve_period(preset="previous_full_month", today=D(2100, 3, 15)).days == 28  # by 100, not 400


@pytest.mark.parametrize(
    ("today", "start", "end", "days"),
    [
        (D(2024, 2, 29), D(2024, 2, 1), D(2024, 3, 1), 29),  # leap day: the whole of February
        (D(2026, 2, 28), D(2026, 2, 1), D(2026, 3, 1), 28),
        (D(2026, 12, 31), D(2026, 12, 1), D(2027, 1, 1), 31),
        (D(2026, 5, 1), D(2026, 5, 1), D(2026, 5, 2), 1),  # the 1st: today only
    ],
)
def test_month_to_date_includes_today(today: dt.date, start: dt.date, end: dt.date, days: int) -> None:
    period = resolve_period(preset="month_to_date", today=today)
    assert (period.start, period.end, period.days) == (start, end, days)
    assert resolve_period(today=today) == period  # the default preset


def test_last_n_days_are_complete_days_before_today() -> None:
    period = resolve_period(last_n_days=7, today=D(2024, 3, 2))
    assert (period.start, period.end) == (D(2024, 2, 24), D(2024, 3, 2))
    assert resolve_period(preset="last_n_days", last_n_days=1, today=D(2024, 3, 1)).start == D(2024, 2, 29)
    assert resolve_period(last_n_days=366, today=D(2025, 1, 1)).start == D(2024, 1, 1)


def test_explicit_range_end_is_exclusive_and_defaults_to_tomorrow() -> None:
    period = resolve_period(start="2024-02-01", end="2024-03-01", today=D(2024, 6, 1))
    assert (period.days, period.last_day) == (29, D(2024, 2, 29))
    assert resolve_period(start=D(2024, 6, 1), today=D(2024, 6, 1)).end == D(2024, 6, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "last_month"}, "unknown"),
        ({"preset": "last_n_days"}, "needs last_n_days"),
        ({"preset": "month_to_date", "last_n_days": 5}, "contradicts"),
        ({"preset": "month_to_date", "start": "2024-01-01"}, "contradict"),
        ({"last_n_days": 5, "start": "2024-01-01", "end": "2024-01-05"}, "contradict"),
        ({"last_n_days": 0}, "between 1"),
        ({"last_n_days": True}, "whole number"),
        ({"last_n_days": 2.5}, "whole number"),
        ({"end": "2024-01-05"}, "without start"),
        ({"start": "2024-01-05", "end": "2024-01-05"}, "not after start"),
        ({"start": "2024-01-06", "end": "2024-01-05"}, "not after start"),
        ({"start": "2024-13-01"}, "YYYY-MM-DD"),
        ({"start": "2030-01-01"}, "after today"),
        ({"start": "2000-01-01", "end": "2024-01-01"}, "at most"),
    ],
)
def test_invalid_or_contradictory_requests_raise_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ReportRangeError, match=message):
        resolve_period(today=D(2024, 6, 1), **kwargs)


def test_previous_period_has_the_same_length() -> None:
    period = resolve_period(preset="previous_full_month", today=D(2024, 4, 10))  # March: 31 days
    assert (period.previous.start, period.previous.end) == (D(2024, 1, 30), D(2024, 3, 1))
