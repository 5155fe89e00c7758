"""The pyarrow type of each DuckDB type the registry spells, so arrow tables are shaped by the registry.

One mapping: an asset builds its arrow table with ``Table.arrow_schema()`` instead of re-declaring the
columns. JSON travels as a string (DuckDB casts it on insert). A type not listed here is an error, not a
guess: add it here when a table first uses it.
"""

from __future__ import annotations

import re

import pyarrow as pa

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
SCALARS: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "JSON": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": UTC_TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": UTC_TIMESTAMP,
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
}
DECIMAL = re.compile(r"DECIMAL\(\s*(\d+)\s*,\s*(\d+)\s*\)")
FIELD = re.compile(r'("(?:[^"]|"")+"|\w+)\s+(.+)', re.DOTALL)


def _top_level(items: str) -> list[str]:
    """``a, b(c, d), e`` -> ``['a', 'b(c, d)', 'e']``: split on the commas outside brackets and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(items):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(items[start:i].strip())
            start = i + 1
    return [*parts, items[start:].strip()]


def _struct_field(spec: str, whole: str) -> pa.Field:
    found = FIELD.fullmatch(spec)
    if found is None:
        raise ValueError(f"unreadable STRUCT field {spec!r} in DuckDB type {whole!r}")
    name = found[1][1:-1].replace('""', '"') if found[1].startswith('"') else found[1]
    return pa.field(name, arrow_type(found[2]))


def arrow_type(duckdb_type: str) -> pa.DataType:
    """The pyarrow type of a DuckDB type as the registry spells it; ValueError for one not mapped."""
    spelled = duckdb_type.strip()
    upper = spelled.upper()
    if upper in SCALARS:
        return SCALARS[upper]
    if spelled.endswith("[]"):
        return pa.list_(arrow_type(spelled[:-2]))
    if decimal := DECIMAL.fullmatch(upper):
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    if upper.startswith("MAP(") and spelled.endswith(")"):
        args = _top_level(spelled[4:-1])
        if len(args) == 2:
            return pa.map_(arrow_type(args[0]), arrow_type(args[1]))
    if upper.startswith("STRUCT(") and spelled.endswith(")"):
        return pa.struct([_struct_field(spec, spelled) for spec in _top_level(spelled[7:-1])])
    raise ValueError(
        f"no pyarrow type for DuckDB type {duckdb_type!r}: add it to finops_pipeline/tables/arrow.py"
    )
