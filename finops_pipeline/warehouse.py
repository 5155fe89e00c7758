"""The DuckDB warehouse: schema, short-lived connections and the writes every asset shares.

DuckDB lets one process write and blocks every other one, so connections live only inside
``with warehouse.connect()`` blocks, and every replace happens in one transaction: a failed run
leaves the earlier rows in place.

Readers (notebooks, BI tools, ``duckdb -readonly``) would block runs if they held the warehouse
itself, so after every successful run the warehouse is copied to a **read copy** beside it
(``finops.duckdb`` → ``finops.read.duckdb``), atomically replaced: a reader holding the old copy
keeps its (unlinked) file and its lock on it, and no run ever opens the read copy.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
import pyarrow as pa
from dagster._core.events import DagsterEventType
from dagster_duckdb import DuckDBResource
from pydantic import Field

from finops_pipeline import tables
from finops_pipeline.clock import utc_now

if TYPE_CHECKING:  # aws_session claims the warehouse for its run's target (open_with_lock_timeout)
    from finops_pipeline.aws_session import CallCount

SCHEMA_SQL = tables.schema_sql()


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create (or migrate) the registry's tables: idempotent, so every connection that writes runs it."""
    conn.execute(SCHEMA_SQL)


class WarehouseLockedError(RuntimeError):
    """Another process held the DuckDB file for longer than FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS."""


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def open_with_lock_timeout(
    database: str, timeout_s: float, config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect`` waiting at most ``timeout_s`` for another process's lock, then naming the holder.

    A new file's folder is created first (``data/`` does not exist in a fresh clone): every writer, the
    run-target claim included, can be the first to open the warehouse.
    """
    Path(database).parent.mkdir(parents=True, exist_ok=True)
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
                    f"stop it; for queries open the read copy {read_copy_path(Path(database))} instead "
                    "(published after every successful run; holding it never blocks a run; a read_only "
                    "connection to the warehouse itself does); raise FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS "
                    "to wait longer."
                ) from exc
            time.sleep(min(delay, remaining))  # bounded lock-retry backoff, not a synchronisation wait
            delay = min(delay * 2, 1.0)


def read_copy_path(database: Path) -> Path:
    """Where the read copy of ``database`` is published: beside it, ``<name>.read<suffix>``."""
    return database.with_name(f"{database.stem}.read{database.suffix}")


def publish_read_copy(database: Path, lock_timeout_s: float = 30.0) -> Path:
    """Copy the warehouse to its read copy, replacing the old one atomically.

    The copy is made by DuckDB under the warehouse's own lock (``COPY FROM DATABASE``), so it is a
    consistent snapshot of committed data; it is written under a temporary name in the same folder and
    renamed into place.
    """
    target = read_copy_path(database)
    staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    conn = open_with_lock_timeout(str(database), lock_timeout_s)
    try:
        source = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"ATTACH '{staging}' AS read_copy")
        conn.execute(f'COPY FROM DATABASE "{source}" TO read_copy')
        conn.execute("DETACH read_copy")
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    os.replace(staging, target)
    return target


class WarehouseResource(DuckDBResource):
    """The warehouse file; ``connect()`` creates its folder and schema on first use.

    A file locked by another process is retried for ``lock_timeout_seconds``
    (FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS), then :class:`WarehouseLockedError` names the file, the holder
    DuckDB reports and the fix. At the end of a run in which no step failed, the read copy is
    published (``read_copy``, FINOPS_READ_COPY).
    """

    lock_timeout_seconds: float = Field(default=30.0, ge=0)
    read_copy: bool = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Publish the read copy once the run's steps are done, unless one of them failed."""
        run, instance = context.run, context.instance
        if not self.read_copy or run is None or instance is None or not Path(self.database).is_file():
            return
        if instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
            return
        try:
            target = publish_read_copy(Path(self.database), self.lock_timeout_seconds)
        except (
            duckdb.Error,
            OSError,
            WarehouseLockedError,
        ) as exc:  # the data is committed: only the copy lags
            if context.log is not None:
                context.log.warning(
                    "the read copy was not refreshed (it keeps the previous run's data): %s", exc
                )
            return
        if context.log is not None:
            context.log.info("published the warehouse's read copy %s", target)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
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


class Stage:
    """Rows written to a DuckDB file of their own as they arrive, then moved into the warehouse at once.

    A Cost Explorer answer at 1,000 accounts is millions of groups: held as pages or as Python rows
    until the write it took gigabytes. Written page by page to the stage, memory stays bounded, the
    warehouse is not held (so not locked) through a stream of many minutes, and the replace is still
    one transaction (``replace_windows``). Rows carry the stream they came from, so a stream that
    Cost Explorer makes read again from its first page drops only its own pages.
    """

    TABLE = "staged"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "stage.duckdb"
        # One page at a time goes through: a small buffer, spilled to the file, is enough.
        self._conn: duckdb.DuckDBPyConnection | None = duckdb.connect(
            str(self.path), config={"memory_limit": "256MB", "threads": "1"}
        )
        self._streams = 0
        self._created = False

    @property
    def holds_rows(self) -> bool:
        return self._created

    def new_stream(self) -> int:
        self._streams += 1
        return self._streams

    def append(self, stream: int, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        conn = self._open()
        rows = rows.append_column("stream", pa.array([stream] * rows.num_rows, pa.int32()))
        conn.register("page_rows", rows)
        if self._created:
            conn.execute(f"INSERT INTO {self.TABLE} BY NAME SELECT * FROM page_rows")
        else:
            conn.execute(f"CREATE TABLE {self.TABLE} AS SELECT * FROM page_rows")
            self._created = True
        conn.unregister("page_rows")

    def drop(self, stream: int | None = None, from_day: dt.date | None = None) -> None:
        """Drop a stream's rows (every stream's when None), or only those on and after ``from_day``."""
        if not self._created:
            return
        clauses = {"stream = ?": stream, "usage_date >= ?": from_day}
        kept = {sql: value for sql, value in clauses.items() if value is not None}
        where = " AND ".join(kept) or "true"
        self._open().execute(f"DELETE FROM {self.TABLE} WHERE {where}", list(kept.values()))

    def totals(self, column: str) -> tuple[int, Any]:
        """Rows staged and the sum of ``column``: the window's figures, read before the move."""
        if not self._created:
            return 0, 0
        count, total = self._open().execute(f"SELECT count(*), sum({column}) FROM {self.TABLE}").fetchone()
        return int(count), total or 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:
            raise RuntimeError("the stage was closed: it was already moved into the warehouse")
        return self._conn


STAGE_PREFIX = "finops-stage-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to sweep
        return True
    return True


def sweep_stages(folder: Path) -> list[Path]:
    """Remove the stages of processes that died holding them; the folders removed.

    A killed run (SIGKILL, OOM) skips its clean-up, and at 1,000 accounts a stage holds a grain's
    millions of rows: left behind, every crash would leave a gigabyte in the temp folder. A stage's
    name carries its process id; one whose process is gone is removed by the next stage made.
    """
    swept = []
    for path in folder.glob(f"{STAGE_PREFIX}*-*"):
        pid = path.name.removeprefix(STAGE_PREFIX).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            swept.append(path)
    return swept


@contextmanager
def staged() -> Iterator[Stage]:
    """A stage in a temporary folder, removed with everything in it when the block ends (and, when a
    killed process could not, by the next one: ``sweep_stages``)."""
    sweep_stages(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}{os.getpid()}-") as folder:
        stage = Stage(Path(folder))
        try:
            yield stage
        finally:
            stage.close()


def replace_windows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    stage: Stage,
    windows: Sequence[tuple[dt.date, dt.date]],
    date_column: str = "usage_date",
) -> None:
    """Replace each ``[start, end)`` of ``windows`` with the stage's rows, in one transaction.

    The stage is closed first (DuckDB opens a file once per process) and attached read-only.
    """
    if not windows:
        return
    stage.close()
    where = " OR ".join(f"({date_column} >= ? AND {date_column} < ?)" for _ in windows)
    params = [day for window in windows for day in window]
    if not stage.holds_rows:
        replace_rows(conn, table, pa.table({}), where, params)
        return
    quoted = str(stage.path).replace("'", "''")
    conn.execute(f"ATTACH '{quoted}' AS stage (READ_ONLY)")
    try:
        with transaction(conn):
            conn.execute(f"DELETE FROM {table} WHERE {where}", params)
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * EXCLUDE (stream) FROM stage.{Stage.TABLE}")
    finally:
        conn.execute("DETACH stage")


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
