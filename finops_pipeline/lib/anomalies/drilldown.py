"""Events of one usage type inside a larger series: found on the finer series, reported on the parent.

A usage type that drifts up or drops to a fifth of its cost can be a few percent of its account ×
service series, inside that series' noise. Scored on its own account × usage-type series the same
change stands out, but a finer series is noisier, so an event found there is kept only when it also
moved its own expected cost by at least ``min_change`` (30% by default; tuned on the sandbox's
seeds 11-15, measured on 1-5: bench/anomaly_eval.py) and no parent event already covers it. It is
reported on the parent series with the usage type as its ``driver``.
"""

from typing import Any

import polars as pl

from finops_pipeline.lib.anomalies.detector import OUTPUT_SCHEMA, detect

DRILLDOWN_MIN_CHANGE = 0.3
DRILLDOWN_SCHEMA = {**OUTPUT_SCHEMA, "driver": pl.Utf8}
_CHILD_SEPARATOR = "\x1f"  # between the parent series id and the driver in the finer series' ids


def detect_with_drilldown(
    series: Any, drilldown: Any, *, min_change: float = DRILLDOWN_MIN_CHANGE, **params: Any
) -> pl.DataFrame:
    """``detect(series)`` plus the events only the finer ``drilldown`` series show.

    ``drilldown``: a pandas or polars frame with ``series_id`` (the parent series each row belongs
    to), ``driver`` (what splits the parent, e.g. the usage type), ``date``, ``cost`` and optionally
    ``group``. ``params``: as for ``detect``; both levels are scored with them.

    Returns ``detect``'s columns plus ``driver`` (null for events of the parent series). Of finer
    events overlapping each other on one parent, the one with the largest impact is kept.
    """
    parents = detect(series, **params)
    frame = drilldown if isinstance(drilldown, pl.DataFrame) else pl.from_pandas(drilldown)
    children = detect(_with_child_ids(frame), **params)
    split = children["series_id"].str.split_exact(_CHILD_SEPARATOR, 1).struct.unnest()
    children = children.with_columns(split["field_0"].alias("series_id"), split["field_1"].alias("driver"))
    change = pl.col("impact").abs() / pl.col("expected").abs()
    children = children.filter(pl.when(pl.col("expected") == 0).then(True).otherwise(change >= min_change))
    children = _outside(children, parents)
    children = _largest_of_overlaps(children)
    out = pl.concat(
        [parents.with_columns(pl.lit(None, pl.Utf8).alias("driver")), children.select(list(DRILLDOWN_SCHEMA))]
    )
    return out.cast(DRILLDOWN_SCHEMA).sort("series_id", "start_date", "direction")


def _with_child_ids(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each row's finer series id (the parent's, then its driver) as ``series_id``.

    Spelt out once per finer series and joined back as a categorical: written on every row, the ids
    (some 80 characters) would be the largest column of 1,000 accounts' 14 million drill-down rows.
    """
    child_id = pl.col("series_id").cast(pl.Utf8) + _CHILD_SEPARATOR + pl.col("driver").cast(pl.Utf8)
    ids = (
        frame.select("series_id", "driver")
        .unique()
        .with_columns(child_id.cast(pl.Categorical).alias("child"))
    )
    joined = frame.join(ids, on=["series_id", "driver"], nulls_equal=True, maintain_order="left")
    return joined.drop("series_id", "driver").rename({"child": "series_id"})


def _overlap(suffix: str) -> pl.Expr:
    return (pl.col("start_date") <= pl.col(f"end_date{suffix}")) & (
        pl.col("end_date") >= pl.col(f"start_date{suffix}")
    )


def _outside(children: pl.DataFrame, parents: pl.DataFrame) -> pl.DataFrame:
    """Finer events that no event of their parent series overlaps."""
    indexed = children.with_row_index("child")
    covered = (
        indexed.join(parents.select("series_id", "start_date", "end_date"), on="series_id", suffix="_p")
        .filter(_overlap("_p"))["child"]
        .implode()
    )
    return indexed.filter(~pl.col("child").is_in(covered)).drop("child")


def _largest_of_overlaps(children: pl.DataFrame) -> pl.DataFrame:
    """Per parent series, greedily keep the largest |impact| and drop what overlaps a kept event."""
    kept: dict[str, list[tuple[Any, Any]]] = {}
    keep = []
    ordered = children.with_row_index("child").sort(pl.col("impact").abs(), descending=True)
    for child, series_id, start, end in ordered.select(
        "child", "series_id", "start_date", "end_date"
    ).iter_rows():
        spans = kept.setdefault(series_id, [])
        if all(end < s or start > e for s, e in spans):
            spans.append((start, end))
            keep.append(child)
    return children.with_row_index("child").filter(pl.col("child").is_in(keep)).drop("child")
