"""Which account × region pairs a scan visits, and how their outcomes are recorded.

Shared by every per-account scan (Tagging API now, EC2 inventory later): one failing account or
region is a status row and a warning, never a failed run.
"""

from collections import Counter
from collections.abc import Sequence

import dagster as dg
import duckdb
import pyarrow as pa

from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget
from finops_pipeline.clock import utc_now
from finops_pipeline.warehouse import WarehouseResource, replace_rows, scalar

FAILED_SCANS_SQL = """
SELECT account_id, region, status, detail FROM raw.scan_status
WHERE source = ? AND status <> 'ok' ORDER BY account_id, region
"""
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


def record_scan_status(
    conn: duckdb.DuckDBPyConnection, source: str, outcomes: Sequence[ScanOutcome], items: Sequence[int]
) -> Counter[str]:
    now = utc_now()
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
            }
            for o, n in zip(outcomes, items, strict=True)
        ],
        schema=pa.schema(
            [
                ("account_id", pa.string()),
                ("region", pa.string()),
                ("source", pa.string()),
                ("status", pa.string()),
                ("detail", pa.string()),
                ("items", pa.int64()),
                ("scanned_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )
    replace_rows(conn, "raw.scan_status", rows, "source = ?", (source,))
    return Counter(o.status for o in outcomes)


def build_scan_check(asset: str | dg.AssetsDefinition, source: str, what: str) -> dg.AssetChecksDefinition:
    """WARN when any account × region of ``source`` failed, listing them: degraded, not failed."""

    @dg.asset_check(
        asset=asset,
        name="every_account_region_scanned",
        description=f"Every account × region answered {what}; failures are listed.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            failed = conn.execute(FAILED_SCANS_SQL, [source]).fetchall()
            total = scalar(conn, SCANS_SQL, [source])
        rows = "\n".join(f"| {a} | {r} | {s} | {d[:120]} |" for a, r, s, d in failed[:50])
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "failed_scans": len(failed),
                "scans": int(total or 0),
                "failed_accounts": sorted({row[0] for row in failed}),
                "failures": dg.MetadataValue.md(
                    "| account | region | status | detail |\n|---|---|---|---|\n" + rows if rows else "none"
                ),
            },
        )

    return check
