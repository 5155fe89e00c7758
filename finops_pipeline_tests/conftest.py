"""Shared fixtures: the local AWS sandbox and the environment a boto3 client needs to reach it.

- ``sandbox`` (session): the default world, 12 member accounts observed on ``SANDBOX_AS_OF`` (today, UTC,
  as the pipeline's partitions are), served in-process on a free port.
  ``sandbox.world`` is the ground truth, with moto's resource ids and ARNs.
- ``aws_env``: points boto3 at the session sandbox as the management account (and hides any real AWS
  profile or credentials of the machine), returning the variables it set.
- ``sandbox_factory``: for tests that need other faults or another world. moto's state is process-global,
  so a second seeded world cannot live in this process: ``sandbox_factory(faults=...)`` alone serves the
  session world on another port with those faults (in-process, instant); with ``config=...`` or
  ``page_size=...`` it starts ``finops sandbox --background`` in a subprocess on its own port (a few
  seconds) and stops it at teardown. Both return an object with ``.url``, ``.env()`` and ``.health()``;
  ``access=OrgAccess(...)`` sets what the management account allows its members (caller scope).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from finops_sandbox.caller_scope import OrgAccess
    from finops_sandbox.faults import Faults
    from finops_sandbox.server import Sandbox
    from finops_sandbox.world import WorldConfig

pytest_plugins = ["finops_pipeline_tests.pipeline_fixtures"]
SESSION_CE_PAGE_SIZE = 1000  # the default; still several pages per request of the ingest

# "Today" of the whole suite, whatever the machine's date: the pipeline reads it from its one clock
# (finops_pipeline.clock, pinned by FINOPS_TODAY, which subprocesses inherit), and the sandbox's world is
# observed on the same day. Tests take expectations from the world's ground truth, never from the
# calendar; tests of other days pin their own. FINOPS_TEST_TODAY runs the whole suite as of another day.
SANDBOX_AS_OF = dt.date.fromisoformat(os.environ.get("FINOPS_TEST_TODAY") or "2026-11-27")
os.environ["FINOPS_TODAY"] = SANDBOX_AS_OF.isoformat()
SANDBOX_ACCOUNTS = 12


@pytest.fixture(scope="session", autouse=True)
def session_project_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """FINOPS_PROJECT_ROOT for session and module fixtures too: no report ever lands in this checkout."""
    root = tmp_path_factory.mktemp("project-root")
    before = os.environ.get("FINOPS_PROJECT_ROOT")
    os.environ["FINOPS_PROJECT_ROOT"] = str(root)
    yield root
    if before is None:
        os.environ.pop("FINOPS_PROJECT_ROOT", None)
    else:
        os.environ["FINOPS_PROJECT_ROOT"] = before


@pytest.fixture(autouse=True)
def project_root_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Reports are confined to FINOPS_PROJECT_ROOT: the test's own folder, never this checkout."""
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(tmp_path))
    return tmp_path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a ``slow`` test run first: ``--dist loadfile`` hands whole files to the two workers
    in collection order, and a long file handed out last (test_iam.py, ~8 min of one worker) kept the
    other worker idle at the end of the suite."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)  # stable: the order within and among the rest stays


def sandbox_config(**overrides: Any) -> WorldConfig:
    """The session sandbox's WorldConfig, with `overrides`."""
    from finops_sandbox.world import WorldConfig

    return WorldConfig(**{"accounts": SANDBOX_ACCOUNTS, "as_of": SANDBOX_AS_OF, **overrides})


def set_aws_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], home: Path) -> dict[str, str]:
    """Make `env` the only AWS configuration boto3 sees in this test."""
    for name in list(os.environ):
        if name.startswith(
            ("AWS_ENDPOINT_URL_", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE", "AWS_WEB_IDENTITY")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    from finops_sandbox.server import Sandbox

    # AWS-sized Cost Explorer pages (1000 groups): the suite's multi-day GetCostAndUsage answers span
    # several pages, so a reader that drops the NextPageToken loop loses dollars and a total test fails.
    with Sandbox(sandbox_config(), ce_page_size=SESSION_CE_PAGE_SIZE) as running:
        yield running


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return set_aws_env(monkeypatch, sandbox.env(), tmp_path)


@dataclass
class BackgroundSandbox:
    """A ``finops sandbox --background`` process started by ``sandbox_factory``."""

    url: str
    pid: int
    pid_file: Path

    def env(self) -> dict[str, str]:
        from finops_sandbox.server import client_env

        return client_env(self.url)

    def health(self) -> dict[str, Any]:
        from finops_sandbox.cli import health

        return health(self.url)

    def stop(self) -> None:
        finops_cli("sandbox", "stop", "--pid-file", str(self.pid_file))


def finops_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the ``finops`` console script (as ``python -m``, so no install is needed)."""
    return subprocess.run(
        [sys.executable, "-m", "finops_pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_background_sandbox(
    directory: Path,
    config: WorldConfig,
    faults: Faults | None,
    page_size: int | None = None,
    access: OrgAccess | None = None,
) -> BackgroundSandbox:
    from finops_sandbox.faults import Faults

    default = sandbox_config()
    if (config.history_months, config.resources_per_account_region) != (
        default.history_months,
        default.resources_per_account_region,
    ):
        raise ValueError("finops sandbox sets accounts, seed, as_of, regions and tag activation only")
    pid_file = directory / "sandbox.pid"
    args = ["sandbox", "--background", "--pid-file", str(pid_file), "--accounts", str(config.accounts)]
    args += [
        "--seed",
        str(config.seed),
        "--as-of",
        config.as_of.isoformat(),
        "--regions",
        ",".join(config.regions),
    ]
    if config.inactive_tag_keys:
        args += ["--inactive-tag-keys", ",".join(config.inactive_tag_keys)]
    if config.tag_activation_dates:
        args += ["--tag-activated", ",".join(f"{k}={d.isoformat()}" for k, d in config.tag_activation_dates)]
    if config.tag_backfills:
        args += [
            "--tag-backfilled",
            ",".join(f"{a.isoformat()}={b.isoformat()}" for a, b in config.tag_backfills),
        ]
    args += ["--bill-final-day", str(config.bill_final_day)]
    args += ["--late-restatement-days", str(config.late_restatement_days)]
    if config.month_close_extras:
        args += ["--month-close-extras"]
    if config.scoped_budgets:
        args += ["--scoped-budgets"]
    args += ["--page-size", str(page_size or SESSION_CE_PAGE_SIZE)]  # small unless a test says otherwise
    if access is not None:
        args += access.to_cli_args()
    done = finops_cli(*args, *(faults or Faults()).to_cli_args())
    if done.returncode != 0:
        raise RuntimeError(f"finops sandbox --background failed ({done.returncode}):\n{done.stderr}")
    url = next(line.split("=", 1)[1] for line in done.stdout.splitlines() if "AWS_ENDPOINT_URL=" in line)
    return BackgroundSandbox(url=url, pid=int(pid_file.read_text()), pid_file=pid_file)


@pytest.fixture
def sandbox_factory(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Any]]:
    started: list[Any] = []

    def start(
        config: WorldConfig | None = None,
        faults: Faults | None = None,
        page_size: int | None = None,
        access: OrgAccess | None = None,
    ) -> Any:
        from finops_sandbox.faults import Faults

        if (config is None or config == sandbox.world.config) and page_size is None:
            handle: Any = sandbox.view(faults or Faults(), access=access)
        else:
            directory = tmp_path_factory.mktemp("sandbox")
            world_config = config or sandbox.world.config
            handle = start_background_sandbox(directory, world_config, faults, page_size, access)
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        handle.stop()
