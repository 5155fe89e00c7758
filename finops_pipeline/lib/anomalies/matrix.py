"""The series × day matrix the detector works on, and the NaN-aware rolling medians it is built from.

Why a dense matrix: every series is scored with the same vectorised numpy operations, so 10,000
series cost no Python loop per series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.params import DetectorParams


def _nanmedian_last(values: np.ndarray, min_count: int) -> np.ndarray:
    """Median over the last axis ignoring NaN (sort-based: much faster than np.nanmedian)."""
    return _nanquantile_last(values, 0.5, min_count)


def _nanquantile_last(values: np.ndarray, q: float, min_count: int) -> np.ndarray:
    """Quantile ``q`` over the last axis ignoring NaN: the mean of the two order statistics around it."""
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=-1)
    pos = q * (count - 1)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, values.shape[-1] - 1)
    hi = np.clip(np.ceil(pos).astype(np.int64), 0, values.shape[-1] - 1)
    low = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
    high = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
    out = (low + high) / 2.0
    out[count < max(min_count, 1)] = np.nan
    return out


def _lagged(matrix: np.ndarray, lag: int) -> np.ndarray:
    """``matrix`` shifted right by ``lag`` days (NaN before the start)."""
    out = np.full_like(matrix, np.nan)
    if lag < matrix.shape[1]:
        out[:, lag:] = matrix[:, : matrix.shape[1] - lag]
    return out


def _rolling_median_before(
    matrix: np.ndarray, window: int, min_count: int, stride: int = 1, every: int = 1, q: float = 0.5
) -> np.ndarray:
    """Median of the ``window`` days before t (NaN-aware), in series chunks.

    With ``stride`` > 1 the median is taken every ``stride`` days and held until the next one: a slow
    quantity (a scale, a two-week level) at a fraction of the cost. With ``every`` > 1 only every
    ``every``-th day of the window is looked at (for values that overlap their neighbours anyway,
    such as multi-day sums).
    """
    s, t = matrix.shape
    padded = np.concatenate([np.full((s, window), np.nan), matrix], axis=1)
    anchors = np.arange(0, t, stride)
    out = np.empty((s, anchors.size))
    chunk = max(1, 4_000_000 // max(1, anchors.size * window))
    for lo in range(0, s, chunk):
        view = np.lib.stride_tricks.sliding_window_view(padded[lo : lo + chunk], window, axis=1)
        view = view[:, anchors, every - 1 :: every]
        out[lo : lo + chunk] = _nanquantile_last(view, q, min_count)
    return out if stride == 1 else np.repeat(out, stride, axis=1)[:, :t]


def span_days(t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every day of spans [t0, t1] laid end to end: (lengths, each day's offset in its span, start of
    each span in that layout). ``np.repeat(x, lengths)`` spreads a per-span value over its days."""
    lengths = t1 - t0 + 1
    starts = np.cumsum(lengths) - lengths
    return lengths, np.arange(lengths.sum()) - np.repeat(starts, lengths), starts


def _to_polars(series: Any) -> pl.DataFrame:
    """``series`` as polars with the detector's column types; categorical ids stay categorical (4
    bytes a row: 1,000 accounts' drill-down is 14 million rows), so only a part's are spelt out."""
    if isinstance(series, pl.DataFrame):
        frame = series
    else:
        frame = pl.from_pandas(series.reset_index(drop=True) if hasattr(series, "reset_index") else series)
    missing = {"series_id", "date", "cost"} - set(frame.columns)
    if missing:
        raise ValueError(f"series needs columns series_id, date, cost; missing {sorted(missing)}")
    columns = [
        _text(frame, "series_id"),
        pl.col("date").cast(pl.Date),
        pl.col("cost").cast(pl.Float64).fill_null(0.0),
    ]
    if "group" in frame.columns:
        columns.append(_text(frame, "group"))
    return frame.select(columns)


