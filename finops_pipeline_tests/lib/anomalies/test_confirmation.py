"""The event classifier (issue #15, confirmation.py): what it keeps and drops, its features, its data."""

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pytest

from finops_pipeline.lib.anomalies import detect
from finops_pipeline.lib.anomalies.confirmation import (
    FEATURES,
    TRAINING_FILE,
    anomaly_probability,
    event_features,
)
from finops_pipeline.lib.anomalies.detector import candidate_events
from finops_pipeline_tests.lib.anomalies.test_detector import series

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _training_module() -> ModuleType:
    """``bench/anomaly_training.py`` (bench/ holds scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("anomaly_training", BENCH / "anomaly_training.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_training_file_matches_the_detector_it_confirms() -> None:
    """Rebuilding one tuning world's rows gives the rows in the file: a change to the statistical
    stages or the features without ``bench/anomaly_training.py`` re-run fails here."""
    table = pl.read_parquet(TRAINING_FILE)
    assert set(table["family"].unique()) == {"sandbox", "realistic"}
    assert sorted(table.filter(pl.col("family") == "sandbox")["seed"].unique()) == list(range(11, 41))
    assert sorted(table.filter(pl.col("family") == "realistic")["seed"].unique()) == list(range(11, 41))
    assert 0.4 < table["anomaly"].mean() < 0.8  # both classes well represented
    rebuilt = _training_module().world_rows("realistic", 11)
    stored = table.filter((pl.col("family") == "realistic") & (pl.col("seed") == 11))
    assert rebuilt.height == stored.height > 50
    assert np.allclose(rebuilt.select(FEATURES).to_numpy(), stored.select(FEATURES).to_numpy())
    assert rebuilt["anomaly"].to_list() == stored["anomaly"].to_list()


def _spiky(scale: float = 1.0) -> pl.DataFrame:
    """A quiet $100-a-day series with a 4× spike on 2026-03-10 and a lift on the 15th of every month."""
    frame = pl.from_pandas(series(n=240))
    lifted = pl.col("date").dt.day() == 15
    spike = pl.col("date") == dt.date(2026, 3, 10)
    cost = pl.when(spike).then(pl.col("cost") * 4).when(lifted).then(pl.col("cost") * 1.8).otherwise("cost")
    return frame.with_columns((cost * scale).alias("cost"))


def test_features_are_the_same_for_a_series_of_100_or_of_5000_dollars_a_day() -> None:
    small, small_m = candidate_events(_spiky(1.0))
    large, large_m = candidate_events(_spiky(50.0))
    assert small.height == large.height > 0
    assert np.allclose(event_features(small, small_m), event_features(large, large_m), rtol=1e-6, atol=1e-9)


def test_a_first_spike_is_kept_and_a_monthly_lift_is_not_news() -> None:
    events, m = candidate_events(_spiky())
    probability = dict(zip(events["start_date"].to_list(), anomaly_probability(events, m), strict=True))
    assert probability[dt.date(2026, 3, 10)] > 0.9
    kept = detect(_spiky())
    assert kept.filter(pl.col("start_date") == dt.date(2026, 3, 10)).height == 1
    # The 15th lifts every month: after two months it is neither a candidate nor an event.
    later_lifts = [d for d in kept["start_date"].to_list() if d.day == 15 and d >= dt.date(2025, 12, 1)]
    assert later_lifts == []


def test_every_confirmed_event_is_a_candidate_and_threshold_zero_keeps_them_all() -> None:
    frame = _spiky()
    candidates = detect(frame, confirm_threshold=0.0)
    confirmed = detect(frame)
    strict = detect(frame, confirm_threshold=0.99)
    key = ["series_id", "start_date", "direction"]
    assert set(confirmed.select(key).rows()) <= set(candidates.select(key).rows())
    assert set(strict.select(key).rows()) <= set(confirmed.select(key).rows())
    assert candidates.height == candidate_events(frame)[0].height
    # The classifier does drop candidates: the two October wobbles (z 9) of the series' first weeks,
    # while the first monthly lift (its first occurrence, fair news) and the spike stay.
    days = [(d, direction) for d, direction in confirmed.select("start_date", "direction").rows()]
    assert days == [(dt.date(2025, 11, 15), "increase"), (dt.date(2026, 3, 10), "increase")]
    assert candidates.height == 4 and strict.height == 0


def test_features_read_only_days_up_to_the_event() -> None:
    """Causal: changing the days after an event leaves its features alone."""
    frame = _spiky()
    events, m = candidate_events(frame)
    spike = events.filter(pl.col("start_date") == dt.date(2026, 3, 10))
    before = event_features(spike, m)
    later = frame.with_columns(
        pl.when(pl.col("date") > dt.date(2026, 3, 12))
        .then(pl.col("cost") * 3)
        .otherwise("cost")
        .alias("cost")
    )
    events_later, m_later = candidate_events(later)
    after = event_features(events_later.filter(pl.col("start_date") == dt.date(2026, 3, 10)), m_later)
    keep = [i for i, name in enumerate(FEATURES) if name != "prior_candidates"]
    assert np.allclose(before[:, keep], after[:, keep])


@pytest.mark.parametrize("name", FEATURES)
def test_no_feature_is_constant_in_the_training_file(name: str) -> None:
    assert pl.read_parquet(TRAINING_FILE)[name].n_unique() > 1
