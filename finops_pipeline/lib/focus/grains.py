"""Cost Explorer's per-account daily grains read from an AWS Data Export (FOCUS 1.0 with AWS columns).

Why: at 1,000 accounts the account × service and account × usage-type grains are most of a run's Cost
Explorer pages ($0.01 each), while the export the organisation already delivers to S3 holds the same
line items for the price of an S3 read. The mapping is AWS's own (FOCUS 1.0 with AWS columns, table
dictionary, https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-0-aws-columns.html):
``SubAccountId`` is LINKED_ACCOUNT, ``ServiceName`` SERVICE, ``x_UsageType`` USAGE_TYPE, a key of ``Tags``
(the line's activated cost allocation tags) TAG, '' where the line lacks it; ``BilledCost`` is
unblended cost, ``EffectiveCost`` amortized cost, and ``BilledCost`` plus the line's ``total_discount`` in
``x_Discounts`` (the sum of its discounts, negative; Data Exports discount columns,
https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-discount.html) net unblended cost.
Cost Explorer's usage record types (Usage, DiscountedUsage, SavingsPlanCoveredUsage,
SavingsPlanNegation) are the FOCUS ``ChargeCategory`` 'Usage'. Rows are dated on the UTC day of
``ChargePeriodStart`` (hourly exports sum into their day).

An export covers its billing periods up to its last delivery: per period, from the period's first day to
the newest day with a row. ``covered_windows`` says which days of a window that is; the caller reads the
rest from Cost Explorer (the newest day or two, before the next delivery). Plain Python, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.lib.focus.source import ExportFile, ExportSource

# Cost Explorer dimension -> the FOCUS column that holds it (the grains an export can answer).
FOCUS_DIMENSIONS = {"LINKED_ACCOUNT": "SubAccountId", "SERVICE": "ServiceName", "USAGE_TYPE": "x_UsageType"}
DISCOUNT_KEY = "total_discount"

# One normalised view of a file: the columns the grains need, typed the same for Parquet and CSV.
# The commitment columns are FOCUS 1.0's (``lib/focus/commitments.py`` reads them); an export without
# them answers NULL there.
_LINES = """
SELECT ProviderName, SubAccountId, ServiceName, x_UsageType, ChargeCategory, BillingCurrency,
       {tags}
       CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart,
       CAST(BilledCost AS DECIMAL(28, 12)) AS BilledCost,
       CAST(EffectiveCost AS DECIMAL(28, 12)) AS EffectiveCost,
       CAST({discount} AS DECIMAL(28, 12)) AS Discount,
       CAST({list_cost} AS DECIMAL(28, 12)) AS ListCost,
       CAST({quantity} AS DOUBLE) AS ConsumedQuantity,
       {commitment_id} AS CommitmentDiscountId,
       {commitment_type} AS CommitmentDiscountType,
       {commitment_status} AS CommitmentDiscountStatus
FROM {reader}
"""
_OPTIONAL = {
    "list_cost": "ListCost",
    "quantity": "ConsumedQuantity",
    "commitment_id": "CommitmentDiscountId",
    "commitment_type": "CommitmentDiscountType",
    "commitment_status": "CommitmentDiscountStatus",
}
_GRAIN_SQL = """
SELECT CAST(ChargePeriodStart AS DATE) AS usage_date, {groups},
       round(sum(BilledCost), 6) AS unblended_cost,
       round(sum(EffectiveCost), 6) AS amortized_cost,
       round(sum(BilledCost + coalesce(Discount, 0)), 6) AS net_unblended_cost,
       CAST(ChargePeriodStart AS DATE) >= $estimated_from AS is_estimated,
       min(BillingCurrency) AS currency
