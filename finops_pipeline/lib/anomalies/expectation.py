"""Expected cost, robust scale and z-score of every series and day (see detector.py for the model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from finops_pipeline.lib.anomalies.matrix import (
    ScoredMatrix,
    _lagged,
    _nanmedian_last,
    _prepare,
    _Prepared,
    _rolling_median_before,
)
from finops_pipeline.lib.anomalies.params import MAD_TO_SIGMA, DetectorParams
from finops_pipeline.lib.anomalies.recurrence import (
    BIWEEKLY,
    HOLIDAY,
    MONTH_END,
    MONTH_START,
    NEW_SERIES,
    TREND,
    WEEKDAY,
    calendar,
    explain,
    holiday_level,
)


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
    x, dates = prep.x, prep.dates
    cal = calendar(dates)
    month_start, month_end = cal.dom == 1, cal.from_end == 0
    calendar_days = month_start | month_end
    # Baselines leave out calendar days and days below zero (credits, refunds: not usage); weekday
    # holidays are replaced by a normal day (see _holidays_imputed).
    with np.errstate(invalid="ignore"):
        regular = np.where(calendar_days[None, :] | (x < 0), np.nan, x)
    if exclude is not None:
        regular = np.where(exclude, np.nan, regular)
    young, new_series = _young(prep, x, calendar_days, p)
    early = _early_charges(x, prep.first, young & ~new_series & ~calendar_days[None, :], p)
    regular = np.where(np.isnan(early), regular, np.nan)
    if p.impute_holidays:
        regular = _holidays_imputed(regular, cal.holiday)
    expected, trend = _regular_expectation(x, regular, dates, prep.first, p)
    pattern = np.where(trend, TREND, WEEKDAY).astype(np.int8)
    pattern[:, month_start] = MONTH_START
    pattern[:, month_end] = MONTH_END
    extra = _calendar_offsets(x, expected, month_start, month_end)
    expected = np.where(young, np.nan, expected)
    expected = np.where(new_series, 0.0, expected)
    pattern[new_series] = NEW_SERIES
    scale = _robust_scale(x - expected, expected, calendar_days[None, :] | new_series, p)
    if p.learn_recurrence:
        residual = x - expected
        with np.errstate(invalid="ignore"):
            candidate = (np.abs(residual) >= p.pattern_z * scale) & ~calendar_days[None, :] & ~new_series
        # Charges of the unscored first weeks are remembered too: an annual renewal or a quarterly
        # job first seen then is known when it recurs (their scale 0: they stood out by definition).
        memory = np.where(np.isnan(early), residual, early)
        memory_scale = np.where(np.isnan(early), scale, 0.0)
        s, t, off, code = explain(
            memory,
            memory_scale,
            cal,
            candidate,
            min_z=p.pattern_z,
            spread=p.pattern_spread,
            national=p.national_business_days,
            misses=p.pattern_misses,
        )
        expected[s, t] += off
        extra[s, t] = off
        pattern[s, t] = code
        level = holiday_level(regular, cal)
        with np.errstate(invalid="ignore"):
            closer = ~np.isnan(level) & (np.abs(x - level) < np.abs(x - expected)) & ~new_series
        expected = np.where(closer, level, expected)
        pattern[closer] = HOLIDAY
        if p.biweekly_levels:
            level = _alternating_level(x, scale, p.pattern_z)
            with np.errstate(invalid="ignore"):
                closer = ~np.isnan(level) & (np.abs(x - level) < np.abs(x - expected)) & ~new_series
            expected = np.where(closer, level, expected)
            pattern[closer] = BIWEEKLY
    # The extra charge of a recurring day varies (month length, usage): widen by a share of it.
    scale = scale + p.calendar_scale_floor * np.abs(np.nan_to_num(extra))
    # The series' own tail, in the second pass only (the first pass must flag every day of a shift).
    # A shift would widen its own tail: runs of 3 or more days standing out are left out of it. Only
    # unbridged runs: bursts a day or two apart are still bursts, the series' normal behaviour
    # (leaving out the first pass's flagged runs, as before, also hid most bursts from the tail).
    if exclude is not None:
        with np.errstate(invalid="ignore"):
            stands_out = np.abs(x - expected) >= p.pattern_z * scale
        skip_tail = calendar_days[None, :] | new_series | _in_long_runs(stands_out, bridge=False)
        scale = np.fmax(scale, _tail_scale(x - expected, expected, skip_tail, p))
    # A new series' own residuals are its whole spend: its days are scored on the absolute floor.
    scale = np.where(new_series, p.absolute_scale_floor, scale)
    expected = _not_below_zero(x, expected)
    z = (x - expected) / scale
    return ScoredMatrix(prep.ids, dates, x, expected, scale, z, new_series, pattern)


def _regular_expectation(
    x: np.ndarray, regular: np.ndarray, dates: np.ndarray, first: np.ndarray, p: DetectorParams
) -> tuple[np.ndarray, np.ndarray]:
    """Weekday median of the last 4 weeks, compounded by a clear two-week trend, read per day or per
    month (whichever is closer). Returns (expected, where the trend was followed)."""
    n_s, n_t = x.shape
    idx = np.arange(n_t)
    months = dates.astype("datetime64[M]")
    # Regular-day expectation: weekday median + robust trend.
    same_weekday = np.stack([_lagged(regular, 7 * k) for k in range(1, 5)], axis=-1)
    weekday_level = _nanmedian_last(same_weekday, 2)
    del same_weekday
    # Too few of those weeks left (the second pass leaves an event's days out): reach back eight more
    # weeks, so the days after an event are still scored instead of silently skipped.
    gap = np.isnan(weekday_level) & ~np.isnan(x) & (idx[None, :] - first[:, None] >= 28)
    if gap.any():
        rows = np.flatnonzero(gap.any(axis=1))
        older = np.stack([_lagged(regular[rows], 7 * k) for k in range(1, 13)], axis=-1)
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
            # A level that wanders (traffic, fleet sizes) moves one fortnight and comes back the
            # next: a trend must have moved the same way over ``trend_periods`` fortnights in a row
            # (as many as the series has: a new account ramping up is followed from its 4th week).
            for k in range(1, p.trend_periods):
                older, newer = _lagged(half, 14 * (k + 1)), _lagged(half, 14 * k)
                same_way = np.sign(newer - older) == np.sign(half - before)
                far = np.abs(newer - older) >= p.trend_min_change * np.abs(older)
                clear &= (same_way & far) | np.isnan(older)
        if reading is regular:
            slope = (half - before) / 14.0
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where((half > 0) & (before > 0), half / before, np.nan)
    clear &= ~np.isnan(slope)
    # Costs grow by a rate: compound the two-week growth over the weekday level's lag (17.5 days);
    # a series crossing zero falls back to a straight line.
    with np.errstate(invalid="ignore"):
        compounded = weekday_level * ratio ** (17.5 / 14.0)
    if not p.trend_linear_fallback:  # a median of zero (a shutdown fortnight) says nothing of a rate
        clear &= ~np.isnan(ratio)
    expected = np.where(
        clear, np.where(np.isnan(ratio), weekday_level + 17.5 * slope, compounded), weekday_level
    )
    trend = clear.copy()
    del half, before, clear, ratio
    cs_dim = np.concatenate([[0.0], np.cumsum(dim)])
    lo = np.maximum(idx - p.window_days, 0)
    count = idx - lo
    ref_dim = np.where(count > 0, (cs_dim[idx] - cs_dim[lo]) / np.maximum(count, 1), dim)
    per_month = expected * (ref_dim / dim)[None, :]
    with np.errstate(invalid="ignore"):
        closer = np.abs(x - per_month) < np.abs(x - expected)
    return np.where(closer, per_month, expected), trend


def _alternating_level(x: np.ndarray, scale: np.ndarray, min_z: float) -> np.ndarray:
    """(S × T) the median of the same weekday 2, 4 and 6 weeks before, where those three days all
    lie on one side of the same weekday 1, 3 and 5 weeks before, at least ``min_z`` scales apart
    (a job every other week); NaN elsewhere. The weekday median of four weeks sits halfway between
    the on and off weeks of such a series and reads both as anomalies, and whenever one of its
    weeks is left out (a month-end day, an event) it tips to one side; the residuals' pattern
    (recurrence.py) does not see that tip, the levels do."""
    same = [_lagged(x, 14 * k) for k in (1, 2, 3)]
    other = [_lagged(x, 7 + 14 * k) for k in (0, 1, 2)]
    lo_same, hi_same = np.minimum(np.minimum(*same[:2]), same[2]), np.maximum(np.maximum(*same[:2]), same[2])
    lo_other = np.minimum(np.minimum(*other[:2]), other[2])
    hi_other = np.maximum(np.maximum(*other[:2]), other[2])
    with np.errstate(invalid="ignore"):
        gap = np.fmax(lo_same - hi_other, lo_other - hi_same)
        median = same[0] + same[1] + same[2] - lo_same - hi_same  # of three: NaN if one is missing
        return np.where(gap >= min_z * scale, median, np.nan)


def _early_charges(x: np.ndarray, first: np.ndarray, young: np.ndarray, p: DetectorParams) -> np.ndarray:
    """(S × T) residual over the median of the series' first 28 days, on the ``young`` days (too
    early to be scored) that are ``early_charge_ratio`` times that median away from it; NaN
    elsewhere. Such a charge (an annual renewal, a quarterly job) is no usage: left in, it would drag
    the next weeks' weekday medians; and it is the first occurrence of a pattern to be learnt."""
    out = np.full(x.shape, np.nan)
    if p.early_charge_ratio <= 0 or not young.any():
        return out
    idx = np.arange(x.shape[1])
    window = (idx[None, :] >= first[:, None]) & (idx[None, :] < first[:, None] + 28)
    median = _nanmedian_last(np.where(window, x, np.nan), 7)[:, None]
    with np.errstate(invalid="ignore"):
        res = x - median
        far = young & (np.abs(res) >= p.early_charge_ratio * np.abs(median))
    out[far] = res[far]
    return out


