"""From scored days to events: windows of 1-14 days, flagged days, grouping, recoveries."""

from __future__ import annotations

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.matrix import ScoredMatrix, _lagged, _rolling_median_before, span_days
from finops_pipeline.lib.anomalies.params import MAD_TO_SIGMA, OUTPUT_SCHEMA, DetectorParams
from finops_pipeline.lib.anomalies.recurrence import calendar, describe


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
    spans = _flagged_spans(m, up, down, p)
    if spans is None:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    days = _event_days(m, spans, window_z, windows)
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
        pl.col("t").sort_by("absz", descending=True).first().alias("t_peak"),
        pl.col("code").sort_by("absz", descending=True).first().alias("code"),
    )
    out = spans.join(summary, on="event").filter(pl.col("t_detected").is_not_null())
    return _labelled(m, out, p)


def _flagged_spans(
    m: ScoredMatrix, up: np.ndarray, down: np.ndarray, p: DetectorParams
) -> pl.DataFrame | None:
    """One row per event: flagged days of one series and direction, gaps of max_gap_days bridged."""
    rows = []
    for direction, flags in (("increase", up), ("decrease", down)):
        s_idx, t_idx = np.nonzero(flags)
        if s_idx.size == 0:
            continue
        rows.append(pl.DataFrame({"s": s_idx, "t": t_idx, "direction": direction}))
    if not rows:
        return None
    flagged = pl.concat(rows).sort("direction", "s", "t")
    new_event = (
        (pl.col("s") != pl.col("s").shift(1))
        | (pl.col("direction") != pl.col("direction").shift(1))
        | (pl.col("t") - pl.col("t").shift(1) > p.max_gap_days + 1)
    ).fill_null(True)
    flagged = flagged.with_columns(new_event.cum_sum().alias("event"))
    if p.trim_share > 0:
        flagged = _trimmed(flagged, m, p)
    return flagged.group_by("event").agg(
        pl.col("s").first(),
        pl.col("direction").first(),
        pl.col("t").min().alias("t0"),
        pl.col("t").max().alias("t1"),
    )


def _event_days(
    m: ScoredMatrix, spans: pl.DataFrame, window_z: np.ndarray, windows: tuple[int, ...]
) -> pl.DataFrame:
    """Every day of every event with its cost, residual and the best window score ending inside it."""
    # Expand each event to every day of its span (bridged gaps count in its totals).
    lengths, offset, _ = span_days(spans["t0"].to_numpy(), spans["t1"].to_numpy())
    ev = np.repeat(spans["event"].to_numpy(), lengths)
    s = np.repeat(spans["s"].to_numpy(), lengths)
    t = np.repeat(spans["t0"].to_numpy(), lengths) + offset
    actual = np.nan_to_num(m.actual[s, t])
    expected = np.nan_to_num(m.expected[s, t])
    sign = np.where(np.repeat(spans["direction"].to_numpy() == "increase", lengths), 1.0, -1.0)
    z = np.zeros(t.size)
    for i, k in enumerate(windows):
        inside = offset >= k - 1
        z = np.where(inside, np.fmax(z, sign * np.nan_to_num(window_z[i][s, t])), z)
    return pl.DataFrame(
        {
            "event": ev,
            "t": t,
            "actual": actual,
            "expected": expected,
            "residual": actual - expected,
            "absz": np.abs(z),
            "new": m.new_series[s, t],
            "code": m.pattern[s, t] if m.pattern is not None else np.zeros(t.size, np.int8),
        }
    ).sort("event", "t")


def _labelled(m: ScoredMatrix, out: pl.DataFrame, p: DetectorParams) -> pl.DataFrame:
    """Events in the output schema: dates, kind, severity and the pattern they were compared with."""
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
    peak_days = (out["t_peak"] + epoch).cast(pl.Date).to_list()
    texts = [describe(int(c), d) for c, d in zip(out["code"].to_list(), peak_days, strict=True)]
    out = out.with_columns(pl.Series("baseline", texts, pl.Utf8))
    return out.select(list(OUTPUT_SCHEMA)).cast(OUTPUT_SCHEMA).sort("series_id", "start_date", "direction")


def _trimmed(flagged: pl.DataFrame, m: ScoredMatrix, p: DetectorParams) -> pl.DataFrame:
    """Flagged days without an event's weak ends: leading and trailing days below ``z_threshold``
    on their own whose residual is under ``trim_share`` of the event's largest. Such days joined
    only because a window holding the event's big day covered them: a series' lag behind a ramp or
    yesterday's burst is not part of today's spike. A shift's or a drift's days, alike in size, stay."""
    s, t = flagged["s"].to_numpy(), flagged["t"].to_numpy()
    with np.errstate(invalid="ignore"):
        residual = np.abs(np.nan_to_num(m.actual[s, t] - m.expected[s, t]))
    days = flagged.with_columns(
        pl.Series("r", residual), pl.Series("own", np.abs(np.nan_to_num(m.z[s, t])) >= p.z_threshold)
    )
    strong = pl.col("own") | (pl.col("r") >= p.trim_share * pl.col("r").max().over("event"))
    days = days.with_columns(strong.alias("strong"))
    first = pl.col("t").filter(pl.col("strong")).min().over("event")
    last = pl.col("t").filter(pl.col("strong")).max().over("event")
    return days.filter((pl.col("t") >= first) & (pl.col("t") <= last)).drop("r", "own", "strong")


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
    if not p.holiday_decreases and n_t:
        strong = m.z <= -p.z_threshold if p.holiday_strong_days else None
        down = _without_holiday_dips(down, m.dates, p.holidays_elsewhere, strong)
    # A series that stops for good (zero from some day to the end) is decommissioned, not anomalous.
    if n_t:
        alive = np.arange(n_t)[None, :] < _stopped_from(m.actual)[:, None]
        up &= alive
        down &= alive
    score = np.where(up, score_up, np.where(down, score_down, 0.0))
    return up, down, score