FROM lines
WHERE ProviderName = 'AWS' AND ChargePeriodStart >= $start AND ChargePeriodStart < $end {usage}
GROUP BY ALL
"""
_COVERAGE_SQL = "SELECT max(CAST(ChargePeriodStart AS DATE)) FROM lines WHERE ProviderName = 'AWS'"


@dataclass(frozen=True)
class ExportGrain:
    """What a read gave: the windows (``[start, end)``) its rows cover whole, how many rows went to the
    sink, and the files and bytes read."""

    windows: list[tuple[dt.date, dt.date]]
    rows: int
    files: int
    bytes_read: int


def _period_start(period: str) -> dt.date:
    return dt.date.fromisoformat(f"{period}-01")


def _files_for(source: ExportSource, start: dt.date, end: dt.date) -> list[ExportFile]:
    """The current files of the billing periods that overlap ``[start, end)``."""
    first, last = start.replace(day=1), (end - dt.timedelta(days=1)).replace(day=1)
    return [
        f
        for f in source.current_files()
        if f.partition[:2].isdigit() and first <= _period_start(f.partition) <= last
    ]


def _tag(names: set[str], suffix: str, tag_key: str) -> str:
    """The expression of a line's value of ``tag_key`` ('' without it, as Cost Explorer's ``Key$``).

    ``Tags`` holds the line's user-defined cost allocation tags (a map in Parquet, JSON text in CSV);
    the settings allow only letters, digits, spaces and ``_.:/=+-@`` in a key, so it quotes safely."""
    if "Tags" not in names:
        return "''"
    if suffix == ".parquet":
        return f"coalesce(Tags['{tag_key}'], '')"
    return f"""coalesce(json_extract_string(Tags, '$."{tag_key}"'), '')"""


def _view(
    conn: duckdb.DuckDBPyConnection, paths: Sequence[tuple[Path, str]], tag_keys: Sequence[str]
) -> None:
    """``lines``: every file's rows, normalised (``x_Discounts`` and ``Tags`` are maps in Parquet, JSON
    text in CSV)."""
    parts = []
    for path, suffix in paths:
        if suffix == ".parquet":
            reader = f"read_parquet('{_quoted(path)}')"
        else:
            reader = f"read_csv('{_quoted(path)}', all_varchar = true, header = true, nullstr = ['', 'NULL'])"
        names = {row[0] for row in conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        if "x_Discounts" not in names:
            discount = "NULL"
        elif suffix == ".parquet":
            discount = f"x_Discounts['{DISCOUNT_KEY}']"
        else:
            discount = f"json_extract_string(x_Discounts, '$.{DISCOUNT_KEY}')"
        tags = "".join(f"{_tag(names, suffix, key)} AS Tag{i}, " for i, key in enumerate(tag_keys))
        optional = {field: column if column in names else "NULL" for field, column in _OPTIONAL.items()}
        parts.append(_LINES.format(reader=reader, discount=discount, tags=tags, **optional))
    conn.execute(f"CREATE OR REPLACE TEMP VIEW lines AS {' UNION ALL '.join(parts)}")


def covered_windows(
    periods: dict[str, dt.date | None], start: dt.date, end: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """The days of ``[start, end)`` the export holds: per period (``YYYY-MM`` -> its newest day with a
    row), from the period's first day through that day, cut to the window and merged where they touch."""
    windows: list[tuple[dt.date, dt.date]] = []
    for period, newest in sorted(periods.items()):
        if newest is None:
            continue
        first = _period_start(period)
        after = first_of_month_months_ago(first, -1)
        lo, hi = max(first, start), min(after, newest + dt.timedelta(days=1), end)
        if lo >= hi:
            continue
        if windows and windows[-1][1] == lo:
            windows[-1] = (windows[-1][0], hi)
        else:
            windows.append((lo, hi))
    return windows


