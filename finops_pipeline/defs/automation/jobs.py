"""The jobs: ``daily_ingest_job`` (the raw layer over the restated window, then every mart built on it),
``focus_import_job`` (the FOCUS export's billing periods; ``focus_export_sensor`` starts it) and
``finops_report_job`` (the report files; the e-mail sensor mails them)."""

import dagster as dg

from finops_pipeline.defs import layers
from finops_pipeline.defs.focus.partitions import FOCUS_PARTITIONED, FOCUS_PERIODS

# The FOCUS assets are partitioned by billing period, not by day: a run of the daily window cannot hold
# them, and they change when the export does, not when Cost Explorer does.
FOCUS_SELECTION = dg.AssetSelection.assets(*FOCUS_PARTITIONED)
# Raw tables first, then every mart built from them; reports have their own job and schedule.
DAILY_SELECTION = dg.AssetSelection.groups(*layers.RAW_GROUPS, *layers.MART_GROUPS) - FOCUS_SELECTION

daily_ingest_job = dg.define_asset_job(
    name="daily_ingest_job",
    selection=DAILY_SELECTION,
    description="Cost grains over the restated window, the snapshots, and every mart built on them.",
)

focus_import_job = dg.define_asset_job(
    name="focus_import_job",
    selection=FOCUS_SELECTION,
    partitions_def=FOCUS_PERIODS,
    description="The FOCUS export's changed billing periods: focus_cost, its checks and the FOCUS marts.",
)

finops_report_job = dg.define_asset_job(
    name="finops_report_job",
    selection=dg.AssetSelection.groups(layers.REPORTS),
    description="Write the report files (CSV, JSON, Excel, Parquet, HTML); the e-mail sensor mails them.",
)