def _without_holiday_dips(
    down: np.ndarray, dates: np.ndarray, elsewhere: bool, strong: np.ndarray | None = None
) -> np.ndarray:
    """``down`` without its runs of days that lie wholly on weekday holidays.

    Office-calendar usage (dev and test fleets, business-hours workloads) dips on public holidays by
    however much the organisation shuts down, and one such day a year says nothing about its size.
    A run that also covers another day (an outage starting on a holiday) is kept whole."""
    cal = calendar(dates)
    other = ~(cal.holiday | (cal.holiday_elsewhere & elsewhere))
    n_s, n_t = down.shape
    flat = np.pad(down, ((0, 0), (1, 0))).ravel()  # a False column between rows ends every run
    run = np.cumsum(np.diff(flat.astype(np.int8), prepend=0) == 1).reshape(n_s, n_t + 1)[:, 1:]
    on_other = np.zeros(run.max() + 1, dtype=bool)
    with np.errstate(invalid="ignore"):
        outside = down & other[None, :] & (True if strong is None else strong)
    on_other[run[outside]] = True
    return down & on_other[run]


def _stopped_from(actual: np.ndarray) -> np.ndarray:
    """First day from which a series is zero (or missing) through the end; n_t when it never stops."""
    n_t = actual.shape[1]
    spending = np.nan_to_num(actual) > 0
    last = np.where(spending.any(axis=1), n_t - 1 - np.argmax(spending[:, ::-1], axis=1), -1)
    return last + 1


def drop_immaterial(events: pl.DataFrame, m: ScoredMatrix, share: float) -> pl.DataFrame:
    """Leave out events whose |impact| is under ``share`` of their series' typical day (the median
    cost of the 28 days before the event). A statistically clear wobble of a few dollars on a series
    that costs a hundred a day is not worth anyone's attention; new series are kept (their typical
    day is zero)."""
    if events.height == 0 or share <= 0:
        return events
    typical = _rolling_median_before(np.abs(m.actual), 28, 7, stride=7)
    index = {sid: i for i, sid in enumerate(m.series_ids)}
    s = np.array([index[sid] for sid in events["series_id"].to_list()], dtype=np.int64)
    epoch = int(m.dates[0].astype("datetime64[D]").astype(np.int64))
    t = events["start_date"].cast(pl.Int64).to_numpy() - epoch
    day = np.nan_to_num(typical[s, t])
    keep = (np.abs(events["impact"].to_numpy()) >= share * day) | (events["kind"] == "new_series").to_numpy()
    return events.filter(pl.Series(keep))


def drop_familiar(
    events: pl.DataFrame, m: ScoredMatrix, p: DetectorParams, known: np.ndarray | None = None
) -> pl.DataFrame:
    """Leave out events their series has already shown ``familiar_count`` times in the
    ``familiar_window_days`` before: runs of days whose residual in the event's direction reached
    ``familiar_share`` of the event's peak day.

    A series that bursts to twice its cost a few times a month (load tests, campaigns, backfills)
    or closes every month with a lift of varying length will do it again; that is how it behaves,
    whatever the calendar. A move larger than any of those is still an event, and so is the first
    and the second of its size. New series are kept (they have no past). ``known`` (S × T bool):
    days of calendar patterns (``recurrence.pattern_days``), which are no bursts: a monthly charge
    says nothing of a spike on another day."""
    if events.height == 0 or p.familiar_count <= 0:
        return events
    with np.errstate(invalid="ignore"):
        residual = np.nan_to_num(m.actual - m.expected)
    history = residual if known is None else np.where(known, 0.0, residual)
    index = {sid: i for i, sid in enumerate(m.series_ids)}
    epoch = int(m.dates[0].astype("datetime64[D]").astype(np.int64))
    keep = []
    for sid, start, end, direction, kind in events.select(
        "series_id",
        pl.col("start_date").cast(pl.Int64),
        pl.col("end_date").cast(pl.Int64),
        "direction",
        "kind",
    ).iter_rows():
        s, t0, t1 = index[sid], start - epoch, end - epoch
        sign = 1.0 if direction == "increase" else -1.0
        peak = float((sign * residual[s, t0 : t1 + 1]).max())
        # An event on a pattern's days is compared with everything; one on other days not with them.
        near = (
            known is None or known[s, max(0, t0 - p.familiar_near_days) : t1 + 1 + p.familiar_near_days].any()
        )
        own = residual if near else history
        past = sign * own[s, max(0, t0 - p.familiar_window_days) : t0] >= p.familiar_share * peak
        edges = np.diff(np.concatenate([[0], past.astype(np.int8), [0]]))
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        # A shift of many days is not made familiar by one-day blips (the organisation's one level shift
        # in the asset test): only runs of familiar_length_share of its length count.
        runs = int(np.count_nonzero(lengths >= p.familiar_length_share * (t1 - t0 + 1)))
        keep.append(kind == "new_series" or runs < p.familiar_count)
    return events.filter(pl.Series(keep, dtype=pl.Boolean))


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
