"""Parquet, one file per dataset: typed columns (dates, doubles, booleans) for analysis tools.

Parquet is data, not a spreadsheet: values are written exactly as in the warehouse (no apostrophe
prefix), with the dataset's column kinds and the report period in the file's key-value metadata.
"""

from __future__ import annotations

import json
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from finops_pipeline.lib.reporting.datasets import Dataset


def write_parquet(dataset: Dataset, report: dict[str, Any], handle: IO[bytes]) -> None:
    metadata = {
        b"finops.dataset": dataset.name.encode(),
        b"finops.report": json.dumps(report, default=str).encode(),
        b"finops.column_kinds": json.dumps(dataset.kinds).encode(),
    }
    table: pa.Table = dataset.table.replace_schema_metadata(metadata)
    pq.write_table(table, handle, compression="zstd")
