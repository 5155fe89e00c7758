"""The read copy: published after every successful run; a reader holding it never blocks or fails a run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.warehouse import read_copy_path
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.faults import Faults

DAY = SANDBOX_AS_OF.replace(day=1)
COSTS = "SELECT usage_date, account_id, service, unblended_cost FROM raw.ce_cost_daily ORDER BY ALL"
HOLD = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print(conn.execute("SELECT count(*) FROM raw.ce_cost_daily").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the file open until the test says so
print(conn.execute("SELECT count(*) FROM raw.ce_cost_daily").fetchone()[0], flush=True)
"""


def rows(database: Path, sql: str = COSTS) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_a_successful_run_publishes_an_identical_read_copy(pipeline_env_for: Any, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(DAY, DAY, assets=["ce_cost_daily"]).success
    copy = read_copy_path(database)
    assert copy == tmp_path / "finops.read.duckdb"
    assert rows(copy) == rows(database) and rows(copy)
    assert not list(tmp_path.glob(".*.tmp"))  # the staging file was renamed into place


def test_holding_the_read_copy_open_never_fails_a_run(pipeline_env_for: Any, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(DAY, DAY, assets=["ce_cost_daily"]).success
    one_day = len(rows(database))
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(read_copy_path(database))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert int(reader.stdout.readline()) == one_day  # the reader holds the copy (and its lock)
        week_end = DAY.replace(day=7)
        result = run_pipeline(DAY, week_end, assets=["ce_cost_daily"])
        assert result.success
        assert len(rows(read_copy_path(database))) == len(rows(database)) > one_day  # republished
        out, _ = reader.communicate("\n", timeout=60)
        assert int(out.strip()) == one_day  # the reader kept its snapshot, undisturbed
    finally:
        if reader.poll() is None:
            reader.kill()


def test_a_failed_run_leaves_the_last_good_copy(
    pipeline_env_for: Any, sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(DAY, DAY, assets=["ce_cost_daily"]).success
    before = rows(read_copy_path(database))
    denied = sandbox_factory(faults=Faults(deny_operations="GetCostAndUsage"))
    pipeline_env_for(database, denied)
    assert not run_pipeline(DAY, DAY.replace(day=3), assets=["ce_cost_daily"]).success
    assert rows(read_copy_path(database)) == before


def test_the_read_copy_can_be_switched_off(pipeline_env_for: Any, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, FINOPS_READ_COPY="false")
    assert run_pipeline(DAY, DAY, assets=["ce_cost_daily"]).success
    assert not read_copy_path(database).exists()
