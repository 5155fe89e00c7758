"""The detector on hand-made daily cost series: each anomaly kind is found, each trap is not."""

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from finops_pipeline.lib.anomalies import detect

START = dt.date(2025, 10, 1)
DAYS = 240


def days(n: int = DAYS) -> list[dt.date]:
    return [START + dt.timedelta(d) for d in range(n)]


def series(
    base: float = 100.0,
    *,
    n: int = DAYS,
    weekend: float = 1.0,
    noise: float = 0.03,
    seed: int = 1,
    series_id: str = "acct|svc",
    group: str = "acct",
    start: int = 0,
) -> pd.DataFrame:
    """A daily cost series with weekly seasonality and bounded noise, from day ``start`` on."""
    rng = np.random.default_rng(seed)
    dates = days(n)
    cost = np.array([base * (weekend if d.weekday() >= 5 else 1.0) for d in dates])
    cost *= 1 + noise * (rng.random(n) + rng.random(n) - 1)
    frame = pd.DataFrame({"series_id": series_id, "group": group, "date": dates, "cost": cost})
    return frame.iloc[start:].reset_index(drop=True)


def day_index(day: dt.date) -> int:
    return (day - START).days


def with_multiplier(frame: pd.DataFrame, first: dt.date, last: dt.date, factor) -> pd.DataFrame:
    frame = frame.copy()
    mask = (frame["date"] >= first) & (frame["date"] <= last)
    values = frame.loc[mask, "cost"].to_numpy()
    factors = factor(np.arange(mask.sum())) if callable(factor) else factor
    frame.loc[mask, "cost"] = values * factors
    return frame


def one_event(events: pl.DataFrame) -> dict:
    assert events.height == 1, events
    return events.row(0, named=True)


def test_output_contract_and_pandas_input() -> None:
    events = detect(with_multiplier(series(), dt.date(2026, 3, 10), dt.date(2026, 3, 10), 4.0))
    assert events.columns[:8] == [
        "series_id", "start_date", "end_date", "actual", "expected", "impact", "score", "severity",
    ]  # fmt: skip
    assert events.height == 1


def test_spike_is_one_event_with_its_dollars() -> None:
    day = dt.date(2026, 3, 10)
    event = one_event(detect(with_multiplier(series(), day, day, 4.0)))
    assert event["start_date"] == day and event["days"] <= 2  # a noisy neighbour may join
    assert event["kind"] == "spike" and event["direction"] == "increase"
    assert event["impact"] == pytest.approx(300.0, rel=0.05)
    assert event["expected"] == pytest.approx(100.0 * event["days"], rel=0.05)
    assert event["severity"] == "high" and event["detected_date"] == day


def test_level_shift_consecutive_days_form_one_event() -> None:
    first, last = dt.date(2026, 2, 10), dt.date(2026, 2, 19)
    event = one_event(detect(with_multiplier(series(weekend=0.6), first, last, 1.8)))
    assert (event["start_date"], event["end_date"]) == (first, last)
    assert event["kind"] == "level_shift" and event["days"] == 10
    expected_impact = 0.8 * sum(100 * (0.6 if d.weekday() >= 5 else 1) for d in days() if first <= d <= last)
    assert event["impact"] == pytest.approx(expected_impact, rel=0.08)


def test_new_expensive_service_in_an_existing_account() -> None:
    existing = series(series_id="acct|ec2")
    sagemaker = series(base=60.0, series_id="acct|sagemaker", start=150, seed=2)
    event = one_event(detect(pd.concat([existing, sagemaker])))
    assert event["series_id"] == "acct|sagemaker" and event["kind"] == "new_series"
    assert event["start_date"] == START + dt.timedelta(150)
    assert event["days"] == 14 and event["expected"] == 0.0
    assert event["impact"] == pytest.approx(14 * 60.0, rel=0.05)


def test_drift_is_found_within_its_window() -> None:
    first, last = dt.date(2026, 3, 1), dt.date(2026, 4, 4)
    ramp = with_multiplier(series(), first, last, lambda t: 1.0 + 1.2 * (t + 1) / 35)
    events = detect(ramp)
    assert events.height >= 1
    assert (
        events.filter((pl.col("start_date") <= last) & (pl.col("end_date") >= first)).height == events.height
    )
    assert (events["direction"] == "increase").all()
    assert events["detected_date"].min() <= first + dt.timedelta(days=14)


def test_drop_is_a_decrease_event() -> None:
    first, last = dt.date(2026, 1, 20), dt.date(2026, 1, 21)
    event = one_event(detect(with_multiplier(series(), first, last, 0.1)))
    assert event["direction"] == "decrease" and event["kind"] == "drop"
    assert event["impact"] == pytest.approx(-180.0, rel=0.05)