def _holidays_imputed(regular: np.ndarray, holiday: np.ndarray) -> np.ndarray:
    """``regular`` with each weekday holiday raised to the same weekday two (else four) weeks before
    when it was lower. Left in, a Christmas shutdown drags January's weekday medians down and reads
    as a fall then a rise of the two-week trend; left out (NaN), the two-week medians lose weekdays
    and tilt towards weekends. Two weeks, not one, keeps a bi-weekly job's phase; only raised, so a
    growing series' holiday is not replaced by an older, lower day."""
    out = regular.copy()
    cols = np.flatnonzero(holiday)
    for t in cols:
        for lag in (14, 28):
            if t - lag >= 0 and not holiday[t - lag]:
                out[:, t] = np.maximum(regular[:, t], regular[:, t - lag])  # left-out days stay out
                break
    return out


def _calendar_offsets(
    x: np.ndarray, expected: np.ndarray, month_start: np.ndarray, month_end: np.ndarray
) -> np.ndarray:
    """Adds to ``expected`` (in place) the median extra charge of the same calendar day (the 1st, the
    last day) in the previous three months; returns those offsets (S × T, 0 elsewhere)."""
    n_s, n_t = x.shape
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
    return offset


def _young(
    prep: _Prepared, x: np.ndarray, calendar_days: np.ndarray, p: DetectorParams
) -> tuple[np.ndarray, np.ndarray]:
    """(days with too little history to be scored, days of a new series scored against zero)."""
    n_t = x.shape[1]
    idx = np.arange(n_t)
    first, born_late = prep.first, prep.born_late
    exists = idx[None, :] >= first[:, None]
    # Too little history of its own: new series are scored against zero, others are not scored.
    age = idx[None, :] - first[:, None]
    # Series of a group being onboarded (a new account ramping up) wait a full window, so a trend
    # can be measured before they are scored.
    history_needed = np.where(prep.onboarding, max(p.min_history_days, p.window_days), p.min_history_days)
    young = age < history_needed[:, None]
    # A series whose first weeks are calendar-day charges alone (a first support fee, tax) is not a
    # new service; one with everyday spend is scored against zero on every day of those weeks.
    with np.errstate(invalid="ignore"):
        everyday = (young & exists & ~calendar_days[None, :] & (x > 0)).any(axis=1)
    new_series = young & (born_late & everyday)[:, None] & exists
    return young, new_series


