"""The checks every registered table gets from its registry entry: a unique key, and freshness.

A key check blocks (stops the downstream assets of the same run) where the registry says a duplicate
would multiply rows in a mart built from the table.
"""

import datetime as dt

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.tables import Table
from finops_pipeline.warehouse import WarehouseResource, scalar

DUPLICATE_KEYS_SQL = "SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1)"


def key_check_name(table: Table) -> str:
    """``no_duplicate_keys`` on the asset's own table; an asset writing several names the others."""
    primary = tables.asset_table(table.asset) is table if table.asset else True
    return "no_duplicate_keys" if primary else f"no_duplicate_keys_in_{table.short_name}"


def build_key_check(table: Table) -> dg.AssetChecksDefinition:
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


def build_freshness_check(table: Table) -> dg.AssetChecksDefinition:
    """WARN when the newest data of ``table`` (its registry ``freshness`` expression) is over a day old."""

    @dg.asset_check(
        asset=table.asset, name="fresher_than_a_day", description="The newest data is at most one day old."
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            newest: dt.date | None = scalar(conn, f"SELECT {table.freshness} FROM {table.name}")
        age = None if newest is None else (utc_now().date() - newest).days
        return dg.AssetCheckResult(
            passed=age is not None and age <= 1,
            severity=dg.AssetCheckSeverity.WARN,
            # no age when the table is empty: unknown is left out, never plotted as a number
            metadata={"newest": str(newest), **({} if age is None else {"age_days": age})},
        )

    return check


def build_table_checks() -> list[dg.AssetChecksDefinition]:
    owned = [t for t in tables.TABLES if t.asset]
    return [
        *(build_key_check(t) for t in owned if t.key),
        *(build_freshness_check(t) for t in owned if t.freshness),
    ]
