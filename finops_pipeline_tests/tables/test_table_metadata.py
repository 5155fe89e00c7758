"""Acceptance: after a real run, every asset that writes a table describes it as DuckDB holds it."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline import tables
from finops_pipeline.defs.focus.partitions import FOCUS_PARTITIONED
from finops_pipeline_tests.focus_support import focus_export
from finops_pipeline_tests.pipeline_fixtures import run_focus_import, run_pipeline, step_failures

WRITES_NO_TABLE = {"finops_report", "aws_access_health", "cost_overview"}  # files, a verdict, metadata


def duckdb_type(declared: str) -> str:
    """How DuckDB spells a declared type (``DECIMAL(18, 6)`` -> ``DECIMAL(18,6)``)."""
    return duckdb.sql(f"SELECT typeof(NULL::{declared})").fetchall()[0][0]


def test_every_table_asset_carries_the_schema_and_row_count_of_its_table(
    tmp_path: Path,
    project: Path,
    pipeline_env_for: Callable[..., dict[str, str]],
    sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = tmp_path / "finops.duckdb"
    env = pipeline_env_for(database)
    # The FOCUS import reads the sandbox's Data Export, so focus_cost and its marts have rows too.
    instance = dg.DagsterInstance.ephemeral()
    with focus_export(env, sandbox.world) as uri:
        monkeypatch.setenv("FOCUS_EXPORT_URI", uri)
        focus = run_focus_import(instance=instance)  # its billing periods first, as the demo runs it
        result = run_pipeline(instance=instance)
    assert focus is not None and focus.success, step_failures(focus)
    assert result.success, step_failures(result)
    from finops_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    described = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if "dagster/column_schema" in graph.get(key).metadata
    }
    everything = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert described == everything - WRITES_NO_TABLE == {t.asset for t in tables.TABLES if t.asset}
    with duckdb.connect(str(database), read_only=True) as conn:
        for asset in sorted(described):
            table = tables.asset_table(asset)
            metadata = graph.get(dg.AssetKey(asset)).metadata
            assert metadata["dagster/table_name"] == table.name
            schema = metadata["dagster/column_schema"]
            schema = getattr(schema, "schema", schema)
            schema_name, table_name = table.name.split(".")
            in_duckdb = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [schema_name, table_name],
            ).fetchall()
            assert [(c.name, duckdb_type(c.type)) for c in schema.columns] == in_duckdb, asset
            events = (focus if asset in FOCUS_PARTITIONED else result).asset_materializations_for_node(asset)
            (rows,) = conn.execute(f"SELECT count(*) FROM {table.name}").fetchone()
            if events[-1].partition is None:
                assert events[-1].metadata["dagster/row_count"].value == rows, asset
            else:  # a partition (a day, a billing period) counts its own rows: a full run's add up
                assert sum(e.metadata["dagster/row_count"].value for e in events) == rows, asset
            assert rows > 0 or asset in {"ce_anomalies"}, asset
    # A partitioned asset's window figures (what `make demo` prints for it) are the whole window's.
    (window,) = [o.metadata for o in result.asset_observations_for_node("commitment_usage")]
    with duckdb.connect(str(database), read_only=True) as conn:
        total, used = conn.execute(
            "SELECT sum(total_commitment), sum(used_commitment) FROM raw.commitment_utilization"
        ).fetchone()
    assert window["commitment_usd"].value == float(round(total, 2)) > 0
    assert window["utilization_pct"].value == float(round(100 * used / total, 2))
