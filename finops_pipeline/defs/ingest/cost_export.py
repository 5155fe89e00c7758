"""The per-account cost grains from the AWS Data Export where it holds the days (FINOPS_COST_DETAIL_SOURCE).

With ``data_export`` the account × service, account × usage-type and account × tag grains read every
day the export covers from its files (zero Cost Explorer requests; ``lib/focus/grains.py`` maps the
columns) and only the days it does not hold yet, normally the newest one or two before its next
delivery, from Cost Explorer.
An export day is re-read from the export on every run that covers it (free), so restatements reach the
table with the export's next delivery. When the export cannot be read (S3 refuses, a file is unreadable)
the whole window is read from Cost Explorer as without an export, and the run says why
(``detail_source_fallback``): degraded to the paid source, never to fewer days.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import CostWindowResource, FocusExportResource
from finops_pipeline.defs.focus.partitions import export_source
from finops_pipeline.defs.ingest.cost_explorer_api import CostGrain, page_rows
from finops_pipeline.lib.cost_window import estimated_since
from finops_pipeline.lib.focus.grains import FOCUS_DIMENSIONS, read_grain
from finops_pipeline.settings_fields import COST_DETAIL_SOURCES
from finops_pipeline.warehouse import Stage

LOGGER = logging.getLogger("finops_pipeline.ingest")
COST_EXPLORER, DATA_EXPORT = COST_DETAIL_SOURCES


def export_answers(grain: CostGrain) -> bool:
    """Whether the export can stand in for the grain: per account, every dimension a column (SERVICE ×
    REGION is organisation-wide and one page a day; FOCUS has no region for global lines); a tag key
    from ``Tags``."""
    return "LINKED_ACCOUNT" in grain.dimensions and all(d in FOCUS_DIMENSIONS for d in grain.dimensions)


@dataclass
class ExportRead:
    """What the export gave a run: the windows it covered, its files and bytes, or why it was not used."""

    windows: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    files: int = 0
    bytes_read: int = 0
    fallback: str = ""  # why Cost Explorer read the export's days too ('' when it did not)


def stage_export(
    aws: AwsResource,
    focus_export: FocusExportResource,
    cost_window: CostWindowResource,
    grain: CostGrain,
    tag_keys: tuple[str | None, ...],
    window: tuple[dt.date, dt.date],
    stage: Stage,
) -> ExportRead:
    """Stage the grain's rows (per tag key) of the days the export holds inside ``window``; which days."""
    wanted = focus_export.cost_detail_source == DATA_EXPORT and export_answers(grain)
    if not wanted or focus_export.uri is None:
        return ExportRead()
    source = export_source(focus_export.uri, aws)
    schema = page_rows({}, grain, tag_keys[0]).schema
    stream = stage.new_stream()

    def sink(rows: pa.Table) -> None:
        stage.append(stream, rows.rename_columns(schema.names).cast(schema))

    try:
        read = read_grain(
            source, grain.dimensions, grain.columns, window, grain.usage_only,
            estimated_since(cost_window, today_utc()), sink, tag_keys,
        )  # fmt: skip
    except (ClientError, BotoCoreError, duckdb.Error, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        LOGGER.warning(
            "%s: the Data Export could not be read (%s); Cost Explorer reads it all", grain.asset_name, reason
        )
        stage.drop(stream)  # a read that failed half way leaves nothing behind
        return ExportRead(fallback=reason)
    return ExportRead(read.windows, read.files, read.bytes_read)
