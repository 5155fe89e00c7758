"""The labelled candidate events the anomaly classifier is fitted on (issue #15; confirmation.py).

For every tuning world the detector's statistical stages run with their default parameters
(``candidate_events``: nothing confirmed yet) on the series and, in family A, on the account ×
usage-type drill-down; each candidate event's features (``confirmation.FEATURES``) are computed and
it is labelled an anomaly when it overlaps a labelled anomaly of its series (the evaluation's own
matching). Trap series' events before their pattern could be learnt are left out, as the evaluation
leaves them out.

Tuning worlds only: family A's seeds 11-40 (``sandbox``) and family C's seeds 11-40
(``realistic``, ``finops_sandbox.anomaly_worlds.realistic_family``, written apart from both other
families). Never family A's held-out seeds 1-5, never family B (``independent``).

    .venv/bin/python bench/anomaly_training.py [--worlds sandbox:11-40,realistic:11-40] [--out PATH]

Rebuild it whenever the statistical stages change: ``finops_pipeline_tests/lib/anomalies/
test_confirmation.py`` re-derives one world's rows and fails when the file is stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies.confirmation import FEATURES, TRAINING_FILE, event_features
from finops_pipeline.lib.anomalies.detector import candidate_events
from finops_pipeline.lib.anomalies.evaluation import overlapping, scored_part
from finops_sandbox.anomaly_worlds.labelled import LabelledSeries

WORLDS = "sandbox:11-40,realistic:11-40"
WARM_UP_DAYS = 28  # as bench/anomaly_eval.py: events ending in the first four weeks are not scored
TUNING_FAMILIES = ("sandbox", "realistic")
_CHILD = "\x1f"


def world(family: str, seed: int) -> tuple[LabelledSeries, pl.DataFrame | None]:
    """One tuning world's labelled series and (family A) its drill-down, as the evaluation builds them."""
    if family not in TUNING_FAMILIES:
        raise SystemExit(f"--worlds: family {family!r} is not a tuning family ({', '.join(TUNING_FAMILIES)})")
    from anomaly_eval import other_case, sandbox_case  # bench/ is the script's own folder

    case, drill, _ = sandbox_case(seed) if family == "sandbox" else other_case(family, seed)
    return case, drill


def overlaps_label(events: pl.DataFrame, labels: pl.DataFrame) -> np.ndarray:
    """Per event: does it overlap a labelled anomaly of its series (the evaluation's matching)."""
    hit = overlapping(events.with_row_index("event"), labels)["event"]
    return np.isin(np.arange(events.height), hit.to_numpy())


def world_rows(family: str, seed: int) -> pl.DataFrame:
    """The labelled candidate events of one world: its series' and its drill-down's."""
    case, drill = world(family, seed)
    start = case.series["date"].min() + dt.timedelta(days=WARM_UP_DAYS)
    levels = [("series", case.series, case.traps)]
    if drill is not None:
        child_ids = pl.col("series_id").cast(pl.Utf8) + _CHILD + pl.col("driver").cast(pl.Utf8)
        levels.append(("drilldown", drill.with_columns(child_ids.alias("series_id")).drop("driver"), None))
    frames = []
    for level, series, traps in levels:
        events, matrix = candidate_events(series)
        # New series are always reported, never judged (confirmation.confirmed): not fitted on.
        events = events.filter((pl.col("end_date") >= start) & (pl.col("kind") != "new_series"))
        features = event_features(events, matrix)
        parents = events.with_columns(pl.col("series_id").str.split(_CHILD).list.first())
        if traps is not None:
            keep = scored_part(parents.with_row_index("i"), traps)["i"].to_numpy()
            parents, features = parents[keep], features[keep]
        frames.append(
            pl.DataFrame(features, schema=list(FEATURES), orient="row").with_columns(
                pl.Series("anomaly", overlaps_label(parents, case.labels)),
                pl.lit(family).alias("family"),
                pl.lit(seed, pl.Int64).alias("seed"),
                pl.lit(level).alias("level"),
                parents["series_id"],
                parents["start_date"],
                parents["direction"],
            )
        )
    return pl.concat(frames)


def parse_worlds(text: str) -> list[tuple[str, int]]:
    """``family:first-last,...`` as (family, seed) pairs."""
    out = []
    for part in text.split(","):
        family, _, seeds = part.partition(":")
        first, _, last = seeds.partition("-")
        if not first.isdigit() or not (last or first).isdigit():
            raise SystemExit(f"--worlds: {part!r} is not family:first-last (e.g. sandbox:11-40)")
        out += [(family, s) for s in range(int(first), int(last or first) + 1)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=WORLDS)
    parser.add_argument("--out", default=str(TRAINING_FILE))
    args = parser.parse_args()
    started = time.perf_counter()
    table = pl.concat([world_rows(family, seed) for family, seed in parse_worlds(args.worlds)])
    table.write_parquet(args.out, compression="zstd")
    counts = table.group_by("family", "anomaly").len().sort("family", "anomaly")
    print(counts)
    print(f"{table.height} candidate events -> {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
