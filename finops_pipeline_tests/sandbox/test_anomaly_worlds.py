"""The anomaly evaluation's worlds live in the sandbox package (issue #12), and family B stays
independent: it imports neither the sandbox world nor family A's generator (issue #15)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from finops_pipeline_tests.sandbox.imports_support import imported_modules
from finops_sandbox.anomaly_worlds import holdout_family, recurrence_traps
from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA


def test_family_b_imports_neither_the_sandbox_world_nor_family_a() -> None:
    imported = imported_modules(holdout_family)
    assert not [m for m in imported if m.startswith("finops_sandbox.world")], imported
    assert "finops_sandbox.anomaly_worlds.recurrence_traps" not in imported
    assert not [m for m in imported if m.startswith("finops_pipeline")], imported


def test_both_families_hand_over_labelled_series() -> None:
    start = dt.date(2025, 10, 1)
    for case in (
        recurrence_traps.trap_series(1, start, 420, per_kind=1),
        holdout_family.holdout_family(1, start, 420, 12),
    ):
        assert dict(case.labels.schema) == LABEL_SCHEMA and dict(case.traps.schema) == TRAP_SCHEMA
        assert case.series.columns == ["series_id", "group", "date", "cost"]
        assert case.series["series_id"].n_unique() == case.traps.height
        assert (
            case.labels.join(case.series.select("series_id").unique(), on="series_id").height
            == case.labels.height
        )
        assert case.series.filter(pl.col("cost").is_nan()).height == 0
