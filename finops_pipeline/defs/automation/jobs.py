"""The jobs: ``daily_ingest_job`` (the raw layer over the restated window, then every mart built on it)
and ``finops_report_job`` (the report files; the e-mail sensor mails them)."""

import dagster as dg

from finops_pipeline.defs import layers

# Raw tables first, then every mart built from them; reports have their own job and schedule.
DAILY_SELECTION = dg.AssetSelection.groups(*layers.RAW_GROUPS, *layers.MART_GROUPS)

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest_job",
    selection=DAILY_SELECTION,
    description="Cost grains over the restated window, the snapshots, and every mart built on them.",
)


finops_report_job = dg.define_asset_job(
    name="finops_report_job",
    selection=dg.AssetSelection.groups(layers.REPORTS),
    description="Write the report files (CSV, JSON, Excel, Parquet, HTML); the e-mail sensor mails them.",
)