def _monthly(windows: Sequence[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """``windows`` cut at each month's 1st: the chunks a read hands on."""
    chunks = []
    for lo, hi in windows:
        while lo < hi:
            cut = min(first_of_month_months_ago(lo, -1), hi)
            chunks.append((lo, cut))
            lo = cut
    return chunks


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def uncovered(
    windows: Sequence[tuple[dt.date, dt.date]], start: dt.date, end: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """The parts of ``[start, end)`` outside ``windows`` (sorted, disjoint): what Cost Explorer reads."""
    gaps, cursor = [], start
    for lo, hi in windows:
        if lo > cursor:
            gaps.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


@dataclass(frozen=True)
class OpenExport:
    """An export's files of a window, opened as the ``lines`` view of ``conn``, and the windows (``[start,
    end)``) of the days they hold."""

    conn: duckdb.DuckDBPyConnection
    windows: list[tuple[dt.date, dt.date]]
    files: int


@contextmanager
def open_export(
    source: ExportSource, window: tuple[dt.date, dt.date], tag_keys: Sequence[str] = ()
) -> Iterator[OpenExport | None]:
    """The export's files of the billing periods overlapping ``window``, fetched once into a temporary
    folder and opened as ``lines`` (None when the export has no file there). DuckDB spills past 2 GB,
    so memory stays bounded at any organisation size."""
    start, end = window
    files = _files_for(source, start, end)
    if not files:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="focus-grain-") as folder, duckdb.connect() as conn:
        conn.execute("SET threads TO 2")
        conn.execute("SET memory_limit = '2GB'")
        conn.execute(f"SET temp_directory = '{_quoted(Path(folder) / 'spill')}'")
        _view(conn, [(source.local_path(f, Path(folder)), f.suffix) for f in files], tag_keys)
        newest: dict[str, dt.date | None] = {}
        for period in sorted({f.partition for f in files}):
            newest[period] = conn.execute(
                f"{_COVERAGE_SQL} AND ChargePeriodStart >= $lo AND ChargePeriodStart < $hi",
                {"lo": _period_start(period), "hi": first_of_month_months_ago(_period_start(period), -1)},
            ).fetchall()[0][0]
        yield OpenExport(conn, covered_windows(newest, start, end), len(files))


def read_grain(
    source: ExportSource,
    dimensions: Sequence[str],
    columns: Sequence[str],
    window: tuple[dt.date, dt.date],
    usage_only: bool,
    estimated_from: dt.date,
    sink: Callable[[pa.Table], None],
    tag_keys: Sequence[str | None] = (None,),
) -> ExportGrain:
    """The grain's rows of the days the export covers inside ``window``, and those days.

    ``estimated_from``: the first day still estimated (a bill not final yet), as Cost Explorer marks it.
    ``tag_keys``: one stream per key, grouped by its value too (in the last of ``columns``, '' untagged,
    and the key in ``tag_key``); ``(None,)`` for a grain without tags. The files are fetched once; the
    rows go to ``sink`` a key and a month at a time (a month of 1,000 accounts' usage types is about a
    million rows), and DuckDB spills past 2 GB, so memory stays bounded at any organisation size.
    Raises ``duckdb.Error`` on an unreadable file and botocore's errors on an S3 refusal: the caller then
    reads the window from Cost Explorer and says so.
    """
    missing = [d for d in dimensions if d not in FOCUS_DIMENSIONS]
    if missing:
        raise ValueError(f"a Data Export has no column for the Cost Explorer dimension(s) {missing}")
    before = source.bytes_read
    keys = [k for k in tag_keys if k is not None]
    with open_export(source, window, keys) as export:
        if export is None:
            return ExportGrain([], 0, 0, 0)
        named = [f"{FOCUS_DIMENSIONS[d]} AS {c}" for d, c in zip(dimensions, columns, strict=False)]
        usage = "AND ChargeCategory = 'Usage'" if usage_only else ""
        rows = 0
        for key in tag_keys:
            tag = [f"Tag{keys.index(key)} AS {columns[-1]}"] if key is not None else []
            sql = _GRAIN_SQL.format(groups=", ".join(named + tag), usage=usage)
            for lo, hi in _monthly(export.windows):
                part = export.conn.sql(sql, params={"start": lo, "end": hi, "estimated_from": estimated_from})
                table = part.to_arrow_table()
                if key is not None:
                    table = table.append_column("tag_key", pa.array([key] * table.num_rows, pa.string()))
                sink(table)
                rows += table.num_rows
    return ExportGrain(export.windows, rows, export.files, source.bytes_read - before)
