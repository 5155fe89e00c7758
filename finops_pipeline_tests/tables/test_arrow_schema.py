"""``Table.arrow_schema()``: the registry's one mapping of DuckDB types to pyarrow, checked against DuckDB."""

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from finops_pipeline import tables
from finops_pipeline.tables.arrow import arrow_type

PRODUCT = Path(tables.__file__).parents[1]
# Where the product may build a pyarrow schema: the registry's arrow_schema, and the one frame that is no
# table's shape (fan_out's failed targets, joined in SQL).
SCHEMA_BUILDERS = {"tables/model.py": 1, "lib/fan_out.py": 1}
# JSON travels as a string: DuckDB reads it as VARCHAR and casts it into the JSON column on insert.
ARROW_SPELLING = {"JSON": "VARCHAR"}


def describe(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in conn.execute(f"DESCRIBE {relation}").fetchall()]


@pytest.mark.parametrize("t", tables.TABLES, ids=lambda t: t.name)
def test_arrow_schema_round_trips_through_duckdb(t: tables.Table) -> None:
    """Created from the registry's DDL, the table takes an arrow table of ``arrow_schema()`` BY NAME, and
    DuckDB reads that arrow table as the registry's columns, in order, with the registry's types."""
    conn = duckdb.connect()
    conn.execute(f"CREATE SCHEMA {t.layer}; {t.create_sql()}")
    schema = t.arrow_schema()
    incoming = schema.empty_table()
    conn.register("incoming", incoming)
    conn.execute(f"INSERT INTO {t.name} BY NAME SELECT * FROM incoming")
    registry = describe(conn, t.name)
    as_read = describe(conn, "incoming")
    assert [name for name, _ in registry] == [c.name for c in t.columns] == schema.names
    assert as_read == [(name, ARROW_SPELLING.get(kind, kind)) for name, kind in registry]


def test_arrow_schema_excludes_columns_the_sql_fills_in() -> None:
    t = tables.table("raw.tagged_resources")
    schema = t.arrow_schema(exclude=("stale_since", "stale_reason"))
    assert schema.names == [c.name for c in t.columns if not c.name.startswith("stale_")]
    with pytest.raises(ValueError, match="no columns"):
        t.arrow_schema(exclude=("stale_snice",))


@pytest.mark.parametrize(
    ("duckdb_type", "expected"),
    [
        ("TIMESTAMP WITH TIME ZONE", pa.timestamp("us", tz="UTC")),
        ("TIMESTAMP", pa.timestamp("us")),
        ("DECIMAL(18,2)", pa.decimal128(18, 2)),
        ("MAP(VARCHAR, VARCHAR)", pa.map_(pa.string(), pa.string())),
        (
            'STRUCT("key" VARCHAR, n BIGINT)[]',
            pa.list_(pa.struct([("key", pa.string()), ("n", pa.int64())])),
        ),
    ],
)
def test_types_no_table_uses_yet(duckdb_type: str, expected: pa.DataType) -> None:
    assert arrow_type(duckdb_type) == expected
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE t (c {duckdb_type})")
    conn.register("incoming", pa.schema([("c", expected)]).empty_table())
    conn.execute("INSERT INTO t BY NAME SELECT * FROM incoming")
    assert describe(conn, "incoming") == describe(conn, "t")


def test_an_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="no pyarrow type for DuckDB type 'HUGEINT'"):
        arrow_type("HUGEINT")


def test_no_table_is_declared_twice() -> None:
    """Issue #12: an arrow table a table's rows travel in takes its schema from the registry."""
    declared = {
        path.relative_to(PRODUCT).as_posix(): path.read_text().count("pa.schema(")
        for path in PRODUCT.rglob("*.py")
    }
    assert {path: n for path, n in declared.items() if n} == SCHEMA_BUILDERS
