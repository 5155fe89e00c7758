"""CSV, one file per dataset: UTF-8 with a BOM (Excel then reads accents right), RFC 4180 quoting,
ISO dates, full-precision numbers, and text neutralised against formula injection."""

from __future__ import annotations

from typing import IO

import polars as pl
import pyarrow as pa

from finops_pipeline.lib.reporting.safety import neutralise_table

BOM = "\ufeff".encode()


def write_csv(table: pa.Table, handle: IO[bytes]) -> None:
    frame = pl.from_arrow(neutralise_table(table))
    assert isinstance(frame, pl.DataFrame)
    handle.write(BOM)
    frame.write_csv(handle, quote_style="necessary", date_format="%Y-%m-%d", line_terminator="\r\n")
