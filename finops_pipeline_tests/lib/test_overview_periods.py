"""The overview's month to date compares the same number of UTC days, never more than last month has."""

import datetime as dt

import pytest

from finops_pipeline.lib.overview import Comparison, month_to_date_periods

D = dt.date


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (D(2026, 11, 27), (D(2026, 11, 1), D(2026, 11, 27), D(2026, 10, 1), D(2026, 10, 27))),
        (D(2026, 12, 1), (D(2026, 12, 1), D(2026, 12, 1), D(2026, 11, 1), D(2026, 11, 1))),  # no day yet
        (D(2027, 3, 31), (D(2027, 3, 1), D(2027, 3, 31), D(2027, 2, 1), D(2027, 3, 1))),  # Feb: 28 days
        (D(2028, 1, 15), (D(2028, 1, 1), D(2028, 1, 15), D(2027, 12, 1), D(2027, 12, 15))),
    ],
)
def test_month_to_date_and_its_like_for_like_days(today: dt.date, expected: tuple[dt.date, ...]) -> None:
    assert month_to_date_periods(today) == expected


def test_a_month_change_per_day_accounts_for_the_months_lengths() -> None:
    november = Comparison(
        "last month", D(2026, 11, 1), D(2026, 12, 1), D(2026, 10, 1), D(2026, 11, 1), 3000, 3100
    )
    assert round(november.change_pct, 4) == round(-100 / 31, 4)
    assert november.daily_change_pct == pytest.approx(0.0)  # 100 a day in both months
    empty = Comparison("month to date", D(2026, 12, 1), D(2026, 12, 1), D(2026, 11, 1), D(2026, 11, 1), 0, 0)
    assert empty.change_pct is None and empty.daily_change_pct is None
