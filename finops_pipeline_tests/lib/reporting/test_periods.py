import datetime as dt

import pytest

from finops_pipeline.lib.reporting.periods import ReportRangeError, resolve_period

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
        (D(2024, 2, 29), D(2024, 2, 1), D(2024, 2, 29), 28),  # leap day: the 28 complete days before it
        (D(2026, 2, 28), D(2026, 2, 1), D(2026, 2, 28), 27),
        (D(2026, 12, 31), D(2026, 12, 1), D(2026, 12, 31), 30),
        (D(2026, 5, 2), D(2026, 5, 1), D(2026, 5, 2), 1),  # the 2nd: the 1st only
    ],
)
def test_month_to_date_is_the_complete_days_of_the_month(
    today: dt.date, start: dt.date, end: dt.date, days: int
) -> None:
    period = resolve_period(preset="month_to_date", today=today)
    assert (period.start, period.end, period.days) == (start, end, days)
    assert resolve_period(today=today) == period  # the default preset


@pytest.mark.parametrize("today", [D(2026, 12, 1), D(2027, 1, 1), D(2028, 3, 1)])
def test_on_the_first_the_default_is_last_month_and_says_so(today: dt.date) -> None:
    period = resolve_period(today=today)
    full = resolve_period(preset="previous_full_month", today=today)
    assert (period.start, period.end, period.label) == (full.start, full.end, "previous_full_month")
    assert period.start == (today - dt.timedelta(days=1)).replace(day=1)
    assert "is the 1st" in period.note and f"{period.start:%B %Y}" in period.note
    explicit = resolve_period(preset="month_to_date", today=today)
    assert (explicit.start, explicit.days, explicit.is_empty) == (today, 0, True)
    assert "no complete day yet" in explicit.describe()
    assert explicit.describe_comparison() == "no complete day yet: nothing to compare"


@pytest.mark.parametrize(
    ("preset", "today", "previous"),
    [
        # previous_full_month: the calendar month before, whatever its length
        ("previous_full_month", D(2026, 12, 1), (D(2026, 10, 1), D(2026, 11, 1))),
        ("previous_full_month", D(2026, 12, 15), (D(2026, 10, 1), D(2026, 11, 1))),
        ("previous_full_month", D(2028, 3, 31), (D(2028, 1, 1), D(2028, 2, 1))),
        ("previous_full_month", D(2028, 4, 1), (D(2028, 2, 1), D(2028, 3, 1))),  # 31 days vs 29
        ("previous_full_month", D(2027, 1, 1), (D(2026, 11, 1), D(2026, 12, 1))),
        # month_to_date: the same days of the month before, clipped at its end
        ("month_to_date", D(2026, 11, 27), (D(2026, 10, 1), D(2026, 10, 27))),
        ("month_to_date", D(2027, 3, 31), (D(2027, 2, 1), D(2027, 3, 1))),  # 1-30 March vs 1-28 February
        ("month_to_date", D(2028, 3, 31), (D(2028, 2, 1), D(2028, 3, 1))),  # leap year: 1-29 February
        ("month_to_date", D(2027, 1, 5), (D(2026, 12, 1), D(2026, 12, 5))),  # across the year
        ("month_to_date", D(2026, 12, 31), (D(2026, 11, 1), D(2026, 12, 1))),  # 1-30 vs the whole of November
    ],
)
def test_comparisons_are_like_for_like(
    preset: str, today: dt.date, previous: tuple[dt.date, dt.date]
) -> None:
    prev = resolve_period(preset=preset, today=today).previous
    assert (prev.start, prev.end) == previous


def test_last_n_days_compare_with_the_n_days_before_and_say_so() -> None:
    period = resolve_period(last_n_days=7, today=D(2024, 3, 2))
    assert (period.previous.start, period.previous.end) == (D(2024, 2, 17), D(2024, 2, 24))
    assert period.describe_comparison() == "compared with the 7 days just before (2024-02-17 to 2024-02-23)"
    month = resolve_period(preset="previous_full_month", today=D(2026, 12, 1))
    assert month.describe_comparison() == (
        "compared with October 2026, the calendar month before (2026-10-01 to 2026-10-31)"
    )
    mtd = resolve_period(preset="month_to_date", today=D(2027, 3, 31))
    assert mtd.describe_comparison() == (
        "compared with the same days of February 2027 (2027-02-01 to 2027-02-28, 28 days)"
    )


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


def test_a_custom_range_compares_with_the_same_length_before_it() -> None:
    period = resolve_period(start="2024-03-01", end="2024-04-01", today=D(2024, 4, 10))  # 31 days
    assert (period.previous.start, period.previous.end) == (D(2024, 1, 30), D(2024, 3, 1))
    # a calendar month asked by its preset compares with the calendar month before instead
    month = resolve_period(preset="previous_full_month", today=D(2024, 4, 10))
    assert (month.previous.start, month.previous.end) == (D(2024, 2, 1), D(2024, 3, 1))
