"""The raw-table checks on a real ingest: reconciliation with Cost Explorer, keys, freshness."""

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.defs.tables.checks import build_table_checks
from finops_pipeline.warehouse import WarehouseResource

RECONCILIATION = dg.AssetCheckKey(dg.AssetKey("ce_cost_daily"), "last_month_matches_cost_explorer")


def reconcile(database: Path, pipeline_env_for: Any) -> dg.AssetCheckEvaluation:
    """Run only the reconciliation check, as Dagster runs it (a real run with its run id)."""
    from finops_pipeline.definitions import defs

    pipeline_env_for(database)
    job = defs().resolve_implicit_global_asset_job_def()
    job = job.get_subset(asset_selection=set(), asset_check_selection={RECONCILIATION})
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_last_month_reconciles_to_the_cent_with_one_request(
    ingested_warehouse: Path, tmp_path: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    result = reconcile(database, pipeline_env_for)
    month = first_of_month_months_ago(sandbox.world.config.as_of, 1)
    truth = next(
        r["amount"]
        for r in sandbox.world.truth_totals("MONTHLY", [], "UnblendedCost").to_pylist()
        if r["period_start"] == month
    )
    assert result.passed
    assert result.metadata["month"].value == month.isoformat()[:7]
    assert result.metadata["difference_usd"].value == 0
    assert round(result.metadata["cost_explorer_usd"].value, 2) == round(float(truth), 2)
    assert result.metadata["ce_requests"].value == 1


def test_a_wrong_cent_fails_and_a_partial_month_is_skipped_for_free(
    ingested_warehouse: Path, tmp_path: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    month = first_of_month_months_ago(sandbox.world.config.as_of, 1)
    with duckdb.connect(str(database)) as conn:
        conn.execute(
            "UPDATE raw.ce_cost_daily SET unblended_cost = unblended_cost + 0.01 "
            "WHERE (usage_date, account_id, service) IN "
            "(SELECT usage_date, account_id, service FROM raw.ce_cost_daily WHERE usage_date = ? LIMIT 1)",
            [month],
        )
    failed = reconcile(database, pipeline_env_for)
    assert not failed.passed
    assert round(failed.metadata["difference_usd"].value, 6) == 0.01

    with duckdb.connect(str(database)) as conn:
        conn.execute("DELETE FROM raw.ce_cost_daily WHERE usage_date = ?", [month + dt.timedelta(days=3)])
    skipped = reconcile(database, pipeline_env_for)
    assert skipped.passed
    assert "not fully loaded" in skipped.metadata["skipped"].value
    assert "ce_requests" not in skipped.metadata


def test_duplicate_keys_are_counted(ingested_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    check = next(
        c
        for c in build_table_checks()
        if dg.AssetCheckKey(dg.AssetKey("ce_cost_daily"), "no_duplicate_keys") in c.check_keys
    )
    warehouse = WarehouseResource(database=str(database))
    assert check(warehouse=warehouse).passed
    with duckdb.connect(str(database)) as conn:
        conn.execute("INSERT INTO raw.ce_cost_daily SELECT * FROM raw.ce_cost_daily LIMIT 2")
    result = check(warehouse=warehouse)
    assert not result.passed
    assert result.metadata["duplicate_keys"].value == 2