def _robust_scale(
    residual: np.ndarray, expected: np.ndarray, skip: np.ndarray, p: DetectorParams
) -> np.ndarray:
    """1.4826 × the median |residual| of the last ``scale_window_days`` (calendar days and new series
    left out), floored by a share of the expected cost and an absolute floor."""
    abs_regular = np.where(skip, np.nan, np.abs(residual))
    scale = MAD_TO_SIGMA * _rolling_median_before(abs_regular, p.scale_window_days, 7, stride=7)
    if p.relative_scale != "off":
        # Usage-priced costs follow traffic: their noise is a share of the level, so a series with
        # cheap weekends has a smaller spread on Saturday than on Monday. The median |residual| as a
        # share of the expected cost, times today's expected cost, says so.
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(expected > 0, abs_regular / np.abs(expected), np.nan)
        rel_scale = MAD_TO_SIGMA * _rolling_median_before(rel, p.scale_window_days, 7, stride=7)
        rel_scale = rel_scale * np.abs(expected)
        if p.relative_scale == "max":
            scale = np.fmax(scale, rel_scale)
        else:
            scale = np.where(np.isnan(rel_scale), scale, rel_scale)
    return np.fmax(np.fmax(scale, p.relative_scale_floor * np.abs(expected)), p.absolute_scale_floor)


