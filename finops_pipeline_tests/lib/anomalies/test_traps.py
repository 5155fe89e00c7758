"""Recurring traps on hand-made series (issue #15): each is no event once it could be learnt, and an
anomaly on top of it is exactly one event on the right day."""

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest

from finops_pipeline.lib.anomalies import detect
from finops_pipeline_tests.lib.anomalies.test_detector import series

HOLIDAYS = {dt.date(2025, 11, 27), dt.date(2025, 11, 28), dt.date(2026, 1, 19), dt.date(2026, 2, 16)}
HOLIDAYS |= {dt.date(2025, 12, d) for d in (24, 25, 26, 29, 30, 31)} | {dt.date(2026, 1, 1)}


def business_days_only() -> pd.DataFrame:
    frame = series()
    frame.loc[frame["date"].map(lambda d: d.weekday() >= 5), "cost"] = 0.0
    return frame


def biweekly() -> pd.DataFrame:
    frame = series()
    on = frame["date"].map(lambda d: d.weekday() == 4 and (d - dt.date(2025, 10, 3)).days % 14 == 0)
    frame.loc[on, "cost"] += 250.0
    return frame


def quarterly() -> pd.DataFrame:
    frame = series()
    frame.loc[frame["date"].map(lambda d: d.day == 10 and d.month in (1, 4, 7, 10)), "cost"] += 600.0
    return frame


def quarterly_first_monday() -> pd.DataFrame:
    """A quarter-start job on the first Monday of January, April, July and October: 6 October 2025,
    5 January 2026, 6 April 2026 (its day of the month moves)."""
    frame = series()
    on = frame["date"].map(lambda d: d.month in (1, 4, 7, 10) and d.weekday() == 0 and d.day <= 7)
    frame.loc[on, "cost"] += 600.0
    return frame


def monthly_second_tuesday() -> pd.DataFrame:
    """A patch-day job on every month's second Tuesday (14 October 2025, 11 November, 9 December, ...)."""
    frame = series()
    frame.loc[frame["date"].map(lambda d: d.weekday() == 1 and 8 <= d.day <= 14), "cost"] += 300.0
    return frame


def quarterly_business_day() -> pd.DataFrame:
    """A quarter-start job on the quarter's 2nd business day: 2 October 2025, 5 January 2026 (1 January
    is a holiday), 2 April 2026."""
    frame = series()
    business = frame["date"].map(lambda d: d.weekday() < 5 and d not in HOLIDAYS)
    number = business.astype(int).groupby(frame["date"].map(lambda d: (d.year, d.month))).cumsum()
    on = business & (number == 2) & frame["date"].map(lambda d: d.month in (1, 4, 7, 10))
    frame.loc[on, "cost"] += 600.0
    return frame


def annual() -> pd.DataFrame:
    frame = series(n=420)
    frame.loc[frame["date"].map(lambda d: (d.month, d.day) == (10, 14)), "cost"] += 2_000.0
    return frame


def holiday_dip() -> pd.DataFrame:
    frame = series(weekend=0.4)
    frame.loc[frame["date"].isin(HOLIDAYS), "cost"] *= 0.4
    return frame


def bursty() -> pd.DataFrame:
    frame = series(seed=5)
    rng = np.random.default_rng(5)
    burst = rng.random(len(frame)) < 0.08
    frame.loc[burst, "cost"] *= rng.uniform(1.5, 2.5, burst.sum())
    return frame


def slow_ramp() -> pd.DataFrame:
    frame = series()
    t = np.arange(len(frame))
    frame["cost"] *= 1 + 0.5 * np.clip((t - 60) / 120, 0.0, 1.0)  # +50% over four months
    return frame


def price_change() -> pd.DataFrame:
    frame = series(noise=0.02)
    frame.loc[frame["date"] >= dt.date(2026, 2, 1), "cost"] *= 1.06  # a 6% price step
    return frame


