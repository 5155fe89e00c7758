"""`dagster job launch` with the daemon running: the report job queued, launched and finished for real."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from finops_pipeline.lib.reporting.datasets import SPECS
from finops_pipeline_tests.pipeline_fixtures import running_daemon, write_workspace

PROJECT_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@pytest.mark.slow
def test_dagster_job_launch_runs_the_report_through_the_daemon(
    warehouse_copy: Path, tmp_path: Path, pipeline_env_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    workspace = write_workspace(project)
    pipeline_env_for(warehouse_copy, REPORT_DEFAULT_FORMATS="html,csv", DAGSTER_HOME=str(home))
    monkeypatch.chdir(project)
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(project))  # the daemon and its runs inherit it
    with (
        dg.DagsterInstance.get() as instance
    ):  # create the storage once: the daemon and the CLI then share it
        instance.get_runs(limit=1)
    with running_daemon(workspace, project, tmp_path / "daemon.log") as daemon:
        launch = subprocess.run(
            [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "finops_report_job"],
            cwd=project, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert launch.returncode == 0, launch.stderr[-3000:]
        with dg.DagsterInstance.get() as instance:
            deadline = time.monotonic() + 150
            run = None
            while time.monotonic() < deadline:  # readiness polling of the run status, bounded
                runs = instance.get_runs(limit=1)
                run = runs[0] if runs else None
                if run is not None and run.status in FINISHED:
                    break
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(0.5)
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, (
                run and run.status,
                (tmp_path / "daemon.log").read_text()[-3000:],
            )
            assert run.job_name == "finops_report_job"
            event = instance.get_latest_materialization_event(dg.AssetKey("finops_report"))
            files = event.asset_materialization.metadata["files"].value
        assert len(files) == len(SPECS) + 1 and all(
            Path(f).parent == project / "reports" and Path(f).is_file() for f in files
        )
