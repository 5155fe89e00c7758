"""Acceptance (#17): after the demo, `make ui` runs `daily_ingest_job` against the demo's target.

`make ui` itself is run (its own DAGSTER_HOME, port and sandbox pid file), in a shell whose AWS
configuration points elsewhere, as a FinOps engineer's shell might: the job is launched through the
webserver's GraphQL API, the daemon runs it, and the warehouse the demo filled keeps its figures.
"""

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from finops_pipeline.demo import run_full_history
from finops_pipeline.lib.cost_window import refresh_tags
from finops_pipeline.lib.run_target import TARGET_TAG
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.pipeline_fixtures import process_group

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Closed months' cost, the tag scan's resources and regions, the EBS volumes found.
FIGURES_SQL = """
SELECT (SELECT round(sum(unblended_cost), 2) FROM raw.ce_cost_daily
         WHERE usage_date < date_trunc('month', ?::DATE)),
       (SELECT count(*) FROM raw.tagged_resources),
       (SELECT count(DISTINCT region) FROM raw.scan_status WHERE source = 'tagging'),
       (SELECT count(*) FROM raw.ec2_volumes)
"""


def figures(database: Path, today: Any) -> tuple:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(FIGURES_SQL, [today]).fetchone()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def make_ui(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """`make ui` in its own process group; Ctrl-C (SIGINT) at the end, as a user stops it."""
    command = ["make", "--no-print-directory", "ui", f"UI_PORT={port}", *(f"{k}={v}" for k, v in env.items())]
    with process_group(command, PROJECT_ROOT, log, stop=signal.SIGINT, grace_s=60) as ui:
        yield ui


def wait_for(check: Callable[[], Any], seconds: float, ui: subprocess.Popen, log: Path) -> Any:
    """Poll ``check`` (bounded) until it returns a value; the UI must stay up meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert ui.poll() is None, log.read_text()[-3000:]
        value = check()
        if value is not None:
            return value
        time.sleep(1)  # readiness polling of the webserver / the run's status
    raise AssertionError(f"timed out; make ui log:\n{log.read_text()[-3000:]}")


ORIGIN_QUERY = """
query DemoRun($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { repositoryOrigin { repositoryLocationName repositoryName } } }
  workspaceOrError { ... on Workspace { locationEntries { name } } }
}
"""


def demo_run_origin(client: DagsterGraphQLClient, home: Path) -> tuple[str, str]:
    """A run recorded the way the demo records its own (a one-asset job here), as the webserver serves
    it: the code location and repository the Timeline groups it under, which must be a loaded one."""

    @dg.asset
    def one() -> int:
        return 1

    defs = dg.Definitions(assets=[one], executor=dg.in_process_executor)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result, _ = run_full_history(defs, instance, "CRITICAL", PROJECT_ROOT / "workspace.yaml")
    answer = client._execute(ORIGIN_QUERY, {"runId": result.run_id})
    origin = answer["runOrError"]["repositoryOrigin"]
    loaded = {entry["name"] for entry in answer["workspaceOrError"]["locationEntries"]}
    assert origin["repositoryLocationName"] in loaded
    return origin["repositoryLocationName"], origin["repositoryName"]


@pytest.mark.slow
def test_make_ui_after_the_demo_runs_daily_ingest_against_the_demo_target(
    ingested_warehouse: Path, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "finops.duckdb"
    database.write_bytes(ingested_warehouse.read_bytes())  # the demo's warehouse (the same world)
    today = sandbox.world.config.as_of
    before = figures(database, today)
    for name, value in {  # a shell set up for some real account: make ui must not use any of it
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_PROFILE": "production",
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "FINOPS_DUCKDB_PATH": str(database),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FINOPS_SCAN_REGIONS", raising=False)
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(PROJECT_ROOT))
    home, pid_file, log = tmp_path / "dagster_home", tmp_path / "sandbox" / "sandbox.pid", tmp_path / "ui.log"
    port = free_port()
    with make_ui({"DAGSTER_HOME": str(home), "SANDBOX_PID_FILE": str(pid_file)}, port, log) as ui:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)

        def submitted() -> str | None:
            try:
                return client.submit_job_execution(
                    "daily_ingest_job", tags=refresh_tags(load_settings(), today)
                )
            except (DagsterGraphQLClientError, OSError):  # not serving yet, or the code still loading
                return None

        run_id = wait_for(submitted, 240, ui, log)

        def finished() -> str | None:
            status = client.get_run_status(run_id).value
            return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

        assert wait_for(finished, 420, ui, log) == "SUCCESS", log.read_text()[-3000:]
        assert pid_file.exists()  # the UI's own sandbox, running while the UI does
        assert demo_run_origin(client, home) == ("finops_pipeline", "__repository__")
    # ... and stopped with it (a make killed after the grace, returncode -9, never ran its exit trap:
    # so it went when the suite ran in the background, SIGINT ignored, until process_group reset it)
    assert not pid_file.exists(), f"make exited {ui.returncode}:\n{log.read_text()[-2000:]}"
    assert "runs go to the sandbox, scan regions us-east-1,us-west-2,eu-west-1" in log.read_text()
    assert figures(database, today) == before  # 3 regions scanned, as in the demo; closed months unchanged
    assert before[1] > 0 and before[2] == 3
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        assert run.tags[TARGET_TAG] == f"sandbox:{sandbox.world.management_account_id}"