# England and Wales bank holidays and Germany's nationwide ones in the series' 240 days (gov.uk, 2026).
UK_HOLIDAYS = {dt.date(2025, 12, 25), dt.date(2025, 12, 26), dt.date(2026, 1, 1), dt.date(2026, 4, 3)}
UK_HOLIDAYS |= {dt.date(2026, 4, 6), dt.date(2026, 5, 4), dt.date(2026, 5, 25)}
DE_HOLIDAYS = {dt.date(2025, 10, 3), dt.date(2025, 12, 25), dt.date(2025, 12, 26), dt.date(2026, 1, 1)}
DE_HOLIDAYS |= {dt.date(2026, 4, 3), dt.date(2026, 4, 6), dt.date(2026, 5, 1), dt.date(2026, 5, 14)}


def regional_business_days() -> pd.DataFrame:
    """Office hours of an English organisation: off at weekends and on its own bank holidays (the
    first Monday of May is none of the US ones)."""
    frame = series()
    off = frame["date"].map(lambda d: d.weekday() >= 5 or d in UK_HOLIDAYS)
    frame.loc[off, "cost"] = 0.0
    return frame


def regional_business_day_job() -> pd.DataFrame:
    """A German organisation's job on its 3rd business day of the month: 6 October 2025 (3 October is
    German Unity Day), 6 January 2026, 6 May 2026 (1 May)."""
    frame = series()
    business = frame["date"].map(lambda d: d.weekday() < 5 and d not in DE_HOLIDAYS)
    number = business.astype(int).groupby(frame["date"].map(lambda d: (d.year, d.month))).cumsum()
    frame.loc[business & (number == 3), "cost"] += 300.0
    return frame


def month_end_batch_varying() -> pd.DataFrame:
    """A month-end close that runs until its data is processed: 1 to 5 last days, its lift varying."""
    frame = series()
    rng = np.random.default_rng(8)
    month = frame["date"].map(lambda d: (d.year, d.month))
    width = {m: int(rng.integers(1, 6)) for m in month.unique()}
    lift = {m: 2.0 * rng.uniform(0.85, 1.15) for m in month.unique()}
    to_end = frame["date"].map(lambda d: ((d.replace(day=28) + dt.timedelta(4)).replace(day=1) - d).days)
    on = to_end <= month.map(width)
    frame.loc[on, "cost"] *= month[on].map(lift)
    return frame


def clustered_bursts() -> pd.DataFrame:
    """Load tests, campaigns, backfills: bursts of 2-4 days to 1.5-2.5 times the cost, a few a month."""
    frame = series(seed=6)
    rng = np.random.default_rng(6)
    for start in np.cumsum(rng.integers(7, 15, size=len(frame) // 7)):  # one every 1-2 weeks
        frame.loc[start : start + int(rng.integers(1, 4)), "cost"] *= rng.uniform(1.5, 2.5)
    return frame


def monthly_charge_varying() -> pd.DataFrame:
    """A charge on the 17th that follows the month's metered usage: ±30% month to month."""
    frame = series()
    rng = np.random.default_rng(9)
    on = frame["date"].map(lambda d: d.day == 17)
    frame.loc[on, "cost"] += 300.0 * rng.uniform(0.7, 1.3, int(on.sum()))
    return frame


# (series, first day from which the pattern is known, a day for the anomaly, the anomaly's factor)
TRAPS: dict[str, tuple[Callable[[], pd.DataFrame], dt.date, dt.date, float]] = {
    "business_days_only": (business_days_only, dt.date(2025, 11, 1), dt.date(2026, 3, 11), 4.0),
    "biweekly": (biweekly, dt.date(2025, 11, 15), dt.date(2026, 3, 11), 4.0),
    "quarterly": (quarterly, dt.date(2025, 10, 11), dt.date(2026, 3, 11), 4.0),
    "quarterly_first_monday": (quarterly_first_monday, dt.date(2025, 10, 7), dt.date(2026, 3, 11), 4.0),
    "monthly_second_tuesday": (monthly_second_tuesday, dt.date(2025, 12, 10), dt.date(2026, 3, 11), 4.0),
    "quarterly_business_day": (quarterly_business_day, dt.date(2025, 10, 3), dt.date(2026, 3, 11), 4.0),
    "annual": (annual, dt.date(2025, 10, 15), dt.date(2026, 8, 12), 4.0),
    "holiday_dip": (holiday_dip, dt.date(2025, 11, 1), dt.date(2026, 3, 11), 4.0),
    "bursty": (bursty, dt.date(2026, 1, 1), dt.date(2026, 3, 11), 8.0),
    "slow_ramp": (slow_ramp, dt.date(2025, 11, 1), dt.date(2026, 3, 11), 4.0),
    "price_change": (price_change, dt.date(2025, 11, 1), dt.date(2026, 3, 11), 4.0),
    "regional_business_days": (regional_business_days, dt.date(2025, 11, 1), dt.date(2026, 3, 11), 4.0),
    "regional_business_day_job": (regional_business_day_job, dt.date(2025, 12, 1), dt.date(2026, 3, 11), 4.0),
    "month_end_batch_varying": (month_end_batch_varying, dt.date(2026, 1, 1), dt.date(2026, 3, 11), 4.0),
    "clustered_bursts": (clustered_bursts, dt.date(2026, 1, 1), dt.date(2026, 3, 11), 8.0),
    "monthly_charge_varying": (monthly_charge_varying, dt.date(2025, 12, 1), dt.date(2026, 3, 11), 4.0),
}


# Known gaps (issue #15), kept as strict expected failures so a fix shows. The three named before
# (a bi-weekly job's residuals hiding a spike, a spike joined to the burst before it, a spike on a
# slow ramp running 4 days) pass since the bi-weekly levels and the trimming of events' weak ends.
CLUSTERED_DIP = (
    "a Monday burst the first pass did not flag stays in the next weeks' weekday median, and the normal "
    "Monday after it reads as a drop (the tail of decreases is the series' own, and it has few)"
)
# No event on the clustered bursts themselves since the event classifier (confirmation.py): the
# drop after a burst is a candidate it weighs as the series' normal behaviour.
GAPS_NO_EVENT: dict[str, str] = {
    "month_end_batch_varying": (
        "the series' last day, 3 days before month end, is a day of May's 4-day close (1.8x); with the "
        "quarterly keys April's close is explained, the scale tightens and the day stands out: a close "
        "whose width varies month to month is consistent on no single days-from-end key"
    )
}
GAPS_SPIKE: dict[str, str] = {"clustered_bursts": CLUSTERED_DIP}


def _cases(gaps: dict[str, str]) -> list:
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=gaps[k])) if k in gaps else k
        for k in sorted(TRAPS)
    ]


