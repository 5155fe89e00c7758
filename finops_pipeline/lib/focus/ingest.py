"""Read the changed files of a FOCUS export into ``raw.focus_cost``, validating what the marts need.

Each file is staged as text (CSV) or as written (Parquet), its columns cast to the registry's types with
``TRY_CAST``, and checked: a required column missing, a required value empty, a value that does not
parse, a ``ChargeCategory`` outside FOCUS 1.0's list or ``Tags`` that is not a JSON object. A file with
any of these is refused as a whole and labelled in ``raw.focus_files`` (with row numbers): loading only
its good rows would make the totals silently smaller, and its earlier good rows, if any, are kept. A file
the export no longer lists (its period was rewritten) takes its rows with it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from finops_pipeline import tables
from finops_pipeline.lib.focus.source import ExportFile, ExportSource, period_digest
from finops_pipeline.warehouse import transaction

# FOCUS 1.0 ChargeCategory allowed values (FOCUS 1.0 specification, column ChargeCategory).
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
# What the marts and the reconcile check read: a file without one of these is refused.
REQUIRED = (
    "ProviderName",
    "SubAccountId",
    "BillingPeriodStart",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ServiceName",
)
_OWN = ("billing_period", "source_file", "row_id", "ingested_at")
MAX_ROWS_NAMED = 5


@dataclass
class IngestSummary:
    """What one run did, for the asset's metadata."""

    files_current: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    rows_loaded: int = 0
    bytes_read: int = 0
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # file, status, detail
    digests: dict[str, str] = field(default_factory=dict)  # per period read: ``period_digest``


def _focus_columns() -> list[tables.Column]:
    return [c for c in tables.table("raw.focus_cost").columns if c.name not in _OWN]


def _typed(column: tables.Column, source: str | None, source_type: str | None) -> str:
    """The SQL giving ``column`` from the staged file's column ``source`` (None: the file lacks it)."""
    if source is None:
        return f"CAST(NULL AS {column.type})"
    ref = f'"{source}"'
    if column.type.startswith("DECIMAL"):
        return f"TRY_CAST({ref} AS {column.type})"
    if column.type == "TIMESTAMP":
        # Text without an offset is UTC (the connection's zone is set to UTC); with one, it is converted.
        return f"timezone('UTC', TRY_CAST({ref} AS TIMESTAMPTZ))"
    if column.type == "DOUBLE":
        return f"TRY_CAST({ref} AS DOUBLE)"
    if column.type == "JSON":
        if source_type and source_type.startswith("MAP"):  # AWS's Parquet writes Tags as a map
            return f"CAST(to_json({ref}) AS JSON)"
        return f"CASE WHEN json_valid({ref}) AND json_type({ref}) = 'OBJECT' THEN CAST({ref} AS JSON) END"
    return f"CAST({ref} AS VARCHAR)"


def _stage(conn: duckdb.DuckDBPyConnection, path: Path, suffix: str) -> dict[str, tuple[str, str]]:
    """Load the file into ``focus_stage``; its columns as {lower name: (name, type)}."""
    reader = (
        f"read_parquet('{_quoted(path)}')"
        if suffix == ".parquet"
        else f"read_csv('{_quoted(path)}', all_varchar = true, header = true, nullstr = ['', 'NULL'])"
    )
    conn.execute(f"CREATE OR REPLACE TEMP TABLE focus_stage AS SELECT * FROM {reader}")
    described = conn.execute("DESCRIBE focus_stage").fetchall()
    return {name.lower(): (name, type_) for name, type_, *_ in described}


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _problems(
    conn: duckdb.DuckDBPyConnection, exprs: dict[str, str], found: dict[str, tuple[str, str]]
) -> str:
    """What is malformed in ``focus_stage``, per column with the first row numbers; '' when nothing."""
    checks = []
    for column in _focus_columns():
        name, typed = column.name, exprs[column.name]
        source = found.get(name.lower())
        if source is None:
            continue
        raw = f'"{source[0]}"'
        if name in REQUIRED:
            checks.append((f"{name} empty", f"{raw} IS NULL"))
        if column.type != "VARCHAR":
            checks.append(
                (
                    f"{name} not a valid {column.type.split('(')[0].lower()}",
                    f"{raw} IS NOT NULL AND {typed} IS NULL",
                )
            )
    allowed = ", ".join(f"'{c}'" for c in CHARGE_CATEGORIES)
    checks.append(
        (
            "ChargeCategory not one of " + "/".join(CHARGE_CATEGORIES),
            f"{exprs['ChargeCategory']} NOT IN ({allowed})",
        )
    )
    selects = ", ".join(
        f"count(*) FILTER (WHERE {cond}), "
        f"list(rowid + 1 ORDER BY rowid) FILTER (WHERE {cond})[1:{MAX_ROWS_NAMED}]"
        for _, cond in checks
    )
    answer = conn.execute(f"SELECT {selects} FROM focus_stage").fetchone() or ()
    found_problems = []
    for i, (what, _) in enumerate(checks):
        count, rows = answer[2 * i], answer[2 * i + 1]
        if count:
            more = ", ..." if count > len(rows) else ""
            found_problems.append(f"{count} rows {what} (rows {', '.join(map(str, rows))}{more})")
    return "; ".join(found_problems)


