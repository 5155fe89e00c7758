"""A run killed with SIGKILL mid-step: the next launch on the same instance completes, tables identical.

Without recovery the dead run stays STARTED and keeps the only ``duckdb`` pool slot (and, under the daemon,
the only queue slot): every later run waits forever. Here the killed run is found dead by its pid, failed,
its slots freed, and the relaunch gives the tables of a run that was never interrupted — once through
``finops recover-runs`` (a CLI launch, no daemon) and once through the daemon's ``dead_run_sensor``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster._core.events import DagsterEventType

from finops_pipeline.lib.run_recovery import fail_dead_runs, worker_pid
from finops_pipeline_tests.conftest import SANDBOX_AS_OF, finops_cli
from finops_pipeline_tests.pipeline_fixtures import running_daemon, write_workspace
from finops_sandbox.faults import Faults

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START = SANDBOX_AS_OF.replace(day=1).isoformat()
END = SANDBOX_AS_OF.isoformat()
ASSET = "ce_cost_daily"
RANGE_TAGS = {"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END}
TABLE_SQL = f"SELECT * FROM raw.{ASSET} ORDER BY ALL"
LAUNCH = f"""
import dagster as dg
from finops_pipeline.definitions import defs
job = defs().resolve_implicit_global_asset_job_def().get_subset(asset_selection={{dg.AssetKey("{ASSET}")}})
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(
        instance=instance,
        tags={RANGE_TAGS!r},
        raise_on_error=False,
    )
raise SystemExit(0 if result.success else 1)
"""


def wait_for(predicate: Callable[[], Any], what: str, seconds: float = 120) -> Any:
    """Readiness polling of another process's state, bounded in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def step_started(instance: dg.DagsterInstance) -> str | None:
    """The run id of a run whose cost step has started, once it has."""
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_START):
            if entry.step_key == ASSET:
                return run.run_id
    return None


def held_slots(instance: dg.DagsterInstance) -> int:
    return len(instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots)


def table(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(TABLE_SQL).fetchall()


@pytest.fixture
def slow_world(
    request: pytest.FixtureRequest,
    sandbox_factory: Any,
    pipeline_env_for: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """An instance of its own (the project's dagster.yaml), and a sandbox slow enough to kill a step in."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    # Slow enough that the CLI test's single step is still running when it is killed. The daemon's run
    # is the whole daily job, still running long after its cost step starts: no latency, so that the
    # relaunch it waits for takes about 35 s, not 80.
    endpoint = sandbox_factory(faults=Faults(latency_ms=400 if "cli" in request.node.name else 0))
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, endpoint, DAGSTER_HOME=str(home))
    monkeypatch.chdir(tmp_path)
    with dg.DagsterInstance.get() as instance:  # create the storage once: every process then shares it
        instance.get_runs(limit=1)
    yield {"home": home, "database": database, "tmp": tmp_path}


def launch() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", LAUNCH], start_new_session=True)


def test_a_killed_cli_run_is_recovered_and_the_next_launch_completes(slow_world: dict[str, Any]) -> None:
    assert subprocess.run([sys.executable, "-c", LAUNCH], check=False, timeout=240).returncode == 0
    expected = table(slow_world["database"])
    assert expected  # a clean run's rows, to compare the recovered run with

    first = launch()
    with dg.DagsterInstance.get() as instance:
        run_id = wait_for(lambda: step_started(instance), "the cost step to start")
        assert worker_pid(instance, run_id) == first.pid
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        run = instance.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.STARTED  # what Dagster alone would keep forever
        assert held_slots(instance) == 1  # ... with the only duckdb slot
    assert table(slow_world["database"]) == expected  # the kill left the committed data intact

    done = finops_cli("recover-runs")
    assert done.returncode == 0 and f"run {run_id} " in done.stdout and "is gone" in done.stdout
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert held_slots(instance) == 0
        assert fail_dead_runs(instance) == []  # nothing left to do; live and finished runs are untouched
    assert subprocess.run([sys.executable, "-c", LAUNCH], check=False, timeout=240).returncode == 0
    assert table(slow_world["database"]) == expected


@pytest.mark.slow
def test_under_the_daemon_a_killed_run_is_failed_and_the_queue_moves_on(
    slow_world: dict[str, Any], tmp_path: Path, sandbox: Any
) -> None:
    workspace = write_workspace(tmp_path)
    job = [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "daily_ingest_job"]
    job += ["--tags", json.dumps(RANGE_TAGS)]
    with running_daemon(workspace, tmp_path, tmp_path / "daemon.log"):
        with dg.DagsterInstance.get() as instance:
            launched = subprocess.run(job, capture_output=True, text=True, timeout=120, check=False)
            assert launched.returncode == 0, launched.stderr[-3000:]
            run_id = wait_for(lambda: step_started(instance), "the daemon's run to reach the cost step", 180)
            pid = wait_for(lambda: worker_pid(instance, run_id), "the run worker's pid")
            os.kill(pid, signal.SIGKILL)
            second = subprocess.run(job, capture_output=True, text=True, timeout=120, check=False)
            assert second.returncode == 0, second.stderr[-3000:]
            finished = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
            wait_for(
                lambda: instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE,
                "the dead_run_sensor to fail the killed run",
                150,
            )
            runs = wait_for(
                lambda: [
                    r for r in instance.get_runs(limit=2) if r.run_id != run_id and r.status in finished
                ],
                "the queued run to finish",
                240,
            )
            daemon_log = (tmp_path / "daemon.log").read_text()[-3000:]
            assert runs[0].status == dg.DagsterRunStatus.SUCCESS, daemon_log
            assert held_slots(instance) == 0
        with duckdb.connect(str(slow_world["database"]), read_only=True) as conn:
            total = conn.execute(
                f"SELECT sum(unblended_cost) FROM raw.{ASSET} WHERE usage_date BETWEEN ? AND ?", [START, END]
            ).fetchone()[0]
        truth = sum(
            r["amount"]
            for r in sandbox.world.truth_totals("DAILY", [], "UnblendedCost").to_pylist()
            if START <= r["period_start"].isoformat() <= END
        )
        assert total == truth  # the relaunched run's figures, to the micro-dollar
