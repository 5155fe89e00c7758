"""What a warehouse table is, and the SQL that creates it: the registry's building blocks.

Keys are enforced by asset checks, not PRIMARY KEY constraints, so a partition window can be deleted and
re-inserted inside one transaction. A column added after its table shipped is marked ``added``: warehouses
made by older versions get it from ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (nullable there: existing
rows have no value), new ones from the ``CREATE TABLE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from finops_pipeline.tables.arrow import arrow_type


@dataclass(frozen=True)
class Column:
    """One column: its DuckDB type as DDL spells it, and what a SQL user needs to know about it."""

    name: str
    type: str
    description: str = ""
    not_null: bool = False
    default: str | None = None
    added: bool = False

    def ddl(self) -> str:
        constraint = " NOT NULL" if self.not_null else ""
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{self.name} {self.type}{constraint}{default}"


@dataclass(frozen=True)
class Table:
    """One table of the warehouse contract (GUIDE §3).

    ``asset`` is the asset whose materializations describe the table (``dagster/*`` metadata) and whose
    checks guard its key; None for a table several assets share. ``blocking``: a duplicate key would
    multiply rows in a mart built from it, so the key check stops downstream assets in the same run.
    ``freshness``: SQL giving the newest DATE the table holds, for a freshness check. ``created_by_asset``:
    made by its asset's first run, not by every connection, so reports can tell "not run yet" from "empty".
    ``optional_source``: (resource key, attribute) of the setting that makes the table's source optional;
    while it is None the table is expected empty, so its freshness check passes ("not configured").
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    asset: str | None = None
    blocking: bool = False
    freshness: str | None = None
    created_by_asset: bool = False
    optional_source: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names) or not set(self.key) <= set(names):
            raise ValueError(f"{self.name}: duplicate column names or a key column that does not exist")

    @property
    def layer(self) -> str:
        """raw, marts or meta: the DuckDB schema the table lives in."""
        return self.name.split(".", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]

    def create_sql(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with every column, then the migrations of older warehouses."""
        columns = ",\n".join(f"    {c.ddl()}" for c in self.columns)
        migrations = "".join(
            f"\nALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {c.name} {c.type};"
            for c in self.columns
            if c.added
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n{columns}\n);{migrations}"

    def arrow_schema(self, *, exclude: Iterable[str] = ()) -> pa.Schema:
        """The pyarrow schema of the table's columns, in its order, for the arrow tables an asset inserts
        ``BY NAME``. ``exclude``: columns the SQL fills in, not the arrow table (a name it lacks: ValueError).
        """
        left_out = set(exclude)
        if unknown := left_out - {c.name for c in self.columns}:
            raise ValueError(f"{self.name} has no columns {sorted(unknown)} to exclude")
        return pa.schema(
            [pa.field(c.name, arrow_type(c.type)) for c in self.columns if c.name not in left_out]
        )


STALE_COLUMNS = (  # what a scanned table keeps for the rows of a failed account × region (issue #14)
    Column(
        "stale_since",
        "TIMESTAMPTZ",
        "NULL: seen by the last scan; else kept from the last good one",
        added=True,
    ),
    Column(
        "stale_reason",
        "VARCHAR",
        "why the last scan of its account × region (× operation) failed",
        added=True,
    ),
)


@dataclass(frozen=True)
class Scan:
    """A fan-out of ``asset`` over accounts × regions, recorded as ``source`` in raw.scan_status: its
    ``every_account_region_scanned`` check lists the targets that failed ``what``."""

    asset: str
    source: str
    what: str
