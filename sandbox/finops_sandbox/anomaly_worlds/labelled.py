"""What an evaluation world hands the scorer: series, their labelled anomalies and their traps.

Shared by both world families, so that neither imports the other: family B
(``holdout_family``) is kept independent of family A (``recurrence_traps``) and of the sandbox
world (``finops_sandbox.world``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

LABEL_SCHEMA = {"series_id": pl.Utf8, "kind": pl.Utf8, "start_date": pl.Date, "end_date": pl.Date}
TRAP_SCHEMA = {"series_id": pl.Utf8, "trap": pl.Utf8, "learn_until": pl.Date}


@dataclass(frozen=True)
class LabelledSeries:
    """Series to score, their labelled anomalies, and the trap (if any) each series carries."""

    series: pl.DataFrame  # series_id, group, date, cost
    labels: pl.DataFrame  # LABEL_SCHEMA
    traps: pl.DataFrame  # TRAP_SCHEMA
