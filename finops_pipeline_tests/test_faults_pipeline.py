"""Faults against the sandbox, each ending in a defined, tested state.

- credentials that expire mid-run: assumed-role credentials refresh and the run completes with the same
  rows; static keys revoked mid-run fail the run with the fix, earlier data intact;
- the DuckDB file held by another process: the run waits FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS, then fails
  naming the file, the holder's PID and the fix;
- a crash in the middle of a partition write (an error, or the process killed): earlier rows intact;
- Cost Explorer 5xx bursts: retried, same rows, the retries counted; a sustained outage fails with the fix;
- a region not enabled: the other regions are scanned, the region is recorded with the fix.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from finops_pipeline import warehouse
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures
from finops_sandbox.faults import Faults, call_info, error_response
from finops_sandbox.server import _Endpoint, client_env

TODAY = SANDBOX_AS_OF  # the suite's pinned today
START = TODAY - dt.timedelta(days=4)
CE_PREFIX = "AWSInsightsIndexService."


class Scripted:
    """WSGI middleware over the session sandbox's router: answers chosen requests with a chosen error."""

    def __init__(
        self, app: Callable[..., Iterable[bytes]], fault: Callable[[dict[str, Any], int], Any]
    ) -> None:
        self.app, self.fault = app, fault
        self.counts: dict[str, int] = {"requests": 0, "faulted": 0}
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(("/moto-api", "/sandbox/")):
            return self.app(environ, start_response)
        with self._lock:
            self.counts["requests"] += 1
            number = self.counts["requests"]
        answer = self.fault(environ, number)
        if answer is None:
            return self.app(environ, start_response)
        with self._lock:
            self.counts["faulted"] += 1
        status, code, message = answer
        line, headers, body = error_response(call_info(environ), environ, status, code, message)
        start_response(line, [*headers, ("Content-Length", str(len(body)))])
        return [body]


class ScriptedEndpoint:
    def __init__(self, sandbox: Any, fault: Callable[[dict[str, Any], int], Any]) -> None:
        self.app = Scripted(sandbox._router, fault)
        self.endpoint = _Endpoint(self.app, "127.0.0.1", 0)
        self.url = self.endpoint.url

    def env(self) -> dict[str, str]:
        return client_env(self.url)

    def stop(self) -> None:
        self.endpoint.stop()


@pytest.fixture
def scripted(sandbox: Any) -> Iterable[Callable[..., ScriptedEndpoint]]:
    started: list[ScriptedEndpoint] = []

    def start(fault: Callable[[dict[str, Any], int], Any]) -> ScriptedEndpoint:
        started.append(ScriptedEndpoint(sandbox, fault))
        return started[-1]

    yield start
    for endpoint in started:
        endpoint.stop()