@pytest.mark.parametrize("weekend", [0.5, 0.2])
def test_trap_weekend_dip(weekend: float) -> None:
    assert detect(series(weekend=weekend)).height == 0


def test_trap_month_start_fee_and_month_end_credit() -> None:
    frame = series()
    first = frame["date"].map(lambda d: d.day == 1)
    last = frame["date"].map(lambda d: (d + dt.timedelta(1)).day == 1)
    frame.loc[first, "cost"] += 2_000.0  # support fee, tax, RI / Savings Plans charges
    frame.loc[last, "cost"] -= 350.0  # month-close credit: the day goes below zero
    assert detect(frame).height == 0


def test_trap_negative_credit_or_refund_on_an_ordinary_day() -> None:
    frame = series()
    frame.loc[frame["date"] == dt.date(2026, 1, 15), "cost"] = -150.0
    frame.loc[frame["date"] == dt.date(2026, 4, 15), "cost"] = -40.0
    assert detect(frame).height == 0


def test_trap_steady_growth_of_a_new_account() -> None:
    old = series(series_id="old|ec2", group="old")
    growing = series(base=10.0, series_id="new|ec2", group="new", start=90, seed=3)
    t = np.arange(len(growing))
    growing["cost"] = growing["cost"] * 1.015**t  # +1.5 % a day, steadily, for five months
    services = [
        series(base=5.0, series_id=f"new|svc{i}", group="new", start=90, seed=4 + i) for i in range(3)
    ]
    assert detect(pd.concat([old, growing, *services])).height == 0


def test_trap_restated_last_day() -> None:
    frame = series()
    frame.loc[frame.index[-1], "cost"] *= 0.4  # today's partial, still estimated figure
    frame.loc[frame.index[-2], "cost"] *= 0.9
    assert detect(frame).height == 0


def test_trap_storage_priced_per_month() -> None:
    # Per-month prices cost more per day in February (31/28): a month-length step is not an anomaly.
    frame = series(noise=0.002)
    frame["cost"] = frame["date"].map(lambda d: 3_100.0 / pd.Period(d, "M").days_in_month) * (
        frame["cost"] / 100.0
    )
    assert detect(frame).height == 0


def test_zeros_gaps_and_short_histories() -> None:
    frame = series()
    frame = frame[frame["date"] != dt.date(2026, 2, 3)]  # a day missing from the whole frame: a gap
    batch = series(base=40.0, series_id="acct|batch", seed=5)
    batch.loc[batch["date"].map(lambda d: d.weekday() >= 5), "cost"] = 0.0  # weekday-only batch jobs
    batch = batch[batch["cost"] > 0]  # Cost Explorer omits zero groups: missing rows are zero spend
    batch = batch[batch["date"] != dt.date(2026, 2, 3)]
    short = series(base=3.0, series_id="acct|short", n=DAYS, start=DAYS - 9, seed=6)  # 9 days of history
    events = detect(pd.concat([frame, batch, short]))
    # Only the short series is reported: a new service of its account, $3 a day so far.
    event = one_event(events)
    assert (event["series_id"], event["kind"], event["days"]) == ("acct|short", "new_series", 9)
    assert event["impact"] == pytest.approx(27.0, rel=0.05)
    assert detect(pd.concat([frame, batch, short]), min_impact_usd=50.0).height == 0


def test_a_series_that_stops_for_good_is_not_an_anomaly() -> None:
    frame = series()
    frame = frame[frame["date"] < dt.date(2026, 3, 1)]  # decommissioned, no rows afterwards
    other = series(series_id="acct|other", seed=7)
    assert detect(pd.concat([frame, other])).height == 0


def test_thresholds_are_parameters() -> None:
    day = dt.date(2026, 3, 10)
    frame = with_multiplier(series(), day, day, 1.6)
    assert detect(frame).height == 1
    assert detect(frame, min_impact_usd=100.0).height == 0
    assert detect(frame, min_score=1000.0).height == 0
    assert one_event(detect(frame, high_impact_usd=50.0))["severity"] == "high"
    assert one_event(detect(frame))["severity"] == "medium"
    with pytest.raises(TypeError, match="unknown detector parameters"):
        detect(frame, min_impact=3)


def test_polars_input_and_empty_frame() -> None:
    frame = pl.from_pandas(with_multiplier(series(), dt.date(2026, 3, 10), dt.date(2026, 3, 10), 4.0))
    assert detect(frame.drop("group")).height == 1
    assert detect(frame.head(0)).height == 0


