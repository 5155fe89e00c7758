"""The tag compliance marts as plain functions of a DuckDB connection (assets, tests and bench share them)."""

import datetime as dt
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa

from finops_pipeline.lib.tag_rules import TagRules
from finops_pipeline.tables.inventory import RESOURCE_SCAN_SOURCES
from finops_pipeline.warehouse import transaction

SPEND_WINDOW_DAYS = 30
_SQL = resources.files("finops_pipeline.defs.compliance").joinpath("sql")
RESOURCES_SQL = _SQL.joinpath("tag_compliance_resources.sql").read_text()
SUMMARY_SQL = _SQL.joinpath("tag_compliance_summary.sql").read_text()


def _listed(values: tuple[str, ...] | None, *, lower: bool = False) -> list[str] | None:
    if values is None:
        return None
    return [v.strip(" \t\r\n").lower() for v in values] if lower else list(values)


def json_pointer(key: str) -> str:
    """The JSON pointer of a top-level key: safe for any character, unlike a JSONPath."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def register_rules(conn: duckdb.DuckDBPyConnection, rules: TagRules) -> None:
    """The rules as temp tables ``rule_keys`` and ``exempt_types`` (the SQL joins them, no Python per row)."""
    keys = pa.table(
        {
            "tag_key": pa.array(rules.required_keys, pa.string()),
            "ordinal": pa.array(range(len(rules.required_keys)), pa.int32()),
            "allowed": pa.array([rules.allowed_for(k) for k in rules.required_keys], pa.list_(pa.string())),
        }
    )
    exempt = pa.table({"pattern": pa.array(rules.exempt_resource_types, pa.string())})
    conn.register("rule_keys_in", keys)
    conn.register("exempt_types_in", exempt)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE rule_keys AS SELECT tag_key, ordinal, allowed, "
        "list_transform(allowed, lambda v: lower(trim(v, E' \\t\\r\\n'))) AS allowed_lower FROM rule_keys_in"
    )
    conn.execute("CREATE OR REPLACE TEMP TABLE exempt_types AS SELECT pattern FROM exempt_types_in")
    conn.unregister("rule_keys_in")
    conn.unregister("exempt_types_in")


def write_tag_compliance_resources(
    conn: duckdb.DuckDBPyConnection, rules: TagRules, snapshot_date: dt.date
) -> int:
    """Replace ``marts.tag_compliance_resources`` with today's evaluation of every resource."""
    register_rules(conn, rules)
    params = {
        "snapshot_date": snapshot_date,
        "case_insensitive": rules.key_case_mode == "insensitive",
        "keys": list(rules.required_keys),
        "pointers": [json_pointer(key) for key in rules.required_keys],
        "allowed": [_listed(rules.allowed_for(key)) for key in rules.required_keys],
        "allowed_lower": [_listed(rules.allowed_for(key), lower=True) for key in rules.required_keys],
        "scan_sources": list(RESOURCE_SCAN_SOURCES),
    }
    with transaction(conn):
        conn.execute("DELETE FROM marts.tag_compliance_resources")
        conn.execute(f"INSERT INTO marts.tag_compliance_resources BY NAME {RESOURCES_SQL}", params)
    return int(conn.execute("SELECT count(*) FROM marts.tag_compliance_resources").fetchall()[0][0])


def write_tag_compliance_summary(
    conn: duckdb.DuckDBPyConnection,
    rules: TagRules,
    snapshot_date: dt.date,
    window_days: int = SPEND_WINDOW_DAYS,
) -> int:
    """Replace the summary rows of ``snapshot_date`` (earlier days stay: the trend)."""
    register_rules(conn, rules)
    params = {
        "snapshot_date": snapshot_date,
        "window_days": window_days,
        "scan_sources": list(RESOURCE_SCAN_SOURCES),
    }
    with transaction(conn):
        conn.execute("DELETE FROM marts.tag_compliance_summary WHERE snapshot_date = ?", [snapshot_date])
        conn.execute(f"INSERT INTO marts.tag_compliance_summary BY NAME {SUMMARY_SQL}", params)
    return int(
        conn.execute(
            "SELECT count(*) FROM marts.tag_compliance_summary WHERE snapshot_date = ?", [snapshot_date]
        ).fetchall()[0][0]
    )


def overall(conn: duckdb.DuckDBPyConnection, snapshot_date: dt.date) -> dict[str, Any]:
    cursor = conn.execute(
        "SELECT * FROM marts.tag_compliance_summary WHERE snapshot_date = ? AND dimension = 'overall'",
        [snapshot_date],
    )
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return dict(zip(names, rows[0], strict=True)) if rows else {}


def pct(name: str, value: Any) -> dict[str, float]:
    """``{name: value}`` rounded for metadata, or nothing when unknown: a made-up number would be plotted."""
    return {} if value is None else {name: round(float(value), 2)}
