"""``commitment_usage`` from the AWS Data Export where it holds the days (FINOPS_COST_DETAIL_SOURCE).

With ``data_export`` the utilization and coverage of every day the export covers come from its files
(``lib/focus/commitments.py``: zero Cost Explorer requests, every account every day, so Savings Plans
coverage is per account on every run). The days before the export's first delivered day, or in a period
it lacks, are read from Cost Explorer as without an export. The newest day or two it has not delivered
yet are not read from Cost Explorer: at 1,000 accounts that would cost a request per day and kind and
the organisation's coverage, most of a daily refresh's bill, for figures AWS itself settles a day late;
they come with the next delivery, and the run says how many days wait for it (``days_awaiting_export``;
the table's freshness check warns while they do). When the export cannot be read, the whole window is
read from Cost Explorer and the run says why (``detail_source_fallback``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.config_resources import FocusExportResource
from finops_pipeline.defs.focus.partitions import export_source
from finops_pipeline.lib.focus.commitments import ExportCommitments, read_commitments
from finops_pipeline.lib.focus.grains import uncovered
from finops_pipeline.settings_fields import COST_DETAIL_SOURCES
from finops_pipeline.warehouse import WarehouseResource

LOGGER = logging.getLogger("finops_pipeline.ingest")
DATA_EXPORT = COST_DETAIL_SOURCES[1]
INVENTORY_SQL = """
SELECT resource_arn, commitment_type, instance_count, hourly_commitment, start_date, end_date
FROM raw.commitment_inventory
"""


@dataclass
class ExportedCommitments:
    """What the export gave a run: its rows (None when not used), the spans Cost Explorer reads instead,
    the trailing days waiting for the next delivery, and why the export was not used ('' when it was)."""

    read: ExportCommitments | None = None
    ce_spans: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    awaiting_days: int = 0
    fallback: str = ""


def read_export(
    aws: AwsResource, warehouse: WarehouseResource, focus_export: FocusExportResource,
    window: tuple[dt.date, dt.date],
) -> ExportedCommitments | None:  # fmt: skip
    """The window's figures from the export, and what Cost Explorer reads; None without an export."""
    if focus_export.cost_detail_source != DATA_EXPORT or focus_export.uri is None:
        return None
    with warehouse.connect() as conn:
        inventory = conn.sql(INVENTORY_SQL).to_arrow_table()
    try:
        read = read_commitments(export_source(focus_export.uri, aws), window, inventory)
    except (ClientError, BotoCoreError, duckdb.Error, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        LOGGER.warning(
            "commitment_usage: the Data Export could not be read (%s); Cost Explorer reads it", reason
        )
        return ExportedCommitments(ce_spans=[window], fallback=reason)
    if read is None or not read.windows:
        return ExportedCommitments(ce_spans=[window])
    gaps = uncovered(read.windows, *window)
    newest = read.windows[-1][1]
    awaiting = sum((hi - lo).days for lo, hi in gaps if lo >= newest)
    return ExportedCommitments(read, [g for g in gaps if g[0] < newest], awaiting)


def in_schema(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """The export's rows in the registry's schema (an empty read has no columns)."""
    return rows.select(schema.names).cast(schema) if rows.num_columns else schema.empty_table()
