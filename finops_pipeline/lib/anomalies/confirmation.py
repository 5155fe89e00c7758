"""Which candidate events are anomalies: a classifier of events on how they compare with their series' past.

Issue #15: the statistical stages (expectation.py, events.py) find the days that break a series'
expected cost; what they cannot weigh together is how unusual the whole event is for *that* series:
a series that has moved this much a dozen times this year, whose residuals are heavy-tailed, whose
same day last month did the same, is showing its normal behaviour, while a quiet series' first
move of that size is news. Each rule of thumb alone (drop_familiar, the tail scale) trades recall
for precision; a gradient-boosted classifier weighs them jointly.

Every feature is scale-free and read from the series' own scored matrix up to the event's last day
(causal: what the pipeline knows when it reports the event), so one model serves series of $2 and
$20,000 a day. The model is fitted, not shipped as a binary: on the first call a
``HistGradientBoostingClassifier`` is fitted (about a second, then cached) on labelled candidate
events of the tuning worlds (``finops_pipeline/data/anomaly_training_events.parquet``, written by
``bench/anomaly_training.py``; never from the held-out seeds or the independent family).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.matrix import ScoredMatrix, _rolling_median_before, span_days
from finops_pipeline.lib.anomalies.recurrence import calendar, pattern_days

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

TRAINING_FILE = Path(__file__).resolve().parents[2] / "data" / "anomaly_training_events.parquet"
KINDS = ("spike", "level_shift", "drop")  # new_series events are not judged (confirmed says why)
FEATURES = (
    "score",  # peak window z of the event
    "log_size",  # log(1 + |impact| / the series' typical day)
    "relative_change",  # |impact| / |expected| over the event
    "log_days",
    "increase",
    "kind",
    "pattern",  # recurrence.py code of what the peak day was compared with
    "month_edge",  # the peak lies within 3 days of a month's start or end
    "weekend",
    "holiday",
    "past_peak_ratio",  # peak residual / the largest residual in its direction, last 365 days
    "past_big_days",  # days of the last 365 whose residual reached half the peak
    "past_moderate_days",  # days of the last 91 whose residual reached 0.3 of the peak
    "noise",  # median |day-to-day change| / level, last 56 days
    "zero_share",  # share of the last 56 days at (near) zero
    "same_day_months",  # largest residual on the peak's day-of-month in the 3 months before / peak
    "same_weekday_weeks",  # largest residual on the peak's weekday in the 4 weeks before / peak
    "age_days",
    "peak_over_day",  # peak residual / typical day
    "tail_share",  # share of the last 91 days with |z| >= 3
    "prior_candidates",  # candidate events of the series in the 365 days before
    "flatness",  # mean residual over the event / its peak (a shift is flat, a spike is not)
    "energy_ratio",  # event's residual / the sum of |residuals| of the 28 days before
)


def event_features(events: pl.DataFrame, m: ScoredMatrix, known: np.ndarray | None = None) -> np.ndarray:
    """(events × FEATURES) for ``events`` (the detector's output schema) of matrix ``m``; ``known``:
    its calendar-pattern days (``recurrence.pattern_days``, which the detector has already read).

    Vectorised over events: every window before an event is gathered as an events × days array,
    in parts, so the 40,000 candidate events of 1,000 accounts' usage types stay within memory."""
    if events.height == 0:
        return np.zeros((0, len(FEATURES)))
    index = {sid: i for i, sid in enumerate(m.series_ids)}
    epoch = int(m.dates[0].astype("datetime64[D]").astype(np.int64))
    s = np.array([index[sid] for sid in events["series_id"].to_list()], dtype=np.int64)
    t0 = events["start_date"].cast(pl.Int64).to_numpy() - epoch
    t1 = events["end_date"].cast(pl.Int64).to_numpy() - epoch
    sign = np.where(events["direction"].to_numpy() == "increase", 1.0, -1.0)
    with np.errstate(invalid="ignore"):
        res = np.nan_to_num(m.actual - m.expected)
    peak, tp, mean, total = _event_shape(res, s, t0, t1, sign)
    cal = calendar(m.dates)
    # The first occurrences of a calendar pattern stood out before it was learnt; once it is, they
    # are that pattern, no precedent for a move on another day (as events.drop_familiar reads them).
    if known is None:
        known = np.zeros(res.shape, bool) if m.pattern is None else pattern_days(m.pattern, cal)
    precedent = np.where(known, 0.0, res)
    day = np.fmax(np.nan_to_num(_rolling_median_before(np.abs(m.actual), 28, 7, stride=7)[s, t0]), 1e-6)
    impact, expected, days = events["impact"].to_numpy(), events["expected"].to_numpy(), t1 - t0 + 1
    # Noise, heavy-tailed days and recent residuals are read off the days of other candidate events:
    # a shift a fortnight ago does not make the series noisy. (Its size still counts, as a precedent.)
    calm = _without_events(res, s, t0, t1)
    parts = [
        _history(m, precedent, calm, *(a[i : i + _PART] for a in (s, t0, sign, peak)))
        for i in range(0, events.height, _PART)
    ]
    before = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    first_day = np.argmax(~np.isnan(m.actual), axis=1)
    columns = {
        "score": events["score"].to_numpy(),
        "log_size": np.log1p(np.abs(impact) / day),
        "relative_change": np.minimum(np.abs(impact) / np.fmax(np.abs(expected), 0.05 * day * days), 50.0),
        "log_days": np.log(days),
        "increase": sign > 0,
        "kind": np.array([KINDS.index(k) if k in KINDS else len(KINDS) for k in events["kind"].to_list()]),
        "pattern": np.zeros(s.size) if m.pattern is None else m.pattern[s, tp],
        "month_edge": (cal.dom[tp] <= 3) | (cal.from_end[tp] <= 2),
        "weekend": cal.weekday[tp] >= 5,
        "holiday": cal.holiday[tp] | cal.holiday_elsewhere[tp],
        "same_day_months": _prior_ratio(res, s, tp, sign, peak, MONTH_LAGS),
        "same_weekday_weeks": _prior_ratio(res, s, tp, sign, peak, (7, 14, 21, 28)),
        "age_days": np.minimum(tp - first_day[s], 400),
        "peak_over_day": np.minimum(peak / day, 100.0),
        "prior_candidates": _prior_events(s, t0, ~known[s, t0]),
        "flatness": mean / peak,
        "energy_ratio": np.minimum(total / np.fmax(before.pop("past_abs_residual"), 1e-6), 50.0),
        **before,
    }
    return np.stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES], axis=1)


