"""Family C (``realistic_family``): deterministic, well-formed, labelled as intended, and independent of the
project (it imports nothing of it but ``labelled``)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from finops_pipeline_tests.sandbox.imports_support import imported_modules
from finops_sandbox.anomaly_worlds import realistic_calendar as calendar
from finops_sandbox.anomaly_worlds import realistic_family as family
from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries

START, DAYS = dt.date(2025, 10, 1), 420
END = START + dt.timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def worlds() -> dict[int, LabelledSeries]:
    return {seed: family.realistic_family(seed, START, DAYS) for seed in (1, 2, 3)}


def _firsts(case: LabelledSeries) -> pl.DataFrame:
    return case.series.group_by("series_id").agg(
        first=pl.col("date").min(), last=pl.col("date").max(), days=pl.len()
    )


def test_imports_nothing_of_the_project_but_labelled() -> None:
    assert imported_modules(family) == {
        "datetime",
        "numpy",
        "polars",
        "finops_sandbox.anomaly_worlds.labelled",
        "finops_sandbox.anomaly_worlds.realistic_calendar",
    }
    assert imported_modules(calendar) == {"datetime", "numpy"}


def test_deterministic_per_seed_and_different_across_seeds(worlds: dict[int, LabelledSeries]) -> None:
    again = family.realistic_family(1, START, DAYS)
    for name in ("series", "labels", "traps"):
        assert_frame_equal(getattr(worlds[1], name), getattr(again, name))
    assert not worlds[1].series.equals(worlds[2].series)
    # pinned for seed 1, so that a change in the generator (or in its determinism) is seen
    case = worlds[1]
    assert (case.series["series_id"].n_unique(), case.labels.height, case.traps.height) == (208, 100, 164)


def test_schemas(worlds: dict[int, LabelledSeries]) -> None:
    for case in worlds.values():
        assert dict(case.series.schema) == {
            "series_id": pl.Utf8,
            "group": pl.Utf8,
            "date": pl.Date,
            "cost": pl.Float64,
        }
        assert dict(case.labels.schema) == LABEL_SCHEMA
        assert dict(case.traps.schema) == TRAP_SCHEMA


def test_size_and_shares(worlds: dict[int, LabelledSeries]) -> None:
    for case in worlds.values():
        n = case.series["series_id"].n_unique()
        assert n >= 150
        assert 20 <= case.series["group"].n_unique() <= 30
        per_account = case.series.group_by("group").agg(pl.col("series_id").n_unique())["series_id"]
        assert per_account.min() >= 3
        assert 0.60 <= case.traps.height / n <= 0.92
        labelled = case.labels["series_id"].n_unique()
        assert 0.35 <= labelled / n <= 0.45
        assert (case.labels.group_by("series_id").len()["len"] == 2).sum() >= 5  # some twice
        assert case.labels["kind"].n_unique() >= 12 and case.traps["trap"].n_unique() >= 14
        # some anomalies ride on the traps
        assert case.labels.join(case.traps, on="series_id").height >= 0.5 * case.labels.height


def test_one_row_per_series_and_day_and_costs_finite(worlds: dict[int, LabelledSeries]) -> None:
    for case in worlds.values():
        firsts = _firsts(case)
        assert (firsts["last"] == END).all()
        assert (firsts["days"] == (firsts["last"] - firsts["first"]).dt.total_days() + 1).all()
        assert case.series.select(pl.struct("series_id", "date").is_duplicated().any()).item() is False
        assert case.series["cost"].is_finite().all() and case.series["cost"].min() >= 0
        assert (firsts["first"] > START).sum() >= 5  # late-starting workloads
        means = case.series.group_by("series_id").agg(pl.col("cost").mean())["cost"]
        assert means.min() < 10 and means.max() > 1_000 and 20 < means.median() < 1_000


@pytest.mark.parametrize(
    ("start", "days"),
    [(START, DAYS), (dt.date(2024, 1, 1), 420), (dt.date(2027, 12, 31), 400), (dt.date(2025, 10, 1), 60)],
)
def test_labels_and_learn_until_within_range(
    worlds: dict[int, LabelledSeries], start: dt.date, days: int
) -> None:
    case = worlds[1] if (start, days) == (START, DAYS) else family.realistic_family(5, start, days)
    end = start + dt.timedelta(days=days - 1)
    labels = case.labels.join(_firsts(case), on="series_id")
    assert labels.height == case.labels.height  # every label names a series
    assert (labels["start_date"] <= labels["end_date"]).all() and (labels["end_date"] <= end).all()
    assert (labels["start_date"] >= start + dt.timedelta(days=45)).all()
    assert (labels["start_date"] >= labels["first"] + dt.timedelta(days=45)).all()
    traps = case.traps.join(_firsts(case), on="series_id")
    assert traps.height == case.traps.height and case.traps["series_id"].is_unique().all()
    assert (traps["learn_until"] >= start).all() and (traps["learn_until"] <= end).all()


def test_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError):
        family.realistic_family(1, START, 0)