def failures(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(step_failures(result))


def _cost_total(database: Path) -> tuple[int, Decimal]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows, total = conn.execute("SELECT count(*), sum(unblended_cost) FROM raw.ce_cost_daily").fetchone()
    return rows, total


def _fails_keeping_earlier_rows(database: Path, before: tuple[int, Decimal]) -> str:
    """Run ce_cost_daily, which must fail leaving the rows already written untouched; its failure messages."""
    result = run_pipeline(START, TODAY, assets=["ce_cost_daily"])
    assert not result.success
    assert _cost_total(database) == before
    return failures(result)


def _api_calls(database: Path, run_id: str) -> dict[str, tuple[int, int]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(
            "SELECT service || ':' || operation, calls, pages FROM meta.api_calls WHERE run_id = ?", [run_id]
        ).fetchall()
    return {op: (calls, pages) for op, calls, pages in rows}


# ------------------------------------------------------------------------------------------ credentials


def test_assumed_role_credentials_expiring_mid_run_are_refreshed(
    sandbox: Any, pipeline_env_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.credentials import RefreshableCredentials

    from finops_pipeline.aws_session import ApiCallCounter

    central = f"arn:aws:iam::{sandbox.world.management_account_id}:role/FinOpsMemberReadOnly"
    clean_db, expiring_db = tmp_path / "clean.duckdb", tmp_path / "expiring.duckdb"
    pipeline_env_for(clean_db, AWS_ROLE_ARN=central)
    clean = run_pipeline(START, TODAY, assets=["aws_accounts", "tagged_resources"])
    assert clean.success, failures(clean)

    expired: list[int] = []
    original = ApiCallCounter.attach

    def expire_every_tenth_call(request_signer: Any = None, **_: Any) -> None:
        credentials = request_signer._credentials
        if isinstance(credentials, RefreshableCredentials):
            expired.append(1)
            if len(expired) % 10 == 0:  # the credentials expire now, in the middle of the scans
                credentials._expiry_time = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # long expired, on any date

    def attach(self: ApiCallCounter, client: Any, service: str) -> None:
        original(self, client, service)
        client.meta.events.register("before-call", expire_every_tenth_call)

    monkeypatch.setattr(ApiCallCounter, "attach", attach)
    pipeline_env_for(expiring_db, AWS_ROLE_ARN=central)
    result = run_pipeline(START, TODAY, assets=["aws_accounts", "tagged_resources"])
    assert result.success, failures(result)
    clean_calls, calls = _api_calls(clean_db, clean.run_id), _api_calls(expiring_db, result.run_id)
    forced = len(expired) // 10
    assert forced >= 3
    assert calls["sts:AssumeRole"][1] >= clean_calls["sts:AssumeRole"][1] + forced // 2  # re-assumed
    with (
        duckdb.connect(str(clean_db), read_only=True) as a,
        duckdb.connect(str(expiring_db), read_only=True) as b,
    ):
        query = "SELECT resource_arn FROM raw.tagged_resources ORDER BY 1"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        assert b.execute("SELECT count(*) FROM raw.scan_status WHERE status <> 'ok'").fetchone()[0] == 0


def test_static_keys_revoked_mid_run_fail_with_the_fix_and_keep_earlier_data(
    sandbox: Any, scripted: Any, pipeline_env_for: Any, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    first = run_pipeline(START, TODAY, assets=["ce_cost_daily"])
    assert first.success
    before = _cost_total(database)

    revoked = scripted(
        lambda environ, n: (403, "UnrecognizedClientException", "The security token is invalid.")
    )
    pipeline_env_for(database, revoked)
    message = _fails_keeping_earlier_rows(database, before)
    assert "UnrecognizedClientException" in message
    assert (
        "Fix: region us-east-1 is not enabled for this account (or the credentials were revoked)" in message
    )
    assert "renew the credentials and run `finops doctor`" in message

    expired = scripted(
        lambda environ, n: (400, "ExpiredTokenException", "The security token included has expired")
    )
    pipeline_env_for(database, expired)
    message = _fails_keeping_earlier_rows(database, before)
    assert "Fix: the AWS credentials were rejected as expired or invalid" in message


# ----------------------------------------------------------------------------------------- DuckDB lock

HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    conn = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
    conn.close()
    print("released", flush=True)
    """
)


def test_locked_warehouse_waits_within_the_bound_then_names_the_holder(
    sandbox: Any, pipeline_env_for: Any, tmp_path: Path
) -> None:
    from finops_pipeline.warehouse import WarehouseLockedError, WarehouseResource

    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS="1")
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success
    before = _cost_total(database)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"  # handshake: the other process holds the file
        with (
            pytest.raises(WarehouseLockedError) as caught,
            WarehouseResource(database=str(database), lock_timeout_seconds=0.5).connect(),
        ):
            pass
        message = str(caught.value)
        assert str(database) in message and "locked by another process" in message
        assert f"PID {holder.pid}" in message
        assert "Fix:" in message and "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS" in message
        assert f"open the read copy {database.with_name('finops.read.duckdb')} instead" in message

        result = run_pipeline(START, TODAY, assets=["ce_cost_daily"])  # the setting bounds the asset's wait
        assert not result.success
        assert f"The warehouse {database} is locked by another process and stayed locked for 1 s" in failures(
            result
        )
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        holder.wait(timeout=30)
    assert _cost_total(database) == before
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success  # free again: the next run works


# --------------------------------------------------------------------------------- crash during a write


def test_failed_partition_write_keeps_the_earlier_rows(
    sandbox: Any, pipeline_env_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finops_pipeline.defs.ingest import cost_explorer_api

    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success
    before = _cost_total(database)
    assert before[0] > 0
    original = cost_explorer_api.page_rows

    def with_a_bad_row(*args: Any, **kwargs: Any) -> pa.Table:
        table = original(*args, **kwargs)
        bad = table.slice(0, 1).set_column(
            table.schema.get_field_index("service"), "service", pa.array([None], pa.string())
        )
        return pa.concat_tables([table, bad])  # the DELETE of the window runs, then the INSERT fails

    monkeypatch.setattr(cost_explorer_api, "page_rows", with_a_bad_row)
    assert "NOT NULL constraint failed" in _fails_keeping_earlier_rows(database, before)


CRASHER = textwrap.dedent(
    """
    import datetime as dt, os, sys
    import duckdb, pyarrow as pa
    from finops_pipeline import warehouse
    conn = duckdb.connect(sys.argv[1])
    real_execute = conn.execute
    class Dying:
        def __getattr__(self, name):
            return getattr(conn, name)
        def execute(self, sql, *args):
            answer = real_execute(sql, *args)
            if sql.startswith("DELETE"):
                os._exit(9)  # killed between the DELETE and the INSERT of the window
            return answer
    window = (dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3]))
    with warehouse.staged() as stage:  # one staged row: the attached stage's path, killed mid-replace
        stage.append(stage.new_stream(), pa.table({"usage_date": pa.array([window[0]], pa.date32())}))
        warehouse.replace_windows(Dying(), "raw.ce_cost_daily", stage, [window])
    """
)


def test_process_killed_mid_write_keeps_the_earlier_rows(
    sandbox: Any, pipeline_env_for: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    database, temp = tmp_path / "finops.duckdb", tmp_path / "tmp"
    temp.mkdir()
    pipeline_env_for(database)
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success
    before = _cost_total(database)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHER, str(database), START.isoformat(), TODAY.isoformat()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    assert crashed.returncode == 9, crashed.stderr
    assert _cost_total(database) == before  # the uncommitted DELETE was rolled back on reopening
    left = list(temp.glob(f"{warehouse.STAGE_PREFIX}*"))
    assert len(left) == 1 and (left[0] / "stage.duckdb").exists()  # the killed process left its stage
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success  # the next run proceeds
    assert _cost_total(database) == before
    assert list(temp.glob(f"{warehouse.STAGE_PREFIX}*")) == []  # and the dead process's stage is gone


# ------------------------------------------------------------------------------------- Cost Explorer 5xx


def _ce_burst(every: int, failing: int) -> Callable[[dict[str, Any], int], Any]:
    """Of every `every` Cost Explorer requests, the first `failing` answer 503."""
    seen = {"ce": 0}
    lock = threading.Lock()

    def fault(environ: dict[str, Any], _: int) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(CE_PREFIX):
            return None
        with lock:
            seen["ce"] += 1
            position = (seen["ce"] - 1) % every
        return (
            (503, "ServiceUnavailable", "Service is unavailable, try again") if position < failing else None
        )

    return fault


def test_cost_explorer_5xx_bursts_are_retried_with_the_same_rows(
    sandbox: Any, scripted: Any, pipeline_env_for: Any, tmp_path: Path
) -> None:
    clean_db, bursty_db = tmp_path / "clean.duckdb", tmp_path / "bursty.duckdb"
    pipeline_env_for(clean_db)
    clean = run_pipeline(START, TODAY, assets=["ce_cost_daily", "ce_cost_by_region"])
    assert clean.success
    bursty = scripted(_ce_burst(every=3, failing=2))
    pipeline_env_for(bursty_db, bursty)
    result = run_pipeline(START, TODAY, assets=["ce_cost_daily", "ce_cost_by_region"])
    assert result.success, failures(result)
    assert _cost_total(bursty_db) == _cost_total(clean_db)
    calls = _api_calls(bursty_db, result.run_id)["ce:GetCostAndUsage"]
    clean_calls = _api_calls(clean_db, clean.run_id)["ce:GetCostAndUsage"]
    assert calls[1] == clean_calls[1]  # the same pages billed...
    assert calls[0] == 3 * clean_calls[0]  # ...after two failed attempts each, all counted
    assert bursty.app.counts["faulted"] == 2 * clean_calls[0]


def test_cost_explorer_outage_fails_with_the_fix_and_keeps_earlier_data(
    sandbox: Any, scripted: Any, pipeline_env_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finops_pipeline.aws_session import AwsResource

    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success
    before = _cost_total(database)
    down = scripted(_ce_burst(every=1, failing=1))
    pipeline_env_for(database, down)
    build = AwsResource.from_settings

    def two_attempts(settings: Any) -> AwsResource:  # keep the test short: 2 attempts instead of 10
        resource = build(settings)
        return AwsResource(**{**resource.model_dump(), "max_attempts": 2})

    monkeypatch.setattr(AwsResource, "from_settings", two_attempts)
    message = _fails_keeping_earlier_rows(database, before)
    assert "ServiceUnavailable" in message
    assert "Fix: AWS answered with server errors on every retry: re-run later" in message
    assert 2 <= down.app.counts["faulted"] <= 3  # a bounded number of attempts, then a clear failure


def test_region_not_enabled_is_recorded_with_the_fix(
    sandbox: Any, sandbox_factory: Any, pipeline_env_for: Any, tmp_path: Path
) -> None:
    view = sandbox_factory(faults=Faults(disabled_region="eu-west-1"))
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, view)
    result = run_pipeline(START, TODAY, assets=["aws_accounts", "tagged_resources"])
    assert result.success, failures(result)
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(
            "SELECT region, status, count(*), min(detail) FROM raw.scan_status WHERE source = 'tagging' "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()
        check_input = conn.execute("SELECT count(DISTINCT region) FROM raw.tagged_resources").fetchone()[0]
    by_region = {region: (status, count, detail) for region, status, count, detail in rows}
    assert {r: s for r, (s, _, _) in by_region.items()} == {
        "eu-west-1": "error",
        "us-east-1": "ok",
        "us-west-2": "ok",
    }
    detail = by_region["eu-west-1"][2]
    assert "region not enabled or credentials rejected" in detail
    assert (
        "Fix: region eu-west-1 is not enabled for this account" in detail and "FINOPS_SCAN_REGIONS" in detail
    )
    assert check_input == 2
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "every_account_region_scanned"
        and e.asset_check_evaluation_data.asset_key == dg.AssetKey("tagged_resources")
    )
    assert check.passed is False


def test_lock_timeout_setting_reaches_the_resource(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from finops_pipeline.config_resources import resources_for
    from finops_pipeline.settings import load_settings

    resources = resources_for(load_settings({"FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS": "7"}))
    assert resources["warehouse"].lock_timeout_seconds == 7
    assert resources_for(load_settings({}))["warehouse"].lock_timeout_seconds == 30
    assert os.environ.get("FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS") is None