_PART = 5_000  # events per gathered window (5,000 × 365 days × 8 bytes: 15 MB)
MONTH_LAGS = (28, 29, 30, 31, 59, 60, 61, 62, 89, 90, 91, 92)  # the same day 1-3 months before, ±


def _event_shape(
    res: np.ndarray, s: np.ndarray, t0: np.ndarray, t1: np.ndarray, sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per event: (peak residual in its direction, the peak's day, mean and sum of its residuals)."""
    lengths, offset, starts = span_days(t0, t1)
    values = np.repeat(sign, lengths) * res[np.repeat(s, lengths), np.repeat(t0, lengths) + offset]
    peak = np.maximum.reduceat(values, starts)
    total = np.add.reduceat(values, starts)
    at_peak = values == np.repeat(peak, lengths)
    first_peak = np.minimum.reduceat(np.where(at_peak, offset, np.iinfo(np.int64).max), starts)
    return np.fmax(peak, 1e-9), t0 + first_peak, total / lengths, total


def _gather(matrix: np.ndarray, s: np.ndarray, end: np.ndarray, length: int) -> np.ndarray:
    """(events × length) the ``length`` days of ``matrix`` before day ``end`` (NaN before day 0)."""
    t = end[:, None] - length + np.arange(length)[None, :]
    out = matrix[s[:, None], np.maximum(t, 0)].astype(np.float64)
    out[t < 0] = np.nan
    return out


def _without_events(res: np.ndarray, s: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """``res`` with the days of the given events set to NaN."""
    lengths, offset, _ = span_days(t0, t1)
    out = res.copy()
    out[np.repeat(s, lengths), np.repeat(t0, lengths) + offset] = np.nan
    return out


def _history(
    m: ScoredMatrix,
    res: np.ndarray,
    calm: np.ndarray,
    s: np.ndarray,
    t0: np.ndarray,
    sign: np.ndarray,
    peak: np.ndarray,
) -> dict[str, np.ndarray]:
    """How each event's series behaved before it: its largest and its frequent residuals (``res``:
    off pattern days),
    and off other events' days (``calm``) its noise, zero days, heavy-tailed days and the sum of its
    recent |residuals|."""
    past = sign[:, None] * _gather(res, s, t0, 365)
    seen = np.isfinite(past)
    largest = np.where(seen, past, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        big = np.sum(past >= 0.5 * peak[:, None], axis=1)
        moderate = np.sum(past[:, -91:] >= 0.3 * peak[:, None], axis=1)
    off_events = np.isfinite(_gather(calm, s, t0, 91))
    recent = np.where(off_events[:, -56:], _gather(m.actual, s, t0, 56), np.nan)
    counted = np.isfinite(recent).sum(axis=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an event on a series' first day: no past
        level = np.fmax(np.nan_to_num(np.nanmedian(np.abs(recent), axis=1)), 1e-6)
        change = np.nan_to_num(np.nanmedian(np.abs(np.diff(recent, axis=1)), axis=1))
        near_zero = np.sum(np.abs(recent) <= 0.01 * level[:, None], axis=1)
    z = (np.abs(np.nan_to_num(_gather(m.z, s, t0, 91))) >= 3.0) & off_events
    return {
        "past_peak_ratio": np.where(seen.any(axis=1), np.minimum(peak / np.fmax(largest, 1e-9), 20.0), 20.0),
        "past_big_days": big,
        "past_moderate_days": moderate,
        "noise": np.where(counted > 2, change / level, 0.0),
        "zero_share": near_zero / np.maximum(counted, 1),
        "tail_share": z.sum(axis=1) / np.maximum(off_events.sum(axis=1), 1),
        "past_abs_residual": np.nansum(np.abs(_gather(calm, s, t0, 28)), axis=1),
    }


def _prior_ratio(
    res: np.ndarray, s: np.ndarray, t: np.ndarray, sign: np.ndarray, peak: np.ndarray, lags: tuple[int, ...]
) -> np.ndarray:
    """The largest residual (in the event's direction) ``lags`` days before its peak day, over the peak."""
    days = t[:, None] - np.array(lags)[None, :]
    prior = np.where(days >= 0, sign[:, None] * res[s[:, None], np.maximum(days, 0)], -np.inf)
    largest = prior.max(axis=1)
    return np.where(np.isfinite(largest), largest / peak, 0.0)


def _prior_events(s: np.ndarray, t0: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Per event: the ``counted`` candidate events of its series that started in the 365 days before."""
    order = np.lexsort((t0, s))
    ss, tt, cc = s[order], t0[order], counted[order].astype(np.int64)
    before = np.concatenate([[0], np.cumsum(cc)])  # counted events before each position
    key = ss * 1_000_000 + tt  # sorted: series, then start day
    window_start = np.maximum(
        np.searchsorted(key, ss * 1_000_000 + tt - 365, side="left"), np.searchsorted(ss, ss, side="left")
    )
    out = np.zeros(s.size)
    out[order] = before[np.arange(s.size)] - before[window_start]
    return out


# The direction each feature may push the probability (1 up, -1 down; others free). Learnt
# freely, a model follows its training worlds' quirks (an event size that happened to be a trap
# there); held to what any bill shows (a larger, rarer, more sudden move is likelier an anomaly,
# a move the series has made often before less so) it carries over to bills it was not fitted on.
MONOTONE = {
    "score": 1,
    "log_size": 1,
    "relative_change": 1,
    "past_peak_ratio": 1,
    "peak_over_day": 1,
    "energy_ratio": 1,
    "past_big_days": -1,
    "past_moderate_days": -1,
    "prior_candidates": -1,
    "same_day_months": -1,
    "same_weekday_weeks": -1,
    "tail_share": -1,
}
CATEGORICAL = ("kind", "pattern")


def fit_model(table: pl.DataFrame) -> HistGradientBoostingClassifier:
    """The classifier fitted on ``table`` (FEATURES and the boolean ``anomaly``); scikit-learn is
    imported here, on first use, as it takes a second to import."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    missing = set(FEATURES) - set(table.columns)
    if missing:
        raise RuntimeError(
            f"{TRAINING_FILE} lacks features {sorted(missing)}: rebuild it with bench/anomaly_training.py"
        )
    model = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        categorical_features=[FEATURES.index(name) for name in CATEGORICAL if name in FEATURES] or None,
        monotonic_cst=[MONOTONE.get(name, 0) for name in FEATURES],
        random_state=0,
    )
    return model.fit(table.select(FEATURES).to_numpy(), table["anomaly"].to_numpy())


@functools.cache
def model() -> HistGradientBoostingClassifier:
    """The classifier fitted on the training events, once per process."""
    return fit_model(pl.read_parquet(TRAINING_FILE))


def anomaly_probability(events: pl.DataFrame, m: ScoredMatrix, known: np.ndarray | None = None) -> np.ndarray:
    """The classifier's probability that each event is an anomaly (events × 1)."""
    if events.height == 0:
        return np.zeros(0)
    return model().predict_proba(event_features(events, m, known))[:, 1]


def confirmed(
    events: pl.DataFrame, m: ScoredMatrix, threshold: float, known: np.ndarray | None = None
) -> pl.DataFrame:
    """``events`` whose probability of being an anomaly reaches ``threshold``, and every new series.

    A new service in an account that already spends (``new_series``) is always reported: the
    worlds disagree on it (a planned launch in one, an anomaly in another), and whether it was
    planned is for its owner to say, not for a model of the series' past, which it has none of."""
    if events.height == 0 or threshold <= 0:
        return events
    new = (events["kind"] == "new_series").to_numpy()
    keep = new.copy()
    if (~new).any():
        judged = events.filter(pl.Series(~new))
        keep[~new] = anomaly_probability(judged, m, known) >= threshold
    return events.filter(pl.Series(keep))
