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

Real bills since issue #15 (each chosen on family A's tuning seeds, bench/anomaly_eval.py): a trend
is followed only after three fortnights moving the same way (a wandering level comes back); the
scale is at least a share of the expected cost (multiplicative noise) and at least the series' own
tail, its decreases' own for a decrease (bursts go up); a job every other week is expected at the
level of its own phase; a decrease lying wholly on weekday holidays, and an event under
``min_event_share`` of the series' typical day, are no events; an event's weak ends are trimmed.

Candidates, then confirmation (issue #15, confirmation.py): the stages above yield candidate
events from ``min_score`` (4.5) on; a gradient-boosted classifier fitted on labelled candidates of
the tuning worlds weighs how unusual each one is for its own series (its precedents, noise, tail,
the same day in earlier months) and keeps those whose probability reaches ``confirm_threshold``.
A new series is always kept.

Everything is vectorised over a series × day matrix: no per-series Python loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.confirmation import confirmed, model
from finops_pipeline.lib.anomalies.events import (
    drop_familiar,
    drop_immaterial,
    drop_recoveries,
    events_from_flags,
    flag_days,
    window_scores,
)
from finops_pipeline.lib.anomalies.expectation import _score, score_matrix
from finops_pipeline.lib.anomalies.matrix import DayAxis, ScoredMatrix, _prepare, _Prepared, _to_polars
from finops_pipeline.lib.anomalies.params import OUTPUT_SCHEMA, DetectorParams
from finops_pipeline.lib.anomalies.recurrence import RECURRING_MONTHLY, calendar, pattern_days

__all__ = [
    "OUTPUT_SCHEMA",
    "DetectorParams",
    "ScoredMatrix",
    "_prepare",
    "_score",
    "detect",
    "drop_recoveries",
    "events_from_flags",
    "flag_days",
    "score_matrix",
    "window_scores",
]


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

    More than ``chunk_series`` series are scored in parts of whole groups on the frame's own days:
    the same events, at a fraction of the memory (1,000 accounts' usage types are ~40,000 series).
    """
    unknown = set(params) - {f.name for f in dataclasses.fields(DetectorParams)}
    if unknown:
        raise TypeError(f"unknown detector parameters: {sorted(unknown)}")
    p = DetectorParams(**params)
    frame = _to_polars(series)
    if frame.height == 0 or frame["series_id"].n_unique() <= p.chunk_series:
        return _detect(_prepare(frame, p), p)
    axis = DayAxis.of(frame)
    parts = _bounded_map(lambda part: _detect(_prepare(part, p, axis), p), _parts(frame, p.chunk_series), p)
    return pl.concat(parts).sort("series_id", "start_date", "direction")


def _bounded_map(
    score: Callable[[pl.DataFrame], pl.DataFrame], parts: Iterable[pl.DataFrame], p: DetectorParams
) -> list[pl.DataFrame]:
    """``score`` of every part, ``p.parallel_parts`` at a time on threads, in the parts' order.

    Threads, not processes: numpy, polars and scikit-learn release the GIL in their loops, and a part
    stays in this process's memory instead of being pickled. No more than ``parallel_parts`` parts
    are taken from ``parts`` ahead of their results, so memory stays bounded by the part size.
    """
    if p.parallel_parts <= 1:
        return [score(part) for part in parts]
    if p.confirm_threshold > 0:
        model()  # fitted once here, not raced for by the threads
    results: list[pl.DataFrame] = []
    pending: deque[Future[pl.DataFrame]] = deque()
    with ThreadPoolExecutor(p.parallel_parts, thread_name_prefix="anomaly-part") as pool:
        for part in parts:
            if len(pending) >= p.parallel_parts:
                results.append(pending.popleft().result())
            pending.append(pool.submit(score, part))
        results.extend(future.result() for future in pending)
    return results


def _parts(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """``frame`` split into parts of about ``size`` series, each group (account) whole in one part.

    One part at a time: a part is a copy of its rows, and all of them at once would double the frame.
    """
    group = pl.col("group") if "group" in frame.columns else pl.col("series_id")
    counts = frame.group_by(group.alias("g")).agg(pl.col("series_id").n_unique().alias("n"))
    counts = counts.sort(pl.col("g").cast(pl.Utf8))
    counts = counts.with_columns((pl.col("n").cum_sum() // size).alias("part"))
    for groups in counts.partition_by("part", maintain_order=True):
        yield frame.filter(group.is_in(groups["g"].implode()))


def _detect(prep: _Prepared, p: DetectorParams) -> pl.DataFrame:
    """The events of one prepared matrix (see ``detect``): the candidates the classifier confirms."""
    events, m, known = _candidates(prep, p)
    return confirmed(events, m, p.confirm_threshold, known)


def candidate_events(series: Any, **params: Any) -> tuple[pl.DataFrame, ScoredMatrix]:
    """The statistical stages' events before confirmation, and the matrix they were scored on
    (what ``bench/anomaly_training.py`` labels to fit the classifier; one part, no chunking)."""
    p = DetectorParams(**params)
    events, m, _ = _candidates(_prepare(_to_polars(series), p), p)
    return events, m


def _candidates(prep: _Prepared, p: DetectorParams) -> tuple[pl.DataFrame, ScoredMatrix, np.ndarray | None]:
    """(candidate events, their scored matrix, its calendar-pattern days)."""
    if prep.x.size == 0:
        return pl.DataFrame(schema=OUTPUT_SCHEMA), score_matrix(prep, p), None
    # Two passes: the days the first pass flags are left out of the second pass's baselines, so the
    # return to normal after a shift is not scored against a baseline the shift itself inflated.
    first_pass = _score(prep, p, None)
    up, down, _ = flag_days(first_pass, p)
    # Days a monthly, quarterly or annual pattern explained are left out too: a month-end batch is
    # not weekday usage. Not bi-weekly ones: the first pass also "explains" the off weeks (the
    # weekday median sits between on and off weeks), and leaving both out empties the median.
    recurring = np.isin(first_pass.pattern, RECURRING_MONTHLY)
    m = _score(prep, p, ((up | down) & ~first_pass.new_series) | recurring)
    windows = (1, *p.windows)
    window_z = window_scores(m, windows, p)
    up, down, _ = flag_days(m, p, window_z)
    events = events_from_flags(m, up, down, p, window_z=window_z, windows=windows)
    events = drop_immaterial(events, m, p.min_event_share)
    events = drop_recoveries(events, p.recovery_days)
    known = pattern_days(m.pattern, calendar(m.dates), p.national_business_days)
    return drop_familiar(events, m, p, known), m, known


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
