"""Pipeline fixtures, a pytest plugin loaded by the root conftest.

The ingest run against the session sandbox is built once and copied per test.

A full-history ingest of the 12-account world takes tens of seconds, so ``ingested_warehouse`` runs it
once per session; tests that write get their own copy through ``warehouse_copy``.
"""

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.defs import layers
from finops_pipeline.lib.cost_window import range_tags
from finops_pipeline_tests.conftest import set_aws_env

SANDBOX_REGIONS = "us-east-1,us-west-2,eu-west-1"


def pipeline_env(sandbox_env: dict[str, str], database: Path, **extra: str) -> dict[str, str]:
    return {
        **sandbox_env,
        "FINOPS_DUCKDB_PATH": str(database),
        "FINOPS_SCAN_REGIONS": SANDBOX_REGIONS,
        **extra,
    }


def run_pipeline(
    start: dt.date | None = None,
    end: dt.date | None = None,
    assets: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    instance: dg.DagsterInstance | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One in-process run of the code location as loaded from the current environment.

    The FOCUS assets are partitioned by billing period, not by day (``run_focus_import`` runs them); with
    neither ``assets`` nor ``groups`` the run is every other asset and every check (the demo's
    full-history run)."""
    from finops_pipeline.clock import today_utc
    from finops_pipeline.definitions import defs as load_defs
    from finops_pipeline.demo import FOCUS_KEYS, full_history_selection
    from finops_pipeline.settings import load_settings

    settings = load_settings()
    definitions = load_defs()
    job = definitions.resolve_implicit_global_asset_job_def()
    if assets is not None:
        job = job.get_subset(asset_selection={dg.AssetKey(name) for name in assets})
    elif groups is not None:
        keys = dg.AssetSelection.groups(*groups).resolve(definitions.resolve_asset_graph())
        job = job.get_subset(asset_selection=set(keys) - FOCUS_KEYS)
    else:
        everything, checks = full_history_selection(job)
        job = job.get_subset(asset_selection=everything, asset_check_selection=checks)
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={**range_tags(start or settings.start_date, end or today_utc()), **(tags or {})},
        raise_on_error=False,
    )


def run_focus_import(
    assets: Sequence[str] | None = None, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult | None:
    """``focus_import_job`` (or ``assets`` of it) over every billing period of FOCUS_EXPORT_URI, checks
    included, as the demo's import registers them; periods are added to ``instance`` first."""
    from finops_pipeline.config_resources import resources_for
    from finops_pipeline.definitions import defs as load_defs
    from finops_pipeline.defs.focus.partitions import all_periods_tags, export_source, register_periods
    from finops_pipeline.settings import load_settings

    settings = load_settings()
    instance = instance or dg.DagsterInstance.ephemeral()
    uri = settings.focus_export_uri
    if uri is not None:
        register_periods(instance, export_source(uri, resources_for(settings)["aws"]))
    job = load_defs().resolve_job_def("focus_import_job")
    if assets is not None:
        job = job.get_subset(asset_selection={dg.AssetKey(name) for name in assets})
    if not instance.get_dynamic_partitions("focus_billing_period"):
        return None  # no export, or an empty one: nothing to run (as in the demo)
    return job.execute_in_process(instance=instance, tags=all_periods_tags(instance), raise_on_error=False)


def query(database: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a warehouse file, opened read-only as a user's SQL client would."""
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Every failed step's error message and the messages of its causes, outermost first."""
    messages = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                messages.append(error.message)
                error = error.cause
    return messages


def materialized_copy(ingested: Path, sandbox: Any, folder: Path, assets: tuple[str, ...]) -> Path:
    """A copy of the ingested warehouse with ``assets`` materialized on top (the run must succeed)."""
    database = folder / "finops.duckdb"
    shutil.copyfile(ingested, database)
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database), folder)
        result = run_pipeline(assets=assets)
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    finally:
        monkeypatch.undo()
    return database


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (FINOPS_PROJECT_ROOT) as the working directory: REPORT_OUTPUT_DIR stays in it."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def ingested_warehouse(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The raw layer run once over the session sandbox's full history (read it, do not write it).

    Budgets and the forecast (group raw_budgets) are left to the tests that materialize them.
    """
    database = tmp_path_factory.mktemp("warehouse") / "finops.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database), database.parent)
        result = run_pipeline(groups=[g for g in layers.RAW_GROUPS if g != layers.RAW_BUDGETS])
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    finally:
        monkeypatch.undo()
    yield database


@pytest.fixture
def warehouse_copy(ingested_warehouse: Path, tmp_path: Path) -> Path:
    """A private copy of the ingested warehouse for a test that writes."""
    target = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, target)
    return target


@pytest.fixture
def pipeline_env_for(
    monkeypatch: pytest.MonkeyPatch, sandbox: Any, tmp_path: Path
) -> Callable[..., dict[str, str]]:
    """Point the pipeline at a sandbox-like endpoint (default: the session sandbox) and a database."""

    def apply(database: Path, endpoint: Any = None, **extra: str) -> dict[str, str]:
        return set_aws_env(
            monkeypatch, pipeline_env((endpoint or sandbox).env(), database, **extra), tmp_path
        )

    return apply


def write_workspace(folder: Path) -> Path:
    """A workspace.yaml loading the code location with ``folder`` as its working directory."""
    workspace = folder / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: finops_pipeline.definitions\n"
        f"      location_name: finops_pipeline\n      working_directory: {folder}\n"
    )
    return workspace


def _default_stop_signals() -> None:
    """In the child before exec: SIGINT and SIGTERM as a terminal's shell would pass them on.

    An ignored signal stays ignored across exec, and a process that starts with SIGINT ignored
    (Python, make, bash) never hears a Ctrl-C. A suite run in the background (`make test &`, `nohup`)
    has SIGINT ignored by its shell: that must not decide how the command under test stops."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def process_group(
    command: list[str], cwd: Path, log_path: Path, stop: signal.Signals = signal.SIGTERM, grace_s: float = 30
) -> Iterator[subprocess.Popen]:
    """``command`` in its own process group for the block, output to ``log_path``; at the end the group gets
    ``stop`` (as a user or a supervisor stops it), then SIGKILL after ``grace_s``."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_stop_signals,
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
                os.killpg(process.pid, stop)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@contextmanager
def running_daemon(workspace: Path, cwd: Path, log_path: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` for the block, its own process group stopped (then killed) at the end."""
    daemon = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)]
    with process_group(daemon, cwd, log_path) as process:
        yield process
