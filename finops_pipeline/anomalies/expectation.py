"""Expected cost, robust scale and z-score of every series and day (see detector.py for the model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from finops_pipeline.anomalies.matrix import (
    ScoredMatrix,
    _lagged,
    _nanmedian_last,
    _prepare,
    _Prepared,
    _rolling_median_before,
)
from finops_pipeline.anomalies.params import MAD_TO_SIGMA, DetectorParams


def score_matrix(
    series: Any, params: DetectorParams | None = None, *, exclude: np.ndarray | None = None
) -> ScoredMatrix:
    """Expected cost, scale and z-score for every series and day.

    ``exclude`` (series × day, bool): days left out of every later baseline (days of known events).
    """
    p = params or DetectorParams()
    prep = series if isinstance(series, _Prepared) else _prepare(series, p)
    if prep.x.size == 0:
        empty = np.zeros((0, 0))
        return ScoredMatrix(
            [], np.array([], dtype="datetime64[D]"), empty, empty, empty, empty, empty.astype(bool)
        )
    return _score(prep, p, exclude)


def _score(prep: _Prepared, p: DetectorParams, exclude: np.ndarray | None) -> ScoredMatrix:
    x, dates, first, born_late = prep.x, prep.dates, prep.first, prep.born_late
    n_s, n_t = x.shape
    idx = np.arange(n_t)
    exists = idx[None, :] >= first[:, None]
    # Calendar days.
    months = dates.astype("datetime64[M]")
    month_start = dates == months.astype("datetime64[D]")
    month_end = dates == ((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D"))
    calendar = month_start | month_end
    # Baselines leave out calendar days and days below zero (credits, refunds: not usage).
    with np.errstate(invalid="ignore"):
        regular = np.where(calendar[None, :] | (x < 0), np.nan, x)
    if exclude is not None:
        regular = np.where(exclude, np.nan, regular)

    # Regular-day expectation: weekday median + robust trend.
    same_weekday = np.stack([_lagged(regular, 7 * k) for k in range(1, 5)], axis=-1)
    weekday_level = _nanmedian_last(same_weekday, 2)
    del same_weekday
    # Too few of those weeks left (the second pass leaves an event's days out): reach back four more
    # weeks, so the days after an event are still scored instead of silently skipped.
    gap = np.isnan(weekday_level) & ~np.isnan(x) & (idx[None, :] - first[:, None] >= 28)
    if gap.any():
        rows = np.flatnonzero(gap.any(axis=1))
        older = np.stack([_lagged(regular[rows], 7 * k) for k in range(1, 9)], axis=-1)
        fallback = _nanmedian_last(older, 2)
        weekday_level[rows] = np.where(gap[rows], fallback, weekday_level[rows])
        del older, fallback
    # Trend only when the last two weeks differ clearly from the two before (fast steady growth, as
    # in a new account ramping up): a noisy slope would add noise to every expectation.
    # Month length: storage and other per-month prices cost 31/28 more per day in February than in
    # January, per-hour prices do not. A trend must show in both readings, and of the two
    # expectations the one closer to the actual day is kept.
    dim = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.float64)
    slope = np.zeros((n_s, n_t))
    clear = np.ones((n_s, n_t), dtype=bool)
    for reading in (regular, regular * (dim / 30.4375)[None, :]):
        half = _rolling_median_before(reading, 14, 5, stride=7)
        before = _lagged(half, 14)
        with np.errstate(invalid="ignore"):
            clear &= np.abs(half - before) >= p.trend_min_change * np.abs(before)
        if reading is regular:
            slope = (half - before) / 14.0
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where((half > 0) & (before > 0), half / before, np.nan)
    clear &= ~np.isnan(slope)
    # Costs grow by a rate: compound the two-week growth over the weekday level's lag (17.5 days);
    # a series crossing zero falls back to a straight line.
    with np.errstate(invalid="ignore"):
        compounded = weekday_level * ratio ** (17.5 / 14.0)
    expected = np.where(
        clear, np.where(np.isnan(ratio), weekday_level + 17.5 * slope, compounded), weekday_level
    )
    del half, before, clear, ratio
    cs_dim = np.concatenate([[0.0], np.cumsum(dim)])
    lo = np.maximum(idx - p.window_days, 0)
    count = idx - lo
    ref_dim = np.where(count > 0, (cs_dim[idx] - cs_dim[lo]) / np.maximum(count, 1), dim)
    per_month = expected * (ref_dim / dim)[None, :]
    with np.errstate(invalid="ignore"):
        closer = np.abs(x - per_month) < np.abs(x - expected)
    expected = np.where(closer, per_month, expected)

    # Calendar days: the regular expectation plus the median extra charge (or credit) of the same
    # calendar day in the previous three months; not scored before one such day was seen.
    offset = np.zeros((n_s, n_t))
    for mask in (month_start, month_end):
        cols = np.flatnonzero(mask)
        if cols.size == 0:
            continue
        extra = x[:, cols] - expected[:, cols]
        for k, col in enumerate(cols):
            prior = extra[:, max(0, k - 3) : k]
            est = _nanmedian_last(prior, 1) if prior.shape[1] else np.full(n_s, np.nan)
            offset[:, col] = est
            expected[:, col] = expected[:, col] + est

    # Too little history of its own: new series are scored against zero, others are not scored.
    age = idx[None, :] - first[:, None]
    # Series of a group being onboarded (a new account ramping up) wait a full window, so a trend
    # can be measured before they are scored.
    history_needed = np.where(prep.onboarding, max(p.min_history_days, p.window_days), p.min_history_days)
    young = age < history_needed[:, None]
    # A series whose first weeks are calendar-day charges alone (a first support fee, tax) is not a
    # new service; one with everyday spend is scored against zero on every day of those weeks.
    with np.errstate(invalid="ignore"):
        everyday = (young & exists & ~calendar[None, :] & (x > 0)).any(axis=1)
    new_series = young & (born_late & everyday)[:, None] & exists
    expected = np.where(young, np.nan, expected)
    expected = np.where(new_series, 0.0, expected)

    residual = x - expected
    abs_regular = np.where(calendar[None, :] | new_series, np.nan, np.abs(residual))
    scale = MAD_TO_SIGMA * _rolling_median_before(abs_regular, p.scale_window_days, 7, stride=7)
    del abs_regular
    scale = np.fmax(np.fmax(scale, p.relative_scale_floor * np.abs(expected)), p.absolute_scale_floor)
    # The extra charge of a calendar day varies with the month (length, usage): widen by a share of it.
    scale = scale + p.calendar_scale_floor * np.abs(np.nan_to_num(offset))
    # A new series' own residuals are its whole spend: its days are scored on the absolute floor.
    scale = np.where(new_series, p.absolute_scale_floor, scale)
    z = residual / scale
    return ScoredMatrix(prep.ids, dates, x, expected, scale, z, new_series)
