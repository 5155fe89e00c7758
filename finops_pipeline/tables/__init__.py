"""The table registry: every warehouse table once, with its columns, key and the asset that writes it.

The DDL, the ``dagster/*`` table metadata of the assets, the key-uniqueness checks, the demo summary and
the pyarrow schemas of the arrow tables the assets insert (``Table.arrow_schema``) are all derived from
``TABLES``; a new table or column is declared here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from finops_pipeline.tables.commitments import MART_COMMITMENT_TABLES, RAW_COMMITMENT_TABLES
from finops_pipeline.tables.marts import MART_TABLES, META_TABLES, VIEWS_SQL
from finops_pipeline.tables.model import Column, Scan, Table
from finops_pipeline.tables.raw import RAW_TABLES, SCANS

TABLES: tuple[Table, ...] = (
    *RAW_TABLES,
    *RAW_COMMITMENT_TABLES,
    *MART_TABLES,
    *MART_COMMITMENT_TABLES,
    *META_TABLES,
)
BY_NAME = {t.name: t for t in TABLES}
LAYERS = tuple(dict.fromkeys(t.layer for t in TABLES))

__all__ = ["BY_NAME", "SCANS", "TABLES", "Column", "Scan", "Table", "asset_table", "schema_sql", "table"]


def table(name: str) -> Table:
    """The registered table ``name`` (``raw.aws_accounts``); a KeyError names an unknown one."""
    return BY_NAME[name]


def asset_table(asset: str) -> Table:
    """The table whose ``dagster/*`` metadata ``asset`` carries: the first registered one it writes."""
    return next(t for t in TABLES if t.asset == asset)


def schema_sql() -> str:
    """The schemas, every table a connection creates (with its migrations) and the views: idempotent."""
    schemas = "".join(f"CREATE SCHEMA IF NOT EXISTS {layer};\n" for layer in LAYERS)
    creates = "\n".join(t.create_sql() for t in TABLES if not t.created_by_asset)
    return f"{schemas}{creates}\n{VIEWS_SQL}"


def column_schema(t: Table) -> dg.TableSchema:
    """The table as Dagster's catalog shows it: types, descriptions, nullability and the unique key."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                description=c.description or None,
                constraints=dg.TableColumnConstraints(nullable=not c.not_null),
            )
            for c in t.columns
        ],
        constraints=dg.TableConstraints(other=[f"unique ({', '.join(t.key)})"]) if t.key else None,
    )


def definition_metadata(asset: str) -> dict[str, Any]:
    """``dagster/table_name`` and ``dagster/column_schema`` of the table ``asset`` writes."""
    t = asset_table(asset)
    return {"dagster/table_name": t.name, "dagster/column_schema": column_schema(t)}


def row_count(conn: Any, asset: str, where_sql: str = "true", params: Sequence[Any] = ()) -> dict[str, int]:
    """``dagster/row_count``: the rows the asset's table holds after its write (``where_sql``: one part)."""
    t = asset_table(asset)
    (count,) = conn.execute(f"SELECT count(*) FROM {t.name} WHERE {where_sql}", list(params)).fetchone()
    return {"dagster/row_count": int(count)}
