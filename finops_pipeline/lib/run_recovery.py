"""Dead runs: a run whose process is gone is marked failed, and its pool and queue slots are freed.

A run whose process dies (``kill -9``, an OOM kill, a node restart) stays STARTED in Dagster's storage. It
keeps the only ``duckdb`` pool slot and the only queue slot (``dagster.yaml``: one run at a time), so every
later run waits with "Step blocked by limit for pool duckdb" or stays QUEUED, and nothing says why.

Dagster's run monitoring fails such runs only when the run launcher can check its workers' health, and
the DefaultRunLauncher cannot (``supports_check_run_worker_health`` is False); a CLI launch
(``dg launch``, ``python -m finops_pipeline.demo``) has no daemon at all. So this module does it for both:
a run is dead when its worker's pid (which Dagster records in the run's engine events, "Executing steps
in process (pid: N)") no longer exists on this machine. It is called by the ``dead_run_sensor`` under the
daemon, by ``finops runs recover`` and by the Makefile's ``demo`` and ``ui`` targets.

Pids only mean something on the machine that started them: recovery acts only on instances whose run
storage is a local SQLite file (``make ui``, the CLI, the demo). With a shared database (Postgres, as in
``deploy/dagster.production.yaml``) run monitoring's ``max_runtime_seconds`` and the launcher's own health
checks are the tools; see the README.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

from finops_pipeline.processes import process_alive

IN_PROGRESS = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)


@dataclass(frozen=True)
class DeadRun:
    run_id: str
    job_name: str
    pid: int


def is_local(instance: dg.DagsterInstance) -> bool:
    """Whether run pids in this instance are pids of this machine (a local SQLite run storage)."""
    storage = getattr(instance.run_storage, "_storage", instance.run_storage)  # LegacyRunStorage wraps it
    return isinstance(storage, SqliteRunStorage)


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process that executes the run's steps, from its newest engine event that has one."""
    pid = None
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        value = data.metadata.get("pid") if data and data.metadata else None
        if value is not None and str(value.value).isdigit():
            pid = int(value.value)
    return pid


def fail_dead_runs(instance: dg.DagsterInstance) -> list[DeadRun]:
    """Mark every in-progress run whose worker is gone as failed and free its concurrency slots."""
    if not is_local(instance):
        return []
    dead = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=list(IN_PROGRESS))):
        run = record.dagster_run
        pid = worker_pid(instance, run.run_id)
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        instance.report_run_failed(
            run,
            f"finops run recovery: the run's process (pid {pid}) is gone (killed, out of memory or the "
            "machine restarted); marked failed so that its pool and queue slots are freed. Tables keep "
            "their last committed data; launch the run again.",
        )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        dead.append(DeadRun(run.run_id, run.job_name, pid))
    return dead


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "recover-runs",
        help="mark runs whose process is gone as failed and free their pool and queue slots",
        description="Fail the runs of this DAGSTER_HOME whose process died (kill -9, OOM, restart), so that "
        "the next run proceeds. Safe to run any time: live runs are left alone.",
    )
    parser.set_defaults(handler=_main)


def _main(args: Any) -> int:
    with dg.DagsterInstance.get() as instance:
        if not is_local(instance):
            print(
                "finops recover-runs: this instance's runs are not in a local SQLite storage; pids of "
                "another machine cannot be checked here (use run monitoring's max_runtime_seconds)"
            )
            return 0
        dead = fail_dead_runs(instance)
    for run in dead:
        print(f"finops recover-runs: run {run.run_id} ({run.job_name}) failed: its process {run.pid} is gone")
    if not dead:
        print("finops recover-runs: no dead run")
    return 0
