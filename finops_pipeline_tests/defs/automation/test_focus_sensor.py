"""focus_export_sensor on a local export in AWS's layout: new periods become partitions, and only the
periods whose files changed since their last import are requested, a failed or running one handled.

Each tick is the real sensor definition over a real instance; the imports are real focus_import_job
runs of the asset into a DuckDB file, so the digest the sensor compares is the one the asset recorded.
"""

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.defs.automation.jobs import focus_import_job
from finops_pipeline.defs.focus.assets import focus_cost
from finops_pipeline.defs.focus.marts import focus_showback, focus_spend_coverage
from finops_pipeline.settings import load_settings

SAMPLE = Path(__file__).parents[2] / "data" / "focus" / "focus_sample.csv"
TODAY = dt.date(2026, 11, 27)
PERIODS = ["2026-09", "2026-10"]


def _file(export: Path, period: str) -> Path:
    return export / "data" / f"BILLING_PERIOD={period}" / "finops-focus-00001.csv"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """An export folder of two billing periods, one file each (the FinOps Foundation sample's rows)."""
    root = tmp_path / "finops-focus"
    for period in PERIODS:
        _file(root, period).parent.mkdir(parents=True)
        shutil.copy(SAMPLE, _file(root, period))
    return root


def _setup(export: Path, database: Path) -> tuple[dg.SensorDefinition, dg.Definitions, dict[str, Any]]:
    settings = load_settings(
        {"FOCUS_EXPORT_URI": str(export), "FINOPS_DUCKDB_PATH": str(database)}, today=TODAY
    )
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == "focus_export_sensor"]
    resources = resources_for(settings)
    defs = dg.Definitions(
        assets=[focus_cost, focus_spend_coverage, focus_showback],
        jobs=[focus_import_job],
        resources=resources,
    )
    return sensor, defs, resources


def _tick(sensor: dg.SensorDefinition, resources: dict[str, Any], instance: dg.DagsterInstance) -> Any:
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = sensor(context)
    for request in getattr(result, "dynamic_partitions_requests", None) or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def _requested(result: Any) -> list[str]:
    return sorted(r.partition_key for r in getattr(result, "run_requests", None) or [])


def _import(defs: dg.Definitions, instance: dg.DagsterInstance, period: str) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("focus_import_job")
    return job.execute_in_process(instance=instance, partition_key=period, raise_on_error=False)


def test_new_periods_are_added_and_only_changed_ones_requested(export: Path, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    sensor, defs, resources = _setup(export, database)
    instance = dg.DagsterInstance.ephemeral()

    first = _tick(sensor, resources, instance)
    assert instance.get_dynamic_partitions("focus_billing_period") == PERIODS
    assert _requested(first) == PERIODS  # nothing imported yet

    assert _import(defs, instance, "2026-09").success
    assert _requested(_tick(sensor, resources, instance)) == ["2026-10"]
    assert _import(defs, instance, "2026-10").success
    idle = _tick(sensor, resources, instance)
    assert isinstance(idle, dg.SkipReason) and "2 billing periods" in str(idle.skip_message)

    # AWS rewrites the open period: only it is requested, and its import re-reads one file of two.
    rewritten = _file(export, "2026-10")
    rewritten.write_bytes(rewritten.read_bytes())
    os.utime(rewritten, ns=(rewritten.stat().st_atime_ns, rewritten.stat().st_mtime_ns + 10**9))
    assert _requested(_tick(sensor, resources, instance)) == ["2026-10"]
    rerun = _import(defs, instance, "2026-10")
    (observed,) = rerun.asset_observations_for_node("focus_cost")
    assert observed.metadata["files_current"].value == 1 and observed.metadata["files_read"].value == 1
    # A new period appears: added, requested alone.
    _file(export, "2026-11").parent.mkdir(parents=True)
    shutil.copy(SAMPLE, _file(export, "2026-11"))
    assert _requested(_tick(sensor, resources, instance)) == ["2026-11"]
    assert instance.get_dynamic_partitions("focus_billing_period") == [*PERIODS, "2026-11"]
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = dict(conn.execute("SELECT billing_period, count(*) FROM raw.focus_cost GROUP BY 1").fetchall())
        showback = conn.execute(
            "SELECT DISTINCT billing_period FROM marts.focus_showback ORDER BY 1"
        ).fetchall()
    assert rows == {"2026-09": 1000, "2026-10": 1000}  # 2026-11 not imported yet
    assert [p for (p,) in showback] == PERIODS


def test_a_failed_import_is_requested_again_and_a_running_one_is_left_alone(
    export: Path, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    sensor, defs, resources = _setup(export, database)
    instance = dg.DagsterInstance.ephemeral()
    _tick(sensor, resources, instance)
    assert _import(defs, instance, "2026-09").success
    # A run of 2026-10 is under way (queued by an earlier tick): not requested twice.
    job = defs.resolve_job_def("focus_import_job")
    running = instance.create_run_for_job(
        job_def=job, tags={"dagster/partition": "2026-10"}, status=dg.DagsterRunStatus.STARTED
    )
    assert isinstance(_tick(sensor, resources, instance), dg.SkipReason)
    # It dies without materializing: the next tick asks for the period again.
    instance.report_run_failed(running)
    assert _requested(_tick(sensor, resources, instance)) == ["2026-10"]
