"""Event-level scoring and the baselines the evaluation compares with."""

import datetime as dt

import polars as pl
import pytest

from finops_pipeline.lib.anomalies.evaluation import day_over_day, rolling_zscore, score_events

D = dt.date


def frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"series_id": pl.Utf8, "start_date": pl.Date, "end_date": pl.Date, "detected_date": pl.Date},
        orient="row",
    )


def test_overlap_matching_precision_recall_f1_and_delay() -> None:
    labels = frame(
        [
            ("a", D(2026, 3, 1), D(2026, 3, 10), None),  # found twice (two events overlap it)
            ("a", D(2026, 5, 1), D(2026, 5, 1), None),  # missed
            ("b", D(2026, 4, 1), D(2026, 4, 3), None),  # found, 2 days late
            ("b", D(2026, 1, 1), D(2026, 1, 3), None),  # before the window: not scored for recall
        ]
    ).drop("detected_date")
    detected = frame(
        [
            ("a", D(2026, 2, 27), D(2026, 3, 2), D(2026, 2, 28)),  # starts before the label: delay 0
            ("a", D(2026, 3, 8), D(2026, 3, 12), D(2026, 3, 9)),
            ("b", D(2026, 4, 3), D(2026, 4, 5), D(2026, 4, 3)),
            ("b", D(2026, 1, 2), D(2026, 1, 2), D(2026, 1, 2)),  # outside the window: ignored
            ("c", D(2026, 4, 1), D(2026, 4, 1), D(2026, 4, 1)),  # false positive
        ]
    )
    score = score_events(detected, labels, D(2026, 2, 1), D(2026, 6, 1))
    assert (score.labels, score.found, score.detected, score.true_detections) == (3, 2, 4, 3)
    assert score.precision == pytest.approx(0.75)
    assert score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    assert score.median_delay_days == pytest.approx(1.0)  # delays 0 and 2


def test_baselines_flag_what_they_should() -> None:
    days = [D(2026, 1, 1) + dt.timedelta(d) for d in range(60)]
    cost = [100.0] * 60
    cost[40] = 400.0
    series = pl.DataFrame({"series_id": "s", "date": days, "cost": cost})
    dod = day_over_day(series)
    assert dod["start_date"].to_list() == [D(2026, 2, 10), D(2026, 2, 11)]  # up, then back down
    z = rolling_zscore(series)
    assert z["start_date"].to_list()[0] == D(2026, 2, 10)
