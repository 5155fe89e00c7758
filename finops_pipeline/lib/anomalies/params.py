"""The detector's knobs and output columns, shared by every stage of the detector."""

from __future__ import annotations

from dataclasses import dataclass

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
    "baseline": pl.Utf8,  # what the expected cost was compared with, e.g. "day 28 of the last 3 months"
}


@dataclass(frozen=True)
class DetectorParams:
    """Every knob of the detector; ``detect(series, **params)`` overrides any of them."""

    min_impact_usd: float = 1.0  # |actual - expected| over the event, USD
    min_event_share: float = 0.25  # ... and this share of the series' typical day (0.25: seeds 11-15)
    min_score: float = 4.5  # peak robust z-score of a candidate event (its best window of 1, 3, 7 or 14 days)
    z_threshold: float = 3.5  # a window of 1, 3 or 7 days flags its days from this |z| on (was 3.0)
    join_z: float = 1.0  # ... each of which must move at least this much on its own
    recovery_days: int = 7  # a move back within this many days of an event's end is its recovery
    min_relative_change: float = 0.08  # ... and when it moves at least this share of the expected cost
    window_days: int = 28  # history the baseline looks at
    scale_window_days: int = 56  # history the robust scale of residuals looks at
    min_history_days: int = 14  # days a series needs before its own baseline is trusted
    onboarding_days: int = 2  # a series appearing this close to a new group's first spend is onboarding
    max_gap_days: int = 1  # quiet days bridged inside one event
    trim_share: float = 0.2  # weak ends of an event (under this share of its peak) trimmed; on seeds 11-15
    restated_days: int = 3  # trailing days whose decreases are not flagged (Cost Explorer restates them)
    # Multiplicative noise: the scale is at least the median |residual| as a share of the expected
    # cost times today's ("max"; "on": that alone; "off"). "max" chosen on family A's seeds 11-15.
    relative_scale: str = "max"
    relative_scale_floor: float = 0.03  # scale >= this share of the expected cost
    absolute_scale_floor: float = 0.05  # scale >= this many USD
    calendar_scale_floor: float = 0.15  # scale widened by this share of a calendar day's extra charge
    trend_min_change: float = 0.1  # two-week medians must differ this much before a trend is followed
    trend_periods: int = 3  # ... in the same direction over this many fortnights in a row
    trend_linear_fallback: bool = True  # a series crossing zero follows a straight-line trend
    windows: tuple[int, ...] = (3, 7, 14)  # multi-day windows whose summed residual is scored too
    # A window's spread >= the robust scale of the series' own k-day sums (measured: fewer false
    # positives but fewer finds; not better on the tuning seeds, so off by default).
    calibrate_windows: bool = False
    detect_decreases: bool = True
    holiday_decreases: bool = False  # False: a decrease lying wholly on weekday holidays is no event
    holidays_elsewhere: bool = True  # ... on English, Welsh and German holidays too (seeds 11-15)
    holiday_strong_days: bool = True  # ... unless a day off holidays stands out alone (|z| >= z_threshold)
    # Recurrence (recurrence.py): a day standing out by pattern_z is explained by a calendar pattern
    # whose earlier occurrences each stood out as much, within pattern_spread of their median.
    learn_recurrence: bool = True
    pattern_z: float = 3.0
    pattern_spread: float = 0.7  # was 0.5; these three chosen on family A's tuning seeds 11-15
    pattern_misses: int = 1  # earlier occurrences that may break a pattern (an anomaly, a skipped run)
    national_business_days: bool = True  # business-day patterns under US, UK and German holidays too
    biweekly_levels: bool = True  # expect the level of the same phase of a job every other week
    # Heavy tails and bursts: the scale is at least the tail_quantile of the series' own |residuals|
    # over tail_window_days (about its 3rd largest), divided by tail_z (0 turns it off; 1.75 chosen on
    # realistic family A's tuning seeds 11-15 with tail_quantile 0.99; were 2.0, 2.5 and 0.975).
    # tail_mode "sided_up" (chosen there too): increases are scored against the whole tail, decreases
    # against the tail of the series' own decreases (bursts go up, not down); "abs": the whole tail
    # for both; "sided": each direction its own; "relative...": as a share of the expected cost.
    tail_quantile: float = 0.99
    tail_z: float = 1.75
    tail_window_days: int = 91
    tail_mode: str = "sided_up"
    early_charge_ratio: float = 1.0  # a first-weeks day this far from their median is a charge, not usage
    impute_holidays: bool = True  # weekday holidays enter baselines as the same weekday 2 weeks before
    # An event its series has shown familiar_count times in familiar_window_days (runs reaching
    # familiar_share of its peak day) is its normal behaviour (events.drop_familiar). Chosen on
    # family A's tuning seeds 11-15: twice in 273 days at 0.7 (F1 0.847; 91 days 0.748, 182 0.831,
    # 365 0.846; 3 times 0.826).
    familiar_count: int = 2
    familiar_share: float = 0.7
    familiar_window_days: int = 273
    familiar_length_share: float = 0.3  # ... and runs at least this share of its length (a shift)
    familiar_near_days: int = 1  # ... only when it lies within this many days of those patterns
    confirm_threshold: float = 0.5  # confirmation.py: events whose anomaly probability reaches this (0: off)
    chunk_series: int = 2_500  # more series than this are scored in parts (memory, not results)
    parallel_parts: int = 2  # parts scored at once, one thread each (the 2 cores; speed, not results)
    medium_impact_usd: float = 10.0
    high_impact_usd: float = 100.0