def _tail_scale(
    residual: np.ndarray, expected: np.ndarray, skip: np.ndarray, p: DetectorParams
) -> np.ndarray:
    """The series' own tail: a high quantile of its |residuals| over ``tail_window_days``, over
    ``tail_z``. About one sigma for Gaussian noise; larger for heavy-tailed or bursty series, whose
    bursts of a size seen before are their normal behaviour, not anomalies."""
    if p.tail_z <= 0:
        return np.zeros_like(residual)
    relative = "relative" in p.tail_mode
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.where(expected > 0, residual / np.abs(expected), np.nan) if relative else residual
    size = np.where(skip, np.nan, size)
    if "sided" in p.tail_mode:
        # Bursts go up, outages down: each direction is scored against its own tail.
        with np.errstate(invalid="ignore"):
            up = np.where(size > 0, size, np.nan)
            down = np.where(size < 0, -size, np.nan)
        q_down = _rolling_median_before(down, p.tail_window_days, 14, stride=7, q=p.tail_quantile)
        if "up" in p.tail_mode:  # increases against the whole tail, decreases against their own
            q_up = _rolling_median_before(np.abs(size), p.tail_window_days, 28, stride=7, q=p.tail_quantile)
        else:
            q_up = _rolling_median_before(up, p.tail_window_days, 14, stride=7, q=p.tail_quantile)
        with np.errstate(invalid="ignore"):
            q = np.where(residual >= 0, q_up, q_down)
    else:
        q = _rolling_median_before(np.abs(size), p.tail_window_days, 28, stride=7, q=p.tail_quantile)
    if relative:
        q = q * np.abs(expected)
    return np.nan_to_num(q) / p.tail_z


def _in_long_runs(mask: np.ndarray | None, bridge: bool = True) -> np.ndarray | bool:
    """Days of ``mask`` in runs of 3 or more (with ``bridge``, gaps of up to 2 days bridged): shifts
    and drifts, which say nothing about the series' usual bursts (isolated bursts stay in its tail)."""
    if mask is None:
        return False
    n = mask.shape[1]
    p = np.pad(mask, ((0, 0), (2, 2)))
    before = p[:, 1 : n + 1] | p[:, 0:n]
    after = p[:, 3 : n + 3] | p[:, 4 : n + 4]
    bridged = mask | (before & after) | (p[:, 1 : n + 1] & p[:, 3 : n + 3]) if bridge else mask
    m = np.pad(bridged, ((0, 0), (2, 2)))
    a, b, c, d, e = (m[:, i : i + n] for i in range(5))
    return c & ((a & b) | (b & d) | (d & e))


def _not_below_zero(x: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """A series that has never gone below zero (no credit, no refund) cannot be expected to."""
    seen = np.zeros(x.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        seen[:, 1:] = np.maximum.accumulate(np.nan_to_num(x) < 0, axis=1)[:, :-1]
    with np.errstate(invalid="ignore"):
        return np.where(~seen & (expected < 0), 0.0, expected)