def read_file(
    conn: duckdb.DuckDBPyConnection, path: Path, file: ExportFile, now: dt.datetime
) -> tuple[str, str | None, int | None]:
    """Load one file's rows in place of its earlier ones: (status, detail, rows)."""
    try:
        found = _stage(conn, path, file.suffix)
    except duckdb.Error as exc:
        return "unreadable", str(exc).splitlines()[0][:300], None
    missing = [name for name in REQUIRED if name.lower() not in found]
    if missing:
        return "missing_columns", f"no column {', '.join(missing)}", None
    exprs = {c.name: _typed(c, *(found.get(c.name.lower()) or (None, None))) for c in _focus_columns()}
    problems = _problems(conn, exprs, found)
    if problems:
        return "malformed", problems, None
    selects = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    period = "coalesce(?, strftime(BillingPeriodStart, '%Y-%m'))"
    with transaction(conn):
        conn.execute("DELETE FROM raw.focus_cost WHERE source_file = ?", [file.uri])
        conn.execute(
            f"INSERT INTO raw.focus_cost BY NAME SELECT {period} AS billing_period, ? AS source_file, "
            f"CAST(rowid + 1 AS VARCHAR) AS row_id, ? AS ingested_at, * EXCLUDE (rowid) "
            f"FROM (SELECT rowid, {selects} FROM focus_stage)",
            [file.billing_period, file.uri, now],
        )
    (rows,) = conn.execute("SELECT count(*) FROM raw.focus_cost WHERE source_file = ?", [file.uri]).fetchone()
    return "ok", None, int(rows)


def ingest_export(
    conn: duckdb.DuckDBPyConnection,
    source: ExportSource,
    now: dt.datetime,
    periods: Collection[str] | None = None,
) -> IngestSummary:
    """Re-read the files whose fingerprint changed (or that were refused), drop those the export dropped.

    ``periods``: the billing periods (partitions) this run owns; files of other periods, current or gone,
    are left as they are (None: every period).
    """
    conn.execute("SET TimeZone = 'UTC'")
    summary = IngestSummary()
    known = {
        uri: (fingerprint, status, period)
        for uri, fingerprint, status, period in conn.execute(
            "SELECT source_file, fingerprint, status, billing_period FROM raw.focus_files"
        ).fetchall()
    }
    listed = source.current_files({uri: (fp, period) for uri, (fp, _, period) in known.items()})
    files = [f for f in listed if periods is None or f.partition in periods]
    summary.files_current = len(files)
    for period in periods if periods is not None else {f.partition for f in files}:
        summary.digests[period] = period_digest([f for f in files if f.partition == period])
    current = {f.uri for f in files}
    gone = sorted(
        uri
        for uri, (*_, period) in known.items()
        if uri not in current and (periods is None or period in periods)
    )
    if gone:
        with transaction(conn):
            for table_name in ("raw.focus_cost", "raw.focus_files"):
                conn.execute(f"DELETE FROM {table_name} WHERE source_file IN (SELECT unnest(?))", [gone])
    summary.files_removed = len(gone)
    with tempfile.TemporaryDirectory(prefix="focus-") as folder:
        for file in files:
            if known.get(file.uri, ())[:2] == (file.fingerprint, "ok"):
                summary.files_unchanged += 1
                continue
            path = source.local_path(file, Path(folder))
            status, detail, rows = read_file(conn, path, file, now)
            if path.parent == Path(folder):
                path.unlink()
            summary.files_read += 1
            summary.rows_loaded += rows or 0
            if status != "ok":
                summary.refused.append((file.uri, status, detail or ""))
            _record(conn, file, status, detail, rows, now)
    conn.execute("DROP TABLE IF EXISTS focus_stage")
    summary.bytes_read = source.bytes_read
    return summary


def _record(
    conn: duckdb.DuckDBPyConnection,
    file: ExportFile,
    status: str,
    detail: str | None,
    rows: int | None,
    now: dt.datetime,
) -> None:
    """Upsert the file's status row; a refused file keeps the last_ok_at of its earlier good read."""
    last_ok = (
        now
        if status == "ok"
        else conn.execute(
            "SELECT last_ok_at FROM raw.focus_files WHERE source_file = ?", [file.uri]
        ).fetchone()
    )
    with transaction(conn):
        conn.execute("DELETE FROM raw.focus_files WHERE source_file = ?", [file.uri])
        conn.execute(
            "INSERT INTO raw.focus_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                file.uri,
                file.partition,
                file.fingerprint,
                file.size,
                status,
                detail,
                rows,
                now,
                last_ok if status == "ok" else (last_ok[0] if last_ok else None),
            ],
        )
