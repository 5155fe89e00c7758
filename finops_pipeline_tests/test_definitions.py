"""The code location loads from the environment, and a bad setting stops it before anything runs."""

import subprocess
import sys
from pathlib import Path

import pytest

from finops_pipeline.settings import SettingsError

INGEST_ASSETS = {
    "aws_accounts",
    "ce_cost_daily",
    "ce_cost_by_region",
    "ce_cost_by_usage_type",
    "ce_cost_by_account_usage_type",
    "ce_cost_by_tag",
    "tagged_resources",
    "ce_anomalies",
    "ce_recommendations",
}


def load_defs():
    from finops_pipeline.definitions import defs

    return defs()


def test_the_location_holds_the_ingest_assets_job_and_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINOPS_START_DATE", raising=False)
    defs = load_defs()
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= INGEST_ASSETS
    assert defs.resolve_job_def("daily_ingest_job").name == "daily_ingest_job"
    assert defs.resolve_schedule_def("daily_ingest_schedule").cron_schedule == "0 6 * * *"
    graph = defs.resolve_asset_graph()
    cost = graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "ce_cost_daily"))
    assert cost.backfill_policy is not None and cost.backfill_policy.max_partitions_per_run is None


def test_a_bad_setting_fails_the_load_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "never.duckdb"
    monkeypatch.setenv("FINOPS_DUCKDB_PATH", str(database))
    monkeypatch.setenv("FINOPS_MAX_CONCURRENCY", "0")
    with pytest.raises(Exception) as error:
        load_defs()
    cause: BaseException | None = error.value
    while cause is not None and not isinstance(cause, SettingsError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None
    assert "FINOPS_MAX_CONCURRENCY='0' is invalid: must be between 1 and 64. Fix:" in str(cause)
    assert not database.exists()


def test_dg_check_defs_reports_the_bad_variable(tmp_path: Path) -> None:
    project = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=project,
        env={
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(tmp_path),
            "FINOPS_SCAN_REGIONS": "us-east-1,narnia",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "FINOPS_SCAN_REGIONS='us-east-1,narnia' is invalid: narnia is not an AWS region code botocore knows"
        in done.stdout + done.stderr
    )
