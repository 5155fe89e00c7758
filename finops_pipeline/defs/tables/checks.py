"""The checks every registered table gets from its registry entry: a unique key, freshness, and
for a fan-out (``tables.SCANS``) that every account × region answered.

A key check blocks (stops the downstream assets of the same run) where the registry says a duplicate
would multiply rows in a mart built from the table.
"""

import datetime as dt

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.lib.fan_out import FAILED_SCANS_SQL, SCANS_SQL
from finops_pipeline.tables import Scan, Table
from finops_pipeline.warehouse import WarehouseResource, scalar

DUPLICATE_KEYS_SQL = "SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1)"


def key_check_name(table: Table) -> str:
    """``no_duplicate_keys`` on the asset's own table; an asset writing several names the others."""
    primary = tables.asset_table(table.asset) is table if table.asset else True
    return "no_duplicate_keys" if primary else f"no_duplicate_keys_in_{table.short_name}"


def _key_check(table: Table) -> dg.AssetChecksDefinition:
    """Each key of ``table`` appears once (the asset's checks in the UI count the duplicates)."""

    @dg.asset_check(
        asset=table.asset,
        name=key_check_name(table),
        description=f"Each ({', '.join(table.key)}) of {table.name} appears once"
        + (": blocking, a duplicate would multiply a mart's rows." if table.blocking else "."),
        blocking=table.blocking,
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            duplicates = scalar(conn, DUPLICATE_KEYS_SQL.format(table=table.name, keys=", ".join(table.key)))
        return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_keys": int(duplicates)})

    return check


def _freshness_check(table: Table) -> dg.AssetChecksDefinition:
    """WARN when the newest data of ``table`` (its registry ``freshness`` expression) is over a day old.

    An empty table whose optional source (registry ``optional_source``) is not configured is not stale:
    nothing is expected of it.
    """
    optional = table.optional_source

    @dg.asset_check(
        asset=table.asset,
        name="fresher_than_a_day",
        description="The newest data is at most one day old.",
        required_resource_keys={"warehouse", *([optional[0]] if optional else [])},
    )
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with context.resources.warehouse.connect() as conn:
            newest: dt.date | None = scalar(conn, f"SELECT {table.freshness} FROM {table.name}")
        unset = optional is not None and getattr(getattr(context.resources, optional[0]), optional[1]) is None
        if newest is None and unset:
            return dg.AssetCheckResult(passed=True, metadata={"newest": "None", "source_configured": False})
        age = None if newest is None else (utc_now().date() - newest).days
        return dg.AssetCheckResult(
            passed=age is not None and age <= 1,
            severity=dg.AssetCheckSeverity.WARN,
            # no age when the table is empty: unknown is left out, never plotted as a number
            metadata={"newest": str(newest), **({} if age is None else {"age_days": age})},
        )

    return check


def _scan_check(scan: Scan) -> dg.AssetChecksDefinition:
    """WARN when any account × region of ``source`` failed, listing them: degraded, not failed.

    Each failed target is ``stale`` (its last good rows are kept) or ``missing`` (it never answered).
    """

    @dg.asset_check(
        asset=scan.asset,
        name="every_account_region_scanned",
        description=f"Every account × region answered {scan.what}; failures are listed.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            failed = conn.execute(FAILED_SCANS_SQL, [scan.source]).fetchall()
            total = scalar(conn, SCANS_SQL, [scan.source])
        rows = "\n".join(f"| {a} | {r} | {s} | {k} | {d[:120]} |" for a, r, s, d, k in failed[:50])
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "failed_scans": len(failed),
                "scans": int(total or 0),
                "failed_accounts": sorted({row[0] for row in failed}),
                "stale_targets": sorted(f"{a}/{r}" for a, r, _, _, k in failed if k == "stale"),
                "missing_targets": sorted(f"{a}/{r}" for a, r, _, _, k in failed if k == "missing"),
                "failures": dg.MetadataValue.md(
                    "| account | region | status | data | detail |\n|---|---|---|---|---|\n" + rows
                    if rows
                    else "none"
                ),
            },
        )

    return check


def build_table_checks() -> list[dg.AssetChecksDefinition]:
    """The checks of the registry: key and freshness per table, the scan check per fan-out."""
    owned = [t for t in tables.TABLES if t.asset]
    return [
        *(_key_check(t) for t in owned if t.key),
        *(_freshness_check(t) for t in owned if t.freshness),
        *(_scan_check(scan) for scan in tables.SCANS),
    ]
