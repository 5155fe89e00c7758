"""Recurring patterns (issue #15): a pattern seen in earlier months is not an anomaly; a size that
breaks it is, on the right day; every event says what it was compared with."""

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl

from finops_pipeline.lib.anomalies import detect
from finops_pipeline.lib.anomalies.detector import DetectorParams, score_matrix
from finops_pipeline_tests.lib.anomalies.test_detector import series


def monthly_charge(day: int, size: float) -> pd.DataFrame:
    frame = series()
    frame.loc[frame["date"].map(lambda d: d.day == day), "cost"] += size
    return frame


def month_end_batch(factor: float) -> pd.DataFrame:
    frame = series()
    last3 = frame["date"].map(lambda d: (d + dt.timedelta(3)).month != d.month)
    frame.loc[last3, "cost"] *= factor
    return frame


def test_trap_monthly_charge_on_the_15th_after_it_was_learnt() -> None:
    events = detect(monthly_charge(15, 400.0))
    # The first two 15ths are new (nothing says yet that they recur); from the third on: no event.
    assert events.filter(pl.col("start_date") >= dt.date(2025, 12, 1)).height == 0


def test_a_monthly_charge_that_breaks_its_size_is_one_event_on_its_day() -> None:
    frame = monthly_charge(15, 400.0)
    day = dt.date(2026, 3, 15)
    frame.loc[frame["date"] == day, "cost"] += 1_200.0
    events = detect(frame).filter(pl.col("start_date") >= dt.date(2025, 12, 1))
    assert events.height == 1
    event = events.row(0, named=True)
    assert event["start_date"] == day and event["direction"] == "increase"
    assert event["baseline"] == "day 15 of the last 3 months"


def test_trap_month_end_batch_after_it_was_learnt() -> None:
    events = detect(month_end_batch(2.5))
    assert events.filter(pl.col("start_date") >= dt.date(2025, 12, 1)).height == 0


def test_every_event_names_its_baseline_and_expected_is_never_negative() -> None:
    frame = series()
    frame["cost"] = frame["cost"] * np.linspace(1.0, 0.05, len(frame))  # a falling trend
    day = dt.date(2026, 3, 10)
    frame.loc[frame["date"] == day, "cost"] += 300.0
    events = detect(frame)
    assert events.height >= 1 and events["baseline"].str.len_chars().min() > 0
    m = score_matrix(frame, DetectorParams())
    assert np.nanmin(m.expected) >= 0.0
