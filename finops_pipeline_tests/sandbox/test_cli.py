"""``finops sandbox``: background start, health, stop, and errors that say which option and how to fix it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from finops_pipeline.cli import main
from finops_pipeline.processes import process_alive
from finops_pipeline_tests.conftest import finops_cli, sandbox_config, set_aws_env
from finops_sandbox.faults import Faults


def test_background_start_health_and_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "run" / "sandbox.pid"
    started = finops_cli(
        "sandbox", "--background", "--pid-file", str(pid_file), "--accounts", "3", "--as-of", "2026-11-27",
        "--deny-operations", "DescribeOrganization",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    env = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines())
    assert set(env) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
    assert (tmp_path / "run" / "sandbox.env").read_text() == started.stdout
    pid = int(pid_file.read_text())
    assert process_alive(pid)

    status = finops_cli("sandbox", "status", "--pid-file", str(pid_file))
    assert status.returncode == 0, status.stderr
    assert '"accounts": 3' in status.stdout and f'"pid": {pid}' in status.stdout

    set_aws_env(monkeypatch, env, tmp_path)
    org = boto3.client("organizations")
    assert len(org.list_accounts()["Accounts"]) == 4
    with pytest.raises(ClientError) as caught:
        org.describe_organization()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"

    stopped = finops_cli("sandbox", "stop", "--pid-file", str(pid_file))
    assert stopped.returncode == 0, stopped.stderr
    assert not process_alive(pid)
    assert not pid_file.exists()
    assert not (tmp_path / "run" / "sandbox.env").exists()


def test_factory_starts_another_world_in_a_subprocess(sandbox_factory: Callable[..., Any]) -> None:
    other = sandbox_factory(config=sandbox_config(accounts=2, seed=7), faults=Faults(latency_ms=5))
    health = other.health()
    assert (health["config"]["accounts"], health["config"]["seed"], health["pid"]) == (2, 7, other.pid)
    assert len(health["accounts"]) == 3
    assert health["faults"]["latency_ms"] == 5
    assert health["pid"] != os.getpid()


def test_stop_without_a_running_sandbox_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "stop", "--pid-file", str(tmp_path / "sandbox.pid")]) == 0
    assert "nothing to stop" in capsys.readouterr().err


def test_stop_removes_a_stale_pid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid_file = tmp_path / "sandbox.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a sandbox: must not be signalled
    assert main(["sandbox", "stop", "--pid-file", str(pid_file)]) == 0
    assert "is not running" in capsys.readouterr().err
    assert not pid_file.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--throttle-rate", "1.5"], "--throttle-rate 1.5: must be a fraction from 0 to 1"),
        (
            ["--throttle-rate", "often"],
            "argument --throttle-rate: 'often' is not a number; e.g. --throttle-rate 0.2",
        ),
        (["--as-of", "2026-02-30"], "argument --as-of: '2026-02-30' is not a date in YYYY-MM-DD form"),
        (["--accounts", "0"], "argument --accounts: 0 is out of range: use 1..5000"),
        (["--port", "70000"], "argument --port: 70000 is out of range: use 0..65535"),
        (["--deny-accounts", "42"], "--deny-accounts 42: account ids are 12 digits"),
        (["--disabled-region", "us-east-1"], "disable an opt-in region such as eu-west-1"),
        (["--regions", "us-east-1,mars"], "argument --regions: mars is not a list of AWS region codes"),
    ],
)
def test_bad_arguments_name_the_option_and_the_fix(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
