"""``daily_ingest_job``: the raw layer over the restated window, then every mart built on it."""

import dagster as dg

from finops_pipeline.defs import layers

# Raw tables first, then every mart built from them; reports have their own job and schedule.
DAILY_SELECTION = dg.AssetSelection.groups(*layers.RAW_GROUPS, *layers.MART_GROUPS)

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest_job",
    selection=DAILY_SELECTION,
    description="Cost grains over the restated window, the snapshots, and every mart built on them.",
)
