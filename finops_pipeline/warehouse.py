"""The DuckDB warehouse: schema, short-lived connections and the writes every asset shares.

DuckDB lets one process write and blocks every other one, so connections live only inside
``with warehouse.connect()`` blocks, and every replace happens in one transaction: a failed run
leaves the earlier rows in place.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from dagster_duckdb import DuckDBResource
from pydantic import Field

from finops_pipeline.aws_session import CallCount
from finops_pipeline.clock import utc_now

SCHEMA_SQL = resources.files("finops_pipeline").joinpath("sql/schema.sql").read_text()


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(SCHEMA_SQL)


class WarehouseLockedError(RuntimeError):
    """Another process held the DuckDB file for longer than FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS."""


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def open_with_lock_timeout(
    database: str, timeout_s: float, config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` waiting at most ``timeout_s`` for another process's lock, then naming the holder."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(database, read_only=False, config=config or {})
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseLockedError(
                    f"The warehouse {database} is locked by another process and stayed locked for "
                    f"{timeout_s:g} s (DuckDB allows one writing process). DuckDB says: {exc}. "
                    "Fix: wait for that run (or the open notebook / duckdb shell holding it) to finish, or "
                    "stop it; open the file read_only=True for ad-hoc queries; raise "
                    "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS to wait longer."
                ) from exc
            time.sleep(min(delay, remaining))  # bounded lock-retry backoff, not a synchronisation wait
            delay = min(delay * 2, 1.0)


class WarehouseResource(DuckDBResource):
    """The warehouse file; ``connect()`` creates its folder and schema on first use.

    A file locked by another process is retried for ``lock_timeout_seconds``
    (FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS), then :class:`WarehouseLockedError` names the file, the holder
    DuckDB reports and the fix.
    """

    lock_timeout_seconds: float = Field(default=30.0, ge=0)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        config = {"custom_user_agent": "dagster", **self.connection_config}
        conn = open_with_lock_timeout(self.database, self.lock_timeout_seconds, config)
        try:
            ensure_schema(conn)
            yield conn
        finally:
            conn.close()


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: a failure inside the block leaves the earlier rows in place."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def replace_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: pa.Table,
    where_sql: str = "true",
    params: Sequence[Any] = (),
) -> int:
    """Delete the rows ``where_sql`` selects and insert ``rows``, atomically."""
    with transaction(conn):
        conn.execute(f"DELETE FROM {table} WHERE {where_sql}", list(params))
        if rows.num_rows:
            conn.register("incoming_rows", rows)
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
            conn.unregister("incoming_rows")
    return rows.num_rows


def replace_date_window(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: pa.Table,
    start: dt.date,
    end: dt.date,
    date_column: str = "usage_date",
) -> int:
    """Replace ``[start, end)``: the idempotent write of a daily-partitioned asset."""
    return replace_rows(conn, table, rows, f"{date_column} >= ? AND {date_column} < ?", (start, end))


def record_api_calls(
    conn: duckdb.DuckDBPyConnection, run_id: str, asset_key: str, counts: Sequence[CallCount]
) -> None:
    rows = pa.Table.from_pylist(
        [
            {
                "run_id": run_id,
                "asset_key": asset_key,
                "service": c.service,
                "operation": c.operation,
                "calls": c.calls,
                "pages": c.pages,
                "estimated_cost_usd": c.estimated_cost_usd,
                "recorded_at": utc_now(),
            }
            for c in counts
        ]
    )
    replace_rows(conn, "meta.api_call_log", rows, "run_id = ? AND asset_key = ?", (run_id, asset_key))


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(sql, list(params)).fetchone()
    return None if row is None else row[0]
