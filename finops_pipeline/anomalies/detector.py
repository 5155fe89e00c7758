"""Cost anomaly detection on daily cost series: a causal, calendar-aware robust residual detector.

For every series and day the expected cost comes only from the days before it:

- regular days: the median of the same weekday over the last four weeks (weekly seasonality), plus a
  trend term: the median of three week-over-week changes of 7-day medians, so steady growth is
  expected while a one-week jump is not mistaken for trend;
- calendar days (the 1st and the last day of a month, when fees, tax, RI/Savings Plans charges and
  credits post): the median of the same calendar day in the previous three months;
- the first ``min_history_days`` of a series that appears after its group (an account) already had
  spend: zero, so a new expensive service is an event; a series that appears with its group (a new
  account being onboarded) is learned, not flagged.

The score of a day is its residual over a robust scale (1.4826 × the median absolute residual of the
last ``window_days`` regular days), floored by a share of the expected cost. Days past
``z_threshold`` in the same direction form events (gaps up to ``max_gap_days`` bridged); an event is
kept when its peak score reaches ``min_score`` and its impact reaches ``min_impact_usd``.

Traps it is built to ignore: weekend dips (weekday medians), month-start fees and month-end credits
(calendar days), negative credits or refunds on other days (a day below zero is never a drop), steady
growth (trend), a restated or incomplete last day (no drop is flagged in the last ``restated_days``
days: they are re-read and re-scored next run), a series that stops for good (decommissioning), and
days missing from the whole frame (a data gap, not zero spend).

Everything is vectorised over a series × day matrix: no per-series Python loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

MAD_TO_SIGMA = 1.4826
OUTPUT_SCHEMA = {
    "series_id": pl.Utf8,
    "start_date": pl.Date,
    "end_date": pl.Date,
    "actual": pl.Float64,
    "expected": pl.Float64,
    "impact": pl.Float64,
    "score": pl.Float64,
    "severity": pl.Utf8,
    "direction": pl.Utf8,
    "kind": pl.Utf8,
    "days": pl.Int64,
    "detected_date": pl.Date,
}


@dataclass(frozen=True)
class DetectorParams:
    """Every knob of the detector; ``detect(series, **params)`` overrides any of them."""

    min_impact_usd: float = 1.0  # |actual - expected| over the event, USD
    min_score: float = 6.0  # peak robust z-score of the event (its best window of 1, 3, 7 or 14 days)
    z_threshold: float = 3.0  # a window of 1, 3 or 7 days flags its days from this |z| on
    join_z: float = 1.0  # ... each of which must move at least this much on its own
    recovery_days: int = 7  # a move back within this many days of an event's end is its recovery
    min_relative_change: float = 0.08  # ... and when it moves at least this share of the expected cost
    window_days: int = 28  # history the baseline looks at
    scale_window_days: int = 56  # history the robust scale of residuals looks at
    min_history_days: int = 14  # days a series needs before its own baseline is trusted
    onboarding_days: int = 2  # a series appearing this close to a new group's first spend is onboarding
    max_gap_days: int = 1  # quiet days bridged inside one event
    restated_days: int = 3  # trailing days whose decreases are not flagged (Cost Explorer restates them)
    relative_scale_floor: float = 0.03  # scale >= this share of the expected cost
    absolute_scale_floor: float = 0.05  # scale >= this many USD
    calendar_scale_floor: float = 0.15  # scale widened by this share of a calendar day's extra charge
    trend_min_change: float = 0.1  # two-week medians must differ this much before a trend is followed
    windows: tuple[int, ...] = (3, 7, 14)  # multi-day windows whose summed residual is scored too
    # A window's spread >= the robust scale of the series' own k-day sums (measured: fewer false
    # positives but fewer finds; not better on the tuning seeds, so off by default).
    calibrate_windows: bool = False
    detect_decreases: bool = True
    medium_impact_usd: float = 10.0
    high_impact_usd: float = 100.0


def _nanmedian_last(values: np.ndarray, min_count: int) -> np.ndarray:
    """Median over the last axis ignoring NaN (sort-based: much faster than np.nanmedian)."""
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=-1)
    lo = np.clip((count - 1) // 2, 0, values.shape[-1] - 1)
    hi = np.clip(count // 2, 0, values.shape[-1] - 1)
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
    matrix: np.ndarray, window: int, min_count: int, stride: int = 1, every: int = 1
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
        out[lo : lo + chunk] = _nanmedian_last(view, min_count)
    return out if stride == 1 else np.repeat(out, stride, axis=1)[:, :t]


def _to_polars(series: Any) -> pl.DataFrame:
    if isinstance(series, pl.DataFrame):
        frame = series
    else:
        frame = pl.from_pandas(series.reset_index(drop=True) if hasattr(series, "reset_index") else series)
    missing = {"series_id", "date", "cost"} - set(frame.columns)
    if missing:
        raise ValueError(f"series needs columns series_id, date, cost; missing {sorted(missing)}")
    columns = [
        pl.col("series_id").cast(pl.Utf8),
        pl.col("date").cast(pl.Date),
        pl.col("cost").cast(pl.Float64).fill_null(0.0),
    ]
    if "group" in frame.columns:
        columns.append(pl.col("group").cast(pl.Utf8))
    return frame.select(columns)


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


@dataclass
class _Prepared:
    ids: list[str]
    dates: np.ndarray
    x: np.ndarray
    first: np.ndarray
    born_late: np.ndarray
    onboarding: np.ndarray


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


def _prepare(series: Any, p: DetectorParams) -> _Prepared:
    frame = _to_polars(series)
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
    day = frame["date"].to_numpy().astype("datetime64[D]")
    first_day, last_day = day.min(), day.max()
    dates = np.arange(first_day, last_day + np.timedelta64(1, "D"))
    ti = (day - first_day).astype(np.int64)
    n_s, n_t = len(ids), len(dates)
    x = np.zeros((n_s, n_t))
    np.add.at(x, (sid, ti), frame["cost"].to_numpy())
    present = np.zeros(n_t, dtype=bool)
    present[np.unique(ti)] = True  # a day no series reported is a data gap, not zero spend

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


def _severity(impact: pl.Expr, p: DetectorParams) -> pl.Expr:
    magnitude = impact.abs()
    return (
        pl.when(magnitude >= p.high_impact_usd)
        .then(pl.lit("high"))
        .when(magnitude >= p.medium_impact_usd)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )


def events_from_flags(
    m: ScoredMatrix,
    up: np.ndarray,
    down: np.ndarray,
    p: DetectorParams,
    *,
    min_score: float | None = None,
    window_z: np.ndarray | None = None,
    windows: tuple[int, ...] = (1,),
) -> pl.DataFrame:
    """Group flagged days into events (same series, same direction, gaps <= max_gap_days bridged).

    ``window_z`` (windows × series × day, signed; default: the daily z) scores the windows ending on
    each day. An event's score is the best window lying wholly inside the event (so the tail of an
    earlier event cannot lend its evidence to a later one); it is detected on the first day its score
    and its cumulative impact both pass their thresholds.
    """
    if window_z is None:
        window_z = m.z[None, :, :]
    rows = []
    for direction, flags in (("increase", up), ("decrease", down)):
        s_idx, t_idx = np.nonzero(flags)
        if s_idx.size == 0:
            continue
        rows.append(pl.DataFrame({"s": s_idx, "t": t_idx, "direction": direction}))
    if not rows:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    flagged = pl.concat(rows).sort("direction", "s", "t")
    new_event = (
        (pl.col("s") != pl.col("s").shift(1))
        | (pl.col("direction") != pl.col("direction").shift(1))
        | (pl.col("t") - pl.col("t").shift(1) > p.max_gap_days + 1)
    ).fill_null(True)
    flagged = flagged.with_columns(new_event.cum_sum().alias("event"))
    spans = flagged.group_by("event").agg(
        pl.col("s").first(),
        pl.col("direction").first(),
        pl.col("t").min().alias("t0"),
        pl.col("t").max().alias("t1"),
    )
    # Expand each event to every day of its span (bridged gaps count in its totals).
    lengths = (spans["t1"] - spans["t0"] + 1).to_numpy()
    ev = np.repeat(spans["event"].to_numpy(), lengths)
    s = np.repeat(spans["s"].to_numpy(), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    t = np.repeat(spans["t0"].to_numpy(), lengths) + offset
    actual = np.nan_to_num(m.actual[s, t])
    expected = np.nan_to_num(m.expected[s, t])
    sign = np.where(np.repeat(spans["direction"].to_numpy() == "increase", lengths), 1.0, -1.0)
    z = np.zeros(t.size)
    for i, k in enumerate(windows):
        inside = offset >= k - 1
        z = np.where(inside, np.fmax(z, sign * np.nan_to_num(window_z[i][s, t])), z)
    days = pl.DataFrame(
        {
            "event": ev,
            "t": t,
            "actual": actual,
            "expected": expected,
            "residual": actual - expected,
            "absz": np.abs(z),
            "new": m.new_series[s, t],
        }
    ).sort("event", "t")
    threshold = p.min_score if min_score is None else min_score
    days = days.with_columns(
        pl.col("residual").cum_sum().over("event").abs().alias("cum_impact"),
        pl.col("absz").cum_max().over("event").alias("cum_score"),
    )
    reached = (pl.col("cum_impact") >= p.min_impact_usd) & (pl.col("cum_score") >= threshold)
    summary = days.group_by("event").agg(
        pl.col("actual").sum(),
        pl.col("expected").sum(),
        pl.col("residual").sum().alias("impact"),
        pl.col("absz").max().alias("score"),
        pl.col("new").any().alias("is_new"),
        pl.col("t").filter(reached).min().alias("t_detected"),
    )
    out = spans.join(summary, on="event").filter(pl.col("t_detected").is_not_null())
    epoch = int(m.dates[0].astype("datetime64[D]").astype(np.int64)) if len(m.dates) else 0
    ids = pl.Series("series_id", m.series_ids, dtype=pl.Utf8)
    out = out.with_columns(
        ids.gather(out["s"]).alias("series_id"),
        (pl.col("t0") + epoch).cast(pl.Date).alias("start_date"),
        (pl.col("t1") + epoch).cast(pl.Date).alias("end_date"),
        (pl.col("t_detected") + epoch).cast(pl.Date).alias("detected_date"),
        (pl.col("t1") - pl.col("t0") + 1).cast(pl.Int64).alias("days"),
    )
    kind = (
        pl.when(pl.col("is_new"))
        .then(pl.lit("new_series"))
        .when(pl.col("direction") == "decrease")
        .then(pl.lit("drop"))
        .when(pl.col("days") <= 2)
        .then(pl.lit("spike"))
        .otherwise(pl.lit("level_shift"))
    )
    out = out.with_columns(kind.alias("kind"), _severity(pl.col("impact"), p).alias("severity"))
    return out.select(list(OUTPUT_SCHEMA)).cast(OUTPUT_SCHEMA).sort("series_id", "start_date", "direction")


def _window_residual(m: ScoredMatrix) -> np.ndarray:
    """Residuals that multi-day windows add up: a day below zero (a credit or refund) counts as 0."""
    with np.errstate(invalid="ignore"):
        return np.where(m.actual < 0, 0.0, np.nan_to_num(m.actual - m.expected))


def window_scores(m: ScoredMatrix, windows: tuple[int, ...], p: DetectorParams | None = None) -> np.ndarray:
    """Signed z of the residual summed over the ``k`` days ending at t, for each k: (len, S, T).

    The spread of a k-day sum is sqrt(k) × the daily scale when residuals are independent. They are
    not always (a baseline that lags a series' own slow wandering leaves runs of same-sign
    residuals), so with ``calibrate_windows`` each series' spread is at least the robust scale of its
    own k-day sums over the ``scale_window_days`` before the window: a week-long wobble the series
    always has does not add up to an event, and a real shift is scored against that series' noise.
    """
    p = p or DetectorParams()
    valid = ~np.isnan(m.actual - m.expected)
    r = _window_residual(m)
    var = np.where(valid, m.scale**2, 0.0)
    n_s, n_t = r.shape
    zero = np.zeros((n_s, 1))
    cs_r = np.concatenate([zero, np.cumsum(r, axis=1)], axis=1)
    cs_v = np.concatenate([zero, np.cumsum(var, axis=1)], axis=1)
    cs_n = np.concatenate([zero, np.cumsum(valid, axis=1)], axis=1)
    out = np.full((len(windows), n_s, n_t), np.nan)
    for i, k in enumerate(windows):
        if k > n_t:
            continue
        total = cs_r[:, k:] - cs_r[:, :-k]
        spread = np.sqrt(cs_v[:, k:] - cs_v[:, :-k])
        full = (cs_n[:, k:] - cs_n[:, :-k]) == k
        if k > 1 and p.calibrate_windows:
            sums = np.full((n_s, n_t), np.nan)
            sums[:, k - 1 :] = np.where(full & ~m.new_series[:, k - 1 :], np.abs(total), np.nan)
            # Sums that end before this window starts (no day shared with it).
            own = _rolling_median_before(_lagged(sums, k - 1), p.scale_window_days, 14, stride=7, every=2)
            spread = np.fmax(spread, MAD_TO_SIGMA * np.nan_to_num(own[:, k - 1 :]))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i, :, k - 1 :] = np.where(full & (spread > 0), total / spread, np.nan)
    return out


def flag_days(
    m: ScoredMatrix, p: DetectorParams, zs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days that may join an event per direction, and each day's evidence score.

    A day joins an event when it lies in a window of 1, 3, 7 or 14 days ending at or after it whose
    summed residual is at least ``z_threshold`` robust standard deviations and
    ``min_relative_change`` of the expected cost, in the day's own direction: sustained shifts too
    small to stand out on one day add up over a week or two. ``zs``: ``window_scores(m, (1,
    *p.windows), p)`` when already computed.
    """
    n_s, n_t = m.actual.shape
    windows = (1, *p.windows)
    zs = window_scores(m, windows, p) if zs is None else zs
    exp_abs = np.nan_to_num(np.abs(m.expected))
    res0 = _window_residual(m)
    cs_e = np.concatenate([np.zeros((n_s, 1)), np.cumsum(exp_abs, axis=1)], axis=1)
    cs_r = np.concatenate([np.zeros((n_s, 1)), np.cumsum(res0, axis=1)], axis=1)
    up_cov = np.zeros((n_s, n_t), dtype=bool)
    down_cov = np.zeros((n_s, n_t), dtype=bool)
    score_up = np.zeros((n_s, n_t))
    score_down = np.zeros((n_s, n_t))
    for i, k in enumerate(windows):
        if k > n_t:
            continue
        z = np.nan_to_num(zs[i])
        moved = np.zeros((n_s, n_t))
        moved[:, k - 1 :] = np.abs(cs_r[:, k:] - cs_r[:, :-k]) - p.min_relative_change * (
            cs_e[:, k:] - cs_e[:, :-k]
        )
        trig_up = (z >= p.z_threshold) & (moved >= 0)
        trig_down = (z <= -p.z_threshold) & (moved >= 0)
        score_up = np.maximum(score_up, np.where(trig_up, z, 0.0))
        score_down = np.maximum(score_down, np.where(trig_down, -z, 0.0))
        # Every day of a triggered window is covered (window ends at t .. t+k-1).
        for lag in range(k):
            up_cov[:, : n_t - lag] |= trig_up[:, lag:]
            down_cov[:, : n_t - lag] |= trig_down[:, lag:]
    # A covered day joins only with some evidence of its own, so quiet days next to a spike do not.
    with np.errstate(invalid="ignore"):
        up = up_cov & (m.z >= p.join_z)
        down = down_cov & (m.z <= -p.join_z) & (m.actual >= 0) & p.detect_decreases & ~m.new_series
    if p.restated_days > 0:
        down[:, max(0, n_t - p.restated_days) :] = False
    # A series that stops for good (zero from some day to the end) is decommissioned, not anomalous.
    if n_t:
        alive = np.arange(n_t)[None, :] < _stopped_from(m.actual)[:, None]
        up &= alive
        down &= alive
    score = np.where(up, score_up, np.where(down, score_down, 0.0))
    return up, down, score


