"""Scoring detectors against labelled events, and the baselines we compare with (no Dagster).

Product-agnostic: nothing here knows the sandbox. The labelled worlds (``finops_sandbox.anomaly_worlds``)
and the glue that turns a sandbox world and its Cost Explorer emulator into series and AWS's own
anomalies (``finops_sandbox.anomaly_worlds.world_series``) live in the sandbox package (issue #12).

Event-level matching: a labelled event is found when a detected event on the same series overlaps its
window; a detected event that overlaps no labelled window is a false positive. Detection delay of a
found label is the first ``detected_date`` of the events that found it minus the label's start (>= 0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.detector import (
    DetectorParams,
    ScoredMatrix,
    events_from_flags,
    score_matrix,
)


@dataclass(frozen=True)
class Score:
    labels: int
    found: int
    detected: int
    true_detections: int
    precision: float
    recall: float
    f1: float
    median_delay_days: float | None

    def row(self) -> dict[str, Any]:
        return self.__dict__.copy()


def score_events(
    detected: pl.DataFrame, labels: pl.DataFrame, window_start: dt.date, window_end: dt.date
) -> Score:
    """Precision / recall / F1 / median delay over ``[window_start, window_end)``.

    ``labels``: series_id, start_date, end_date. Labels starting inside the window count for recall;
    detected events ending inside it are scored (an event overlapping any label, even one that began
    before the window, is a true detection).
    """
    det = detected.filter((pl.col("end_date") >= window_start) & (pl.col("start_date") < window_end))
    det = det.with_row_index("det")
    lab = labels.with_row_index("lab")
    pairs = overlapping(det, lab)
    scored = lab.filter((pl.col("start_date") >= window_start) & (pl.col("start_date") < window_end))
    hits = pairs.filter(pl.col("lab").is_in(scored["lab"].implode()))
    delays = hits.group_by("lab").agg(
        (pl.col("detected_date") - pl.col("start_date_label"))
        .dt.total_days()
        .clip(0, None)
        .min()
        .alias("delay")
    )
    found = delays.height
    true_det = pairs["det"].n_unique()
    precision = true_det / det.height if det.height else 0.0
    recall = found / scored.height if scored.height else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    median = float(delays["delay"].median()) if found else None
    return Score(scored.height, found, det.height, true_det, precision, recall, f1, median)


def overlapping(detected: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Every (detected event, label) pair of one series whose windows overlap: the matching of this
    module (the labels' columns suffixed ``_label``)."""
    return detected.join(labels, on="series_id", suffix="_label").filter(
        (pl.col("start_date") <= pl.col("end_date_label"))
        & (pl.col("end_date") >= pl.col("start_date_label"))
    )


def _raw_matrix(series: Any) -> ScoredMatrix:
    """The actual values in the detector's matrix layout (baselines reuse its parsing and gaps)."""
    return score_matrix(series, DetectorParams())


def day_over_day(series: Any, threshold: float = 0.2, min_impact_usd: float = 1.0) -> pl.DataFrame:
    """Baseline: a day whose cost moved more than ``threshold`` from the day before."""
    m = _raw_matrix(series)
    x = m.actual
    prev = np.full_like(x, np.nan)
    prev[:, 1:] = x[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        change = (x - prev) / np.abs(prev)
    base = ScoredMatrix(
        m.series_ids, m.dates, x, prev, np.abs(prev), change / threshold, np.zeros_like(x, bool)
    )
    up = np.nan_to_num(change) > threshold
    down = np.nan_to_num(change) < -threshold
    p = DetectorParams(min_impact_usd=min_impact_usd, max_gap_days=0)
    return events_from_flags(base, up, down, p, min_score=1.0)


def rolling_zscore(
    series: Any, window: int = 28, threshold: float = 3.0, min_impact_usd: float = 1.0
) -> pl.DataFrame:
    """Baseline: |cost - mean| / std of the previous ``window`` days above ``threshold``."""
    m = _raw_matrix(series)
    x = m.actual
    n_s, n_t = x.shape
    padded = np.concatenate([np.full((n_s, window), np.nan), x], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[:, :n_t]
    valid = (~np.isnan(view)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(view, axis=-1)
        std = np.nanstd(view, axis=-1, ddof=1)
        mean[valid < window // 2] = np.nan
        z = (x - mean) / np.fmax(std, 1e-9)
    base = ScoredMatrix(m.series_ids, m.dates, x, mean, std, z, np.zeros_like(x, bool))
    up = np.nan_to_num(z) > threshold
    down = np.nan_to_num(z) < -threshold
    p = DetectorParams(min_impact_usd=min_impact_usd, max_gap_days=0)
    return events_from_flags(base, up, down, p, min_score=threshold)


def scored_part(detected: pl.DataFrame, traps: pl.DataFrame) -> pl.DataFrame:
    """Detected events minus those that start before their series' pattern could be learnt (a
    pattern seen for the first time is a fair alarm: nothing says yet that it recurs)."""
    if traps.height == 0 or detected.height == 0:
        return detected
    joined = detected.join(traps.select("series_id", "learn_until"), on="series_id", how="left")
    keep = pl.col("learn_until").is_null() | (pl.col("start_date") >= pl.col("learn_until"))
    return joined.filter(keep).drop("learn_until")


def recall_by_kind(
    detected: pl.DataFrame, labels: pl.DataFrame, start: dt.date, end: dt.date
) -> dict[str, tuple[int, int]]:
    """Per labelled kind: (found, labels) over ``[start, end)``."""
    out = {}
    for kind in sorted(labels["kind"].unique()):
        score = score_events(detected, labels.filter(pl.col("kind") == kind), start, end)
        out[kind] = (score.found, score.labels)
    return out


def false_events_by_trap(
    detected: pl.DataFrame, labels: pl.DataFrame, traps: pl.DataFrame, start: dt.date, end: dt.date
) -> dict[str, int]:
    """Detected events overlapping no label, counted by the trap their series carries
    (``other`` for series without one, such as the sandbox world's own)."""
    det = detected.filter((pl.col("end_date") >= start) & (pl.col("start_date") < end))
    det = det.with_row_index("det")
    hit = overlapping(det, labels)["det"]
    false = det.filter(~pl.col("det").is_in(hit.implode()))
    false = false.join(traps.select("series_id", "trap"), on="series_id", how="left")
    counts = false.group_by(pl.col("trap").fill_null("other")).len()
    return dict(counts.iter_rows())