def test_days_after_an_event_are_still_scored() -> None:
    # The second pass leaves an event's days out of the baselines; the weeks after a long shift must
    # still get an expectation (older weeks) instead of being skipped, so a drop there is found.
    from finops_pipeline.lib.anomalies.detector import DetectorParams, _prepare, _score, flag_days

    frame = with_multiplier(series(), dt.date(2026, 1, 5), dt.date(2026, 1, 25), 2.0)
    drop_day = dt.date(2026, 2, 9)
    frame = with_multiplier(frame, drop_day, drop_day, 0.3)
    p = DetectorParams()
    prep = _prepare(frame, p)
    first = _score(prep, p, None)
    up, down, _ = flag_days(first, p)
    m = _score(prep, p, (up | down) & ~first.new_series)
    after = slice(day_index(dt.date(2026, 1, 26)), day_index(dt.date(2026, 2, 28)) + 1)
    assert not np.isnan(m.expected[0, after]).any()
    # The statistical stage's candidate (the classifier, which weighs a drop two weeks after a
    # doubling at 0.49, is not what this test is about).
    events = detect(frame, confirm_threshold=0.0)
    drop = events.filter(pl.col("direction") == "decrease")
    assert drop.height == 1 and drop["start_date"][0] == drop_day


def test_window_spread_follows_the_series_own_wobble() -> None:
    # calibrate_windows (off by default: not better on the tuning seeds and the pipeline world): a
    # series whose level wanders in week-long runs is not an event every week when the 3-, 7- and
    # 14-day windows are scored against the spread of the series' own sums.
    rng = np.random.default_rng(11)
    frame = series(noise=0.01)
    weeks = np.repeat(rng.normal(0.0, 0.06, DAYS // 7 + 1), 7)[:DAYS]
    frame["cost"] = frame["cost"] * (1 + weeks)
    candidates = {"confirm_threshold": 0.0}  # the statistical stage alone
    assert detect(frame, calibrate_windows=True, **candidates).height < detect(frame, **candidates).height
    assert detect(frame, calibrate_windows=True, **candidates).height <= 1
    assert detect(frame).height <= 1  # the classifier drops the weekly wobble without calibration
    # ... while a shift that is large for that series still is one.
    shifted = with_multiplier(frame, dt.date(2026, 3, 2), dt.date(2026, 3, 15), 1.6)
    assert detect(shifted, calibrate_windows=True).filter(pl.col("direction") == "increase").height >= 1


def test_a_two_week_shift_too_small_for_a_week_is_one_event() -> None:
    # +9% for 14 days: the 14-day window adds it up.
    first, last = dt.date(2026, 3, 2), dt.date(2026, 3, 15)
    events = detect(with_multiplier(series(noise=0.03), first, last, 1.09))
    assert events.height >= 1 and (events["direction"] == "increase").all()
    assert (
        events.filter((pl.col("start_date") <= last) & (pl.col("end_date") >= first)).height == events.height
    )


def test_an_event_small_against_the_series_typical_day_is_not_reported() -> None:
    # +22% for one day on a very quiet $100 series: clear statistically (z ~7), but $22 is under a
    # quarter of the series' typical day (min_event_share), so not worth an alert. Without that
    # rule the statistical stage reports it (the classifier, judged here apart, is free to drop it).
    day = dt.date(2026, 3, 10)
    frame = with_multiplier(series(noise=0.002), day, day, 1.22)
    assert detect(frame).height == 0
    assert detect(frame, confirm_threshold=0.0).height == 0
    assert one_event(detect(frame, min_event_share=0.0, confirm_threshold=0.0))["start_date"] == day


def test_scoring_in_parts_gives_the_same_events() -> None:
    """Many series are scored in parts of whole groups on the frame's own days: the events are those
    of one pass over everything (a new service born late in its account, a spike, a drop, and a day
    no series reported, which is a data gap in every part)."""
    spiky = series(series_id="a|ec2", group="a", seed=2)
    spiky.loc[100, "cost"] *= 5
    late = series(base=40.0, series_id="a|rds", group="a", start=120, seed=3)
    dropping = series(series_id="b|s3", group="b", seed=4)
    dropping.loc[150:152, "cost"] *= 0.1
    quiet = series(series_id="c|ec2", group="c", seed=5, start=30)
    frame = pd.concat([spiky, late, dropping, quiet])
    frame = frame[frame["date"] != dt.date(2026, 2, 2)]
    whole = detect(frame)
    assert whole.height >= 3 and set(whole["kind"]) >= {"spike", "new_series", "drop"}
    assert detect(frame, chunk_series=1).equals(whole)
    # Parts scored on threads, two or three at once, still give the parts' events in the same order.
    assert detect(frame, chunk_series=1, parallel_parts=3).equals(whole)
    assert detect(frame, chunk_series=1, parallel_parts=1).equals(whole)
