"""The sandbox's FOCUS export in S3 through the pipeline: ingested, reconciled with Cost Explorer, restated.

boto3 reads the export from moto S3 over HTTP (the pipeline's aws resource), DuckDB reads the Parquet; the
reconcile check compares it with the Cost Explorer ingest of the same world (raw.ce_cost_daily).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import duckdb
import pytest

from finops_pipeline.lib.focus.reconcile import reconcile
from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.focus_support import withdraw_focus_export
from finops_pipeline_tests.pipeline_fixtures import run_focus_import, step_failures
from finops_sandbox.data_exports import DataExport
from finops_sandbox.server import Sandbox
from finops_sandbox.world import build_world

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def export(sandbox: Sandbox) -> Iterator[DataExport]:
    """The export in the session sandbox for this module, withdrawn after (a bucket the world lacks)."""
    env = sandbox.env()
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    exported = DataExport(s3, "finops-focus-ingest")
    exported.publish(sandbox.world)
    yield exported
    withdraw_focus_export(env, exported.bucket)


def _run(
    warehouse: Path, export: DataExport, env_for: Callable[..., dict[str, str]]
) -> dg.ExecuteInProcessResult:
    env_for(warehouse, FOCUS_EXPORT_URI=export.uri)
    result = run_focus_import(["focus_cost"])
    assert result is not None and result.success, step_failures(result)
    return result


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The run's figures (one observation; each period's own are on its materialization)."""
    (observed,) = result.asset_observations_for_node("focus_cost")
    return {k: v.value for k, v in observed.metadata.items()}


def _per_period(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    return {m.partition: m.metadata[key].value for m in result.asset_materializations_for_node("focus_cost")}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_export_ingests_and_reconciles_with_cost_explorer(
    warehouse_copy: Path,
    export: DataExport,
    pipeline_env_for: Callable[..., dict[str, str]],
    sandbox: Sandbox,
) -> None:
    result = _run(warehouse_copy, export, pipeline_env_for)
    checks = _checks(result)
    reconciled = checks["focus_matches_cost_explorer"]
    assert reconciled.passed, reconciled.metadata["largest_differences"]
    assert reconciled.metadata["differences"].value == 0
    assert checks["every_focus_file_loaded"].passed
    metadata = _metadata(result)
    assert metadata["billing_periods"] == 14 and metadata["files_refused"] == 0
    truth = sandbox.world.truth_totals("MONTHLY")
    expected = sum(Decimal(str(v)) for v in truth.column("amount").to_pylist()).quantize(CENT)
    assert Decimal(str(metadata["table_aws_billed_cost_usd"])).quantize(CENT) == expected
    assert metadata["aws_requests"] > 0  # ListObjectsV2 pages, GetObject per manifest and data file
    # One partition per billing period, each with its own month's total from the sandbox's truth.
    months = {r["period_start"].strftime("%Y-%m"): r["amount"] for r in truth.to_pylist()}
    billed = _per_period(result, "aws_billed_cost_usd")
    assert sorted(billed) == sorted(months) and len(billed) == 14
    assert all(Decimal(str(billed[m])) == Decimal(str(months[m])).quantize(CENT) for m in months)
    rows = _per_period(result, "dagster/row_count")
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        assert rows == dict(
            conn.execute("SELECT billing_period, count(*) FROM raw.focus_cost GROUP BY 1").fetchall()
        )


def test_a_changed_cent_is_named(
    warehouse_copy: Path, export: DataExport, pipeline_env_for: Callable[..., dict[str, str]]
) -> None:
    _run(warehouse_copy, export, pipeline_env_for)
    with duckdb.connect(str(warehouse_copy)) as conn:
        day, account, service = conn.execute(
            "SELECT CAST(ChargePeriodStart AS DATE), SubAccountId, ServiceName FROM raw.focus_cost "
            "WHERE BilledCost > 1 ORDER BY ALL LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE raw.focus_cost SET BilledCost = BilledCost + 0.01 WHERE rowid = (SELECT min(rowid) "
            "FROM raw.focus_cost WHERE CAST(ChargePeriodStart AS DATE) = ? AND SubAccountId = ? "
            "AND ServiceName = ?)",
            [day, account, service],
        )
        result = reconcile(conn)
    assert [(d, a, s) for d, a, s, *_ in result.differences] == [(day, account, service)]
    billed, unblended = result.differences[0][3:5]
    assert Decimal(billed) - Decimal(unblended) == CENT


def test_a_restated_period_rereads_only_its_files(
    warehouse_copy: Path,
    export: DataExport,
    pipeline_env_for: Callable[..., dict[str, str]],
    sandbox: Sandbox,
) -> None:
    first = _metadata(_run(warehouse_copy, export, pipeline_env_for))
    next_day = build_world(sandbox_config(as_of=sandbox.world.config.as_of + dt.timedelta(days=1)))
    try:
        (period,) = export.publish(next_day)
        second = _metadata(_run(warehouse_copy, export, pipeline_env_for))
    finally:
        export.publish(sandbox.world)
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        restated = conn.execute(
            "SELECT sum(BilledCost) FROM raw.focus_cost WHERE billing_period = ?", [period]
        ).fetchone()[0]
        read_again = conn.execute(
            "SELECT count(*) FROM raw.focus_files WHERE billing_period = ?", [period]
        ).fetchone()[0]
    truth = next_day.truth_totals("MONTHLY").to_pylist()
    month = dt.date.fromisoformat(f"{period}-01")
    expected = next(r["amount"] for r in truth if r["period_start"] == month)
    assert restated.quantize(CENT) == Decimal(expected).quantize(CENT)
    assert second["files_read"] == read_again >= 1
    assert second["files_unchanged"] == first["files_current"] - read_again
    assert second["bytes_read"] < first["bytes_read"] / 3


def test_without_an_export_there_is_no_period_and_the_focus_checks_say_nothing_was_compared(
    warehouse_copy: Path, pipeline_env_for: Callable[..., dict[str, str]]
) -> None:
    """No FOCUS_EXPORT_URI: no billing period to import, and an empty focus_cost is neither stale nor
    35,000 differences from Cost Explorer (the checks as the full-history run holds them)."""
    from finops_pipeline.definitions import defs

    pipeline_env_for(warehouse_copy)
    instance = dg.DagsterInstance.ephemeral()
    assert run_focus_import(instance=instance) is None
    assert instance.get_dynamic_partitions("focus_billing_period") == []
    job = defs().resolve_implicit_global_asset_job_def()
    checks_only = job.get_subset(
        asset_selection=set(),
        asset_check_selection={
            dg.AssetCheckKey(dg.AssetKey("focus_cost"), name)
            for name in ("fresher_than_a_day", "focus_matches_cost_explorer")
        },
    )
    result = checks_only.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success, step_failures(result)
    checks = _checks(result)
    fresh, reconciled = checks["fresher_than_a_day"], checks["focus_matches_cost_explorer"]
    assert fresh.passed and fresh.metadata["source_configured"].value is False
    assert reconciled.passed and reconciled.metadata["groups_compared"].value == 0
    assert reconciled.metadata["ce_unblended_usd"].value == 0.0
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM raw.ce_cost_daily").fetchone()[0] > 0  # CE was there