def after(events: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return events.filter(pl.col("start_date") >= day)


@pytest.mark.parametrize("kind", _cases(GAPS_NO_EVENT))
def test_trap_is_no_event(kind: str) -> None:
    make, known, _, _ = TRAPS[kind]
    assert after(detect(make()), known).height == 0


@pytest.mark.parametrize("kind", _cases(GAPS_SPIKE))
def test_a_spike_on_the_trap_is_one_event_on_its_day(kind: str) -> None:
    make, known, day, factor = TRAPS[kind]
    frame = make()
    frame.loc[frame["date"] == day, "cost"] *= factor
    events = after(detect(frame), known)
    assert events.height == 1, events
    event = events.row(0, named=True)
    assert event["start_date"] == day and event["direction"] == "increase"
    actual = float(frame.loc[frame["date"] == day, "cost"].iloc[0])
    assert event["actual"] == pytest.approx(actual, rel=1e-9)
    assert 0.0 < event["expected"] < actual / 2


@pytest.mark.parametrize(
    ("kind", "day", "baseline"),
    [
        ("quarterly_first_monday", dt.date(2026, 4, 6), "1st Monday of the month, 3 to 9 months before"),
        (
            "quarterly_business_day",
            dt.date(2026, 4, 2),
            "same business day of the month, 3 to 9 months before",
        ),
    ],
)
def test_a_quarterly_job_three_times_its_size_is_compared_with_its_own_quarter(
    kind: str, day: dt.date, baseline: str
) -> None:
    """The quarter's job runs +$1,800 instead of +$600: one event, expected at the job's usual ~$700
    (the ~$100 day plus the $600 the same quarter day added before), and it says so."""
    frame = TRAPS[kind][0]()
    frame.loc[frame["date"] == day, "cost"] += 1_200.0
    events = detect(frame)
    assert events.height == 1, events
    event = events.row(0, named=True)
    assert (event["start_date"], event["kind"], event["baseline"]) == (day, "spike", baseline)
    assert event["expected"] == pytest.approx(700.0, abs=15.0)
    assert event["actual"] - event["expected"] == pytest.approx(1_200.0, abs=20.0)