def _text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Column ``name`` as text, or as the categorical it is (spelt out later, a part at a time)."""
    return pl.col(name) if isinstance(frame.schema[name], pl.Categorical) else pl.col(name).cast(pl.Utf8)


@dataclass
class ScoredMatrix:
    """The dense intermediate results (exposed for evaluation and tests)."""

    series_ids: list[str]
    dates: np.ndarray  # datetime64[D], every calendar day from the first to the last
    actual: np.ndarray  # S × T, NaN where the series does not exist yet or the day is a data gap
    expected: np.ndarray
    scale: np.ndarray
    z: np.ndarray
    new_series: np.ndarray  # S × T bool: scored against zero (first days of a new series)
    pattern: np.ndarray | None = None  # S × T int: recurrence.py's code of what each day was compared with


@dataclass
class _Prepared:
    ids: list[str]
    dates: np.ndarray
    x: np.ndarray
    first: np.ndarray
    born_late: np.ndarray
    onboarding: np.ndarray


@dataclass(frozen=True)
class DayAxis:
    """The days of a whole frame: every calendar day from its first to its last, and which of them
    any series reported (a day none did is a data gap). Parts of a frame scored apart share it."""

    dates: np.ndarray  # datetime64[D]
    present: np.ndarray  # bool

    @classmethod
    def of(cls, frame: pl.DataFrame) -> DayAxis:
        day = frame["date"].to_numpy().astype("datetime64[D]")
        dates = np.arange(day.min(), day.max() + np.timedelta64(1, "D"))
        present = np.zeros(len(dates), dtype=bool)
        present[np.unique((day - dates[0]).astype(np.int64))] = True
        return cls(dates, present)


def _prepare(series: Any, p: DetectorParams, axis: DayAxis | None = None) -> _Prepared:
    frame = _to_polars(series).with_columns(pl.col(pl.Categorical).cast(pl.Utf8))  # ids sort as text
    if frame.height == 0:
        empty = np.zeros((0, 0))
        return _Prepared(
            [],
            np.array([], dtype="datetime64[D]"),
            empty,
            np.zeros(0, int),
            np.zeros(0, bool),
            np.zeros(0, bool),
        )
    ids = frame["series_id"].unique(maintain_order=False).sort()
    sid = frame["series_id"].cast(pl.Enum(ids)).to_physical().to_numpy().astype(np.int64)
    axis = axis or DayAxis.of(frame)
    dates, present = axis.dates, axis.present  # a day no series reported is a data gap, not zero spend
    ti = (frame["date"].to_numpy().astype("datetime64[D]") - dates[0]).astype(np.int64)
    n_s, n_t = len(ids), len(dates)
    x = np.zeros((n_s, n_t))
    np.add.at(x, (sid, ti), frame["cost"].to_numpy())

    # A series exists from its first non-zero day on.
    nonzero = x != 0
    has_any = nonzero.any(axis=1)
    first = np.where(has_any, nonzero.argmax(axis=1), n_t)
    idx = np.arange(n_t)
    exists = idx[None, :] >= first[:, None]
    x = np.where(exists & present[None, :], x, np.nan)

    # Groups (accounts): a series born within onboarding_days of its group's first spend is onboarding.
    if "group" in frame.columns:
        group_of = (
            frame.group_by("series_id").agg(pl.col("group").first()).sort("series_id")["group"].to_list()
        )
    else:
        group_of = [""] * n_s
    groups, gidx = np.unique(np.array(group_of, dtype=object).astype(str), return_inverse=True)
    group_first = np.full(len(groups), n_t)
    np.minimum.at(group_first, gidx, first)
    # A group already spending on the first day is not being onboarded: its later series are new.
    onboarding = (group_first[gidx] > 0) & (first - group_first[gidx] < p.onboarding_days)
    born_late = ~onboarding & (first > 0) & (first < n_t)
    return _Prepared(list(ids.to_list()), dates, x, first, born_late, onboarding & (first < n_t))
