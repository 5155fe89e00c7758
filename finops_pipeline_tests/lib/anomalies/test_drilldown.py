"""detect_with_drilldown on hand-made series: a usage type's change hidden in its service is found."""

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from finops_pipeline.lib.anomalies import detect, detect_with_drilldown

START = dt.date(2025, 10, 1)
DAYS = 240
EVENT_START = dt.date(2026, 4, 6)  # a Monday, day 187
EVENT_DAYS = 10
# Usage types of one account's service, USD per day: a big noisy one and small steady ones.
USAGE = {"BoxUsage:m5.4xlarge": 400.0, "DataTransfer-Out-Bytes": 60.0, "EBS:VolumeUsage.gp3": 20.0}


def usage_rows(factors: dict[str, float], *, noise: float = 0.05, seed: int = 3) -> pd.DataFrame:
    """Daily cost per usage type; ``factors`` multiply a usage type over the event's days."""
    rng = np.random.default_rng(seed)
    dates = [START + dt.timedelta(d) for d in range(DAYS)]
    in_event = np.array([EVENT_START <= d < EVENT_START + dt.timedelta(EVENT_DAYS) for d in dates])
    frames = []
    for usage_type, level in USAGE.items():
        cost = level * (1 + noise * (rng.random(DAYS) + rng.random(DAYS) - 1))
        cost = np.where(in_event, cost * factors.get(usage_type, 1.0), cost)
        frames.append(
            pd.DataFrame(
                {
                    "series_id": "acct|Amazon EC2",
                    "driver": usage_type,
                    "group": "acct",
                    "date": dates,
                    "cost": cost,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def parent(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.groupby(["series_id", "group", "date"], as_index=False)["cost"].sum()


def test_a_small_usage_type_dropping_is_found_only_on_its_own_series() -> None:
    rows = usage_rows({"EBS:VolumeUsage.gp3": 0.2})  # $16/day less inside a $480/day service: 3%
    assert detect(parent(rows)).height == 0
    events = detect_with_drilldown(parent(rows), rows)
    assert events.height == 1, events
    event = events.row(0, named=True)
    assert event["series_id"] == "acct|Amazon EC2"
    assert event["driver"] == "EBS:VolumeUsage.gp3"
    assert event["direction"] == "decrease" and event["kind"] == "drop"
    # The 10 days, give or take a noisy low day or two just before them.
    assert EVENT_START - dt.timedelta(2) <= event["start_date"] <= EVENT_START
    assert event["end_date"] == EVENT_START + dt.timedelta(EVENT_DAYS - 1)
    # Its own dollars: the usage type's expected $20/day, 80% of it missing for 10 days.
    assert event["expected"] == pytest.approx(20.0 * event["days"], rel=0.05)
    assert event["impact"] == pytest.approx(-0.8 * 20.0 * EVENT_DAYS, rel=0.15)


def test_a_change_below_the_minimum_share_of_its_usage_type_is_not_reported() -> None:
    # +20% on the steady small usage type: significant on its own series, but below 30% of it.
    rows = usage_rows({"EBS:VolumeUsage.gp3": 1.2}, noise=0.01)
    assert detect_with_drilldown(parent(rows), rows).height == 0
    found = detect_with_drilldown(parent(rows), rows, min_change=0.1)
    assert found["driver"].to_list() == ["EBS:VolumeUsage.gp3"]
    assert found["impact"][0] == pytest.approx(0.2 * 20.0 * EVENT_DAYS, rel=0.15)


def test_a_change_the_service_shows_is_reported_once_without_a_driver() -> None:
    rows = usage_rows({"BoxUsage:m5.4xlarge": 1.5, "EBS:VolumeUsage.gp3": 0.2})
    events = detect_with_drilldown(parent(rows), rows)
    increase = events.filter(pl.col("direction") == "increase")
    assert increase.height == 1
    assert increase["driver"][0] is None  # the service's own event; its drivers come from drivers.sql
    assert increase["impact"][0] == pytest.approx(0.5 * 400.0 * EVENT_DAYS - 0.8 * 20 * EVENT_DAYS, rel=0.1)
    # The small drop overlaps the service's event: not a second event on the same series and days.
    assert events.height == 1


def test_overlapping_usage_type_events_keep_the_largest() -> None:
    # -$21/day and -$10/day on the same days: 6.5% of the service together, each >= 30% of its own.
    rows = usage_rows({"DataTransfer-Out-Bytes": 0.65, "EBS:VolumeUsage.gp3": 0.5})
    assert detect(parent(rows)).height == 0
    assert detect(rows.assign(series_id=rows["driver"])).height == 2  # both usage types moved
    events = detect_with_drilldown(parent(rows), rows)
    assert events["driver"].to_list() == ["DataTransfer-Out-Bytes"]
    assert events["impact"][0] == pytest.approx(-0.35 * 60.0 * EVENT_DAYS, rel=0.15)


def test_categorical_ids_give_the_events_of_text_ids() -> None:
    """The asset reads its ids as categoricals (memory): the detector spells them out per part only,
    and finds the same events as on text ids."""
    rows = pl.from_pandas(usage_rows({"EBS:VolumeUsage.gp3": 0.2}))
    series = pl.from_pandas(parent(rows.to_pandas()))
    ids = pl.col("series_id", "driver", "group")
    as_text = detect_with_drilldown(series, rows)
    as_categories = detect_with_drilldown(
        series.with_columns(pl.col("series_id", "group").cast(pl.Categorical)),
        rows.with_columns(ids.cast(pl.Categorical)),
    )
    assert as_text.height == 1
    assert as_categories.equals(as_text)
