"""Scoring detectors against labelled events, and the baselines we compare with (no Dagster).

Event-level matching: a labelled event is found when a detected event on the same series overlaps its
window; a detected event that overlaps no labelled window is a false positive. Detection delay of a
found label is the first ``detected_date`` of the events that found it minus the label's start (>= 0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.detector import (
    OUTPUT_SCHEMA,
    DetectorParams,
    ScoredMatrix,
    events_from_flags,
    score_matrix,
)

SERIES_SEPARATOR = "|"
_ACCOUNT_SERVICE = "as|"
LEDGER_AS_RAW_TABLES = """
CREATE SCHEMA raw;
CREATE VIEW raw.ce_cost_daily AS
    SELECT usage_date, account_id, service, sum(unblended_cost) AS unblended_cost FROM ledger GROUP BY ALL;
CREATE VIEW raw.ce_cost_by_usage_type AS
    SELECT usage_date, service, usage_type, sum(unblended_cost) AS unblended_cost FROM ledger GROUP BY ALL;
CREATE VIEW raw.ce_cost_by_account_usage_type AS  -- usage only, as its Cost Explorer filter asks
    SELECT usage_date, account_id, usage_type, sum(unblended_cost) AS unblended_cost FROM ledger
    WHERE record_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')
    GROUP BY ALL;
"""


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
    pairs = det.join(lab, on="series_id", suffix="_label").filter(
        (pl.col("start_date") <= pl.col("end_date_label"))
        & (pl.col("end_date") >= pl.col("start_date_label"))
    )
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


@dataclass(frozen=True)
class WorldSeries:
    """What the pipeline scores at the labels' grain, built from a sandbox world's ledger."""

    series: pl.DataFrame  # series_id 'account|service', group, date, cost
    drilldown: pl.DataFrame  # series_id 'account|service', driver (usage type), group, date, cost
    labels: pl.DataFrame  # series_id, kind, start_date, end_date, impact_usd


def world_series(world: Any) -> WorldSeries:
    """The account × service series and their account × usage-type drill-down, exactly as the
    ``cost_anomalies`` asset builds them: its own SQL, run on views that shape the world's ledger as
    the raw tables Cost Explorer fills (which equal the ledger's sums to the micro-dollar)."""
    import duckdb

    sql = resources.files("finops_pipeline.defs.anomalies").joinpath("sql")
    con = duckdb.connect()
    try:
        con.register("ledger", world.ledger)
        con.execute(LEDGER_AS_RAW_TABLES)
        series = con.sql(sql.joinpath("series.sql").read_text()).pl()
        con.execute(sql.joinpath("usage_services.sql").read_text())
        drilldown = con.sql(sql.joinpath("drilldown.sql").read_text()).pl()
    finally:
        con.close()
    # The account × service grain ('as|account|service') is the labels' grain.
    series = series.filter(pl.col("series_id").str.starts_with(_ACCOUNT_SERVICE)).sort("series_id", "date")
    strip = pl.col("series_id").str.strip_prefix(_ACCOUNT_SERVICE)
    series = series.with_columns(strip)
    drilldown = drilldown.with_columns(strip).sort("series_id", "driver", "date")
    labels = pl.from_arrow(world.anomalies).select(
        (pl.col("account_id") + SERIES_SEPARATOR + pl.col("service")).alias("series_id"),
        "kind",
        "start_date",
        "end_date",
        pl.col("impact_usd").cast(pl.Float64),
    )
    return WorldSeries(series, drilldown, labels)


def aws_events(emulator: Any, start: dt.date, end: dt.date) -> pl.DataFrame:
    """AWS Cost Anomaly Detection's answers (service monitor; its root cause names the account)."""
    rows, token = [], None
    while True:
        body: dict[str, Any] = {"DateInterval": {"StartDate": start.isoformat(), "EndDate": end.isoformat()}}
        if token:
            body["NextPageToken"] = token
        status, answer = emulator.handle("GetAnomalies", body)
        if status != 200:
            raise RuntimeError(f"GetAnomalies failed: {answer}")
        rows += answer.get("Anomalies", [])
        token = answer.get("NextPageToken")
        if not token:
            break
    last = end - dt.timedelta(days=1)
    out = []
    seen = set()
    for a in rows:
        cause = (a.get("RootCauses") or [{}])[0]
        series_id = f"{cause.get('LinkedAccount')}{SERIES_SEPARATOR}{cause.get('Service')}"
        s = dt.date.fromisoformat(a["AnomalyStartDate"][:10])
        e = dt.date.fromisoformat(a["AnomalyEndDate"][:10]) if a.get("AnomalyEndDate") else last
        if (series_id, s, e) in seen:  # the account monitor repeats the service monitor's finding
            continue
        seen.add((series_id, s, e))
        impact = a["Impact"]
        out.append(
            {
                "series_id": series_id,
                "start_date": s,
                "end_date": e,
                "actual": impact.get("TotalActualSpend", 0.0),
                "expected": impact.get("TotalExpectedSpend", 0.0),
                "impact": impact.get("TotalImpact", 0.0),
                "score": a["AnomalyScore"]["MaxScore"],
                "severity": "",
                "direction": "increase",
                "kind": "aws",
                "days": (e - s).days + 1,
                "detected_date": s,
                "baseline": "AWS Cost Anomaly Detection",
            }
        )
    return pl.DataFrame(out, schema=OUTPUT_SCHEMA)


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
    hit = det.join(labels, on="series_id", suffix="_label").filter(
        (pl.col("start_date") <= pl.col("end_date_label"))
        & (pl.col("end_date") >= pl.col("start_date_label"))
    )["det"]
    false = det.filter(~pl.col("det").is_in(hit.implode()))
    false = false.join(traps.select("series_id", "trap"), on="series_id", how="left")
    counts = false.group_by(pl.col("trap").fill_null("other")).len()
    return dict(counts.iter_rows())
