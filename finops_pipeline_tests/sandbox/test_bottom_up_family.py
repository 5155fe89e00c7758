"""Family D (``bottom_up_family``): deterministic, well-formed, labelled in the intended shares."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from finops_pipeline_tests.sandbox.imports_support import imported_modules
from finops_sandbox.anomaly_worlds import labelled
from finops_sandbox.anomaly_worlds.bottom_up_family import bottom_up_family
from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries

START, DAYS = dt.date(2025, 10, 1), 420
LAST = START + dt.timedelta(days=DAYS - 1)
MODULES = sorted(Path(labelled.__file__).parent.glob("bottom_up_*.py"))
STDLIB = {"__future__", "datetime", "dataclasses", "collections", "typing"}


@pytest.fixture(scope="module")
def world() -> LabelledSeries:
    return bottom_up_family(1, START, DAYS)


def test_deterministic_per_seed_and_fast(world: LabelledSeries) -> None:
    began = time.perf_counter()
    again = bottom_up_family(1, START, DAYS)
    assert time.perf_counter() - began < 3.0
    assert again.series.equals(world.series)
    assert again.labels.equals(world.labels)
    assert again.traps.equals(world.traps)
    other = bottom_up_family(2, START, DAYS)
    assert not other.series.equals(world.series)


def test_schemas_and_rows(world: LabelledSeries) -> None:
    s = world.series
    expected = {"series_id": pl.Utf8, "group": pl.Utf8, "date": pl.Date, "cost": pl.Float64}
    assert s.schema == pl.Schema(expected)
    assert world.labels.schema == pl.Schema(LABEL_SCHEMA)
    assert world.traps.schema == pl.Schema(TRAP_SCHEMA)
    per = s.group_by("series_id").agg(
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
        pl.len().alias("rows"),
        pl.col("date").n_unique().alias("days"),
        pl.col("group").n_unique().alias("groups"),
    )
    assert per.height >= 150
    assert (per["last"] == LAST).all()
    assert (per["groups"] == 1).all()
    span = per.select((pl.col("last") - pl.col("first")).dt.total_days() + 1)["last"]
    assert (per["rows"] == span).all() and (per["days"] == per["rows"]).all()  # one row a day from its first
    assert (per["first"] >= START).all() and (per["first"] > START).any()  # some series start late
    accounts = s.group_by("group").agg(pl.col("series_id").n_unique())
    assert 20 <= accounts.height <= 32 and accounts["series_id"].min() >= 2


def test_costs_finite_and_spanning_orders_of_magnitude(world: LabelledSeries) -> None:
    cost = world.series["cost"].to_numpy()
    assert np.isfinite(cost).all() and (cost >= 0).all()
    assert (cost == 0).any()
    means = world.series.group_by("series_id").agg(pl.col("cost").mean())["cost"]
    assert means.min() < 5 and means.max() > 1_000 and 10 < means.median() < 200
    fees = world.series.filter(pl.col("series_id").str.contains("/SavingsPlans/"))
    unlabelled = fees.join(world.labels, on="series_id", how="anti")
    distinct = unlabelled.group_by("series_id").agg(pl.col("cost").n_unique())["cost"]
    assert distinct.len() and (distinct == 1).all()  # a Savings Plan fee is exactly constant


def test_label_and_trap_shares(world: LabelledSeries) -> None:
    n = world.series["series_id"].n_unique()
    assert 0.35 <= world.labels["series_id"].n_unique() / n <= 0.45
    assert 0.5 <= world.traps.height / n <= 0.85
    assert world.traps["series_id"].is_unique().all()
    assert world.labels["kind"].n_unique() >= 15
    assert world.traps["trap"].n_unique() >= 15
    assert (world.labels.group_by("series_id").len()["len"] >= 2).any()
    kinds = set(world.labels["kind"])
    assert {"lifecycle_rule_deleted", "job_hang", "region_outage_drop"} <= kinds


def test_labels_inside_the_range_after_day_45(world: LabelledSeries) -> None:
    firsts = world.series.group_by("series_id").agg(pl.col("date").min().alias("first"))
    lab = world.labels.join(firsts, on="series_id", how="left")
    assert lab["first"].null_count() == 0
    assert (lab["start_date"] >= START + dt.timedelta(days=45)).all()
    assert (lab["start_date"] >= lab["first"]).all()
    assert (lab["start_date"] <= lab["end_date"]).all() and (lab["end_date"] <= LAST).all()
    ordered = lab.sort("series_id", "start_date")
    overlap = ordered.with_columns(pl.col("end_date").shift().over("series_id").alias("prev_end"))
    assert (overlap["prev_end"].is_null() | (overlap["start_date"] > overlap["prev_end"])).all()


def test_learn_until_in_range(world: LabelledSeries) -> None:
    firsts = world.series.group_by("series_id").agg(pl.col("date").min().alias("first"))
    traps = world.traps.join(firsts, on="series_id", how="left")
    assert traps["first"].null_count() == 0
    assert (traps["learn_until"] >= traps["first"]).all() and (traps["learn_until"] <= LAST).all()


def test_other_starts_and_leap_day() -> None:
    w = bottom_up_family(3, dt.date(2023, 12, 20), 90)
    dates = w.series["date"]
    assert dt.date(2024, 2, 29) in dates.to_list()
    assert dates.max() == dt.date(2023, 12, 20) + dt.timedelta(days=89)
    assert np.isfinite(w.series["cost"].to_numpy()).all()
    assert (w.labels["start_date"] >= dt.date(2023, 12, 20) + dt.timedelta(days=45)).all()


def test_modules_import_nothing_of_the_project_but_labelled() -> None:
    assert {p.name for p in MODULES} >= {"bottom_up_family.py", "bottom_up_items.py"}
    family = {f"finops_sandbox.anomaly_worlds.{p.stem}" for p in MODULES}
    allowed = family | {"finops_sandbox.anomaly_worlds.labelled", "numpy", "polars"}
    for path in MODULES:
        for name in imported_modules(path):
            assert name in allowed or name.split(".")[0] in STDLIB, f"{path.name} imports {name}"