def _stopped_from(actual: np.ndarray) -> np.ndarray:
    """First day from which a series is zero (or missing) through the end; n_t when it never stops."""
    n_t = actual.shape[1]
    spending = np.nan_to_num(actual) > 0
    last = np.where(spending.any(axis=1), n_t - 1 - np.argmax(spending[:, ::-1], axis=1), -1)
    return last + 1


def detect(series: Any, **params: Any) -> pl.DataFrame:
    """Anomalous events in daily cost series.

    ``series``: a pandas or polars frame with ``series_id``, ``date``, ``cost`` (one row per series and
    day; a missing row is zero spend, a day missing for every series is a data gap) and optionally
    ``group`` (e.g. the account: a series appearing with its group is onboarding, not a new service).
    ``params``: any field of :class:`DetectorParams`.

    Returns a polars frame, one row per event: ``series_id``, ``start_date``, ``end_date``, ``actual``,
    ``expected``, ``impact`` (USD, actual - expected over the event), ``score`` (peak robust z),
    ``severity`` (low / medium / high by |impact|), plus ``direction``, ``kind`` (spike, level_shift,
    new_series, drop), ``days`` and ``detected_date`` (the first day the event met every threshold).
    """
    unknown = set(params) - {f.name for f in dataclasses.fields(DetectorParams)}
    if unknown:
        raise TypeError(f"unknown detector parameters: {sorted(unknown)}")
    p = DetectorParams(**params)
    prep = _prepare(series, p)
    if prep.x.size == 0:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    # Two passes: the days the first pass flags are left out of the second pass's baselines, so the
    # return to normal after a shift is not scored against a baseline the shift itself inflated.
    first_pass = _score(prep, p, None)
    up, down, _ = flag_days(first_pass, p)
    m = _score(prep, p, (up | down) & ~first_pass.new_series)
    windows = (1, *p.windows)
    window_z = window_scores(m, windows, p)
    up, down, _ = flag_days(m, p, window_z)
    events = events_from_flags(m, up, down, p, window_z=window_z, windows=windows)
    return drop_recoveries(events, p.recovery_days)


def drop_recoveries(events: pl.DataFrame, days: int) -> pl.DataFrame:
    """Leave out a move in the opposite direction starting within ``days`` of an event's end on the
    same series: the return to normal after a shift or a drift (scored against a baseline that had
    begun to follow it) is part of that event, not a new one."""
    if events.height == 0 or days <= 0:
        return events
    ordered = events.sort("series_id", "start_date")
    previous_end = pl.col("end_date").shift(1).over("series_id")
    previous_dir = pl.col("direction").shift(1).over("series_id")
    recovery = (
        previous_end.is_not_null()
        & (previous_dir != pl.col("direction"))
        & ((pl.col("start_date") - previous_end).dt.total_days() <= days)
        & (pl.col("kind") != "new_series")
    )
    return ordered.filter(~recovery.fill_null(False)).sort("series_id", "start_date", "direction")


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
