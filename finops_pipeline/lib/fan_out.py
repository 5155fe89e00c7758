"""Which account × region pairs a scan visits, and how their outcomes are recorded.

Shared by every per-account scan (Tagging API, EC2 inventory): one failing account, region or operation
is a status row and a warning, never a failed run, and never fewer rows: the failed target's last good
rows stay, marked stale (``stale_since``, ``stale_reason``), so the marts count them as unknown instead
of losing them.
"""

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget
from finops_pipeline.clock import utc_now
from finops_pipeline.warehouse import replace_rows, scalar, transaction

FAILED_SCANS_SQL = """
SELECT account_id, region, status, detail, CASE WHEN last_ok_at IS NULL THEN 'missing' ELSE 'stale' END
FROM raw.scan_status WHERE source = ? AND status NOT IN ('ok', 'region_not_enabled')
ORDER BY account_id, region
"""
# When each target of a source last answered ok (rows from before last_ok_at existed: their scanned_at).
LAST_OK_SQL = """
SELECT account_id, region, coalesce(last_ok_at, CASE WHEN status = 'ok' THEN scanned_at END)
FROM raw.scan_status WHERE source = ?
"""
# Not a table: the failed targets of one scan, joined in SQL to mark the rows it keeps (no registry entry).
FAILED_TARGETS_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("region", pa.string()), ("reason", pa.string())]
)
Failures = Mapping[tuple[str, str], str]  # (account, region) -> why its scan failed
SCANS_SQL = "SELECT count(*) FROM raw.scan_status WHERE source = ?"
ACTIVE_ACCOUNTS_SQL = """
SELECT account_id FROM raw.aws_accounts WHERE status = 'ACTIVE' ORDER BY is_management DESC, account_id
"""


def scan_targets(conn: duckdb.DuckDBPyConnection, aws: AwsResource) -> list[ScanTarget]:
    if aws.single_account_mode:
        accounts = [aws.caller_account_id()]
    else:
        accounts = [row[0] for row in conn.execute(ACTIVE_ACCOUNTS_SQL).fetchall()]
    return [ScanTarget(account, region) for account in accounts for region in aws.scan_regions]


def failures_of(outcomes: Sequence[ScanOutcome]) -> dict[tuple[str, str], str]:
    """The targets whose scan failed, with the status and detail that say why.

    A region the account has not enabled did not fail: it holds nothing, so no row of it is kept stale.
    """
    return {
        (o.target.account_id, o.target.region): f"{o.status}: {o.detail}"
        for o in outcomes
        if o.status not in ("ok", "region_not_enabled")
    }


def replace_scanned_rows(
    conn: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, failed: Failures, now: dt.datetime
) -> int:
    """Replace ``table`` with this scan's ``rows``, keeping the last good rows of the ``failed`` targets.

    Kept rows get ``stale_since`` (when the failures began: an earlier value is kept) and ``stale_reason``;
    a kept ARN that the scan found fresh elsewhere (a global resource seen in another region) gives way.
    Targets no longer scanned (closed account, region removed) lose their rows, as before. Atomic.
    Returns the number of kept (stale) rows.
    """
    failed_rows = pa.Table.from_pylist(
        [{"account_id": a, "region": r, "reason": why} for (a, r), why in failed.items()],
        schema=FAILED_TARGETS_SCHEMA,
    )
    conn.register("failed_targets", failed_rows)
    conn.register("incoming_rows", rows)
    try:
        with transaction(conn):
            conn.execute(
                f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM failed_targets f "
                "WHERE f.account_id = t.account_id AND f.region = t.region) "
                "OR t.resource_arn IN (SELECT resource_arn FROM incoming_rows)"
            )
            conn.execute(
                f"UPDATE {table} t SET stale_since = coalesce(t.stale_since, ?), stale_reason = f.reason "
                "FROM failed_targets f WHERE f.account_id = t.account_id AND f.region = t.region",
                [now],
            )
            kept = scalar(conn, f"SELECT count(*) FROM {table}")
            if rows.num_rows:
                conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
    finally:
        conn.unregister("incoming_rows")
        conn.unregister("failed_targets")
    return int(kept or 0)


def record_scan_status(
    conn: duckdb.DuckDBPyConnection, source: str, outcomes: Sequence[ScanOutcome], items: Sequence[int]
) -> Counter[str]:
    """One row per target; a failed target carries the time it last answered ok (NULL: never)."""
    now = utc_now()
    last_ok = {(a, r): at for a, r, at in conn.execute(LAST_OK_SQL, [source]).fetchall()}
    rows = pa.Table.from_pylist(
        [
            {
                "account_id": o.target.account_id,
                "region": o.target.region,
                "source": source,
                "status": o.status,
                "detail": o.detail,
                "items": n,
                "scanned_at": now,
                "last_ok_at": now
                if o.status == "ok"
                else last_ok.get((o.target.account_id, o.target.region)),
            }
            for o, n in zip(outcomes, items, strict=True)
        ],
        schema=tables.table("raw.scan_status").arrow_schema(),
    )
    replace_rows(conn, "raw.scan_status", rows, "source = ?", (source,))
    return Counter(o.status for o in outcomes)
