"""A run records its target; a warehouse filled from one target refuses a run against another."""

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finops_pipeline.lib.run_target import TARGET_TAG, target_name
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:43875", "sandbox:123456789012"),
        ("http://localhost:4566", "sandbox:123456789012"),
        ("http://[::1]:4566", "sandbox:123456789012"),
        ("https://sts.amazonaws.com", "aws:123456789012"),
        ("https://sts.cn-north-1.amazonaws.com.cn", "aws:123456789012"),
        ("https://sts.us-east-1.api.aws", "aws:123456789012"),
        ("https://aws.example.internal:8443", "endpoint:aws.example.internal:123456789012"),
    ],
)
def test_the_target_names_the_kind_of_endpoint_and_the_account(endpoint: str, expected: str) -> None:
    assert target_name(endpoint, "123456789012") == expected


def test_a_run_tags_its_target_and_a_warehouse_of_another_target_refuses_it(
    tmp_path: Path, project: Path, sandbox: object, pipeline_env_for: Callable[..., dict[str, str]]
) -> None:
    database = tmp_path / "data" / "finops.duckdb"  # a folder that does not exist yet, as in a fresh clone
    pipeline_env_for(database)
    management = sandbox.world.management_account_id  # type: ignore[attr-defined]
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = run_pipeline(assets=["aws_accounts"], instance=instance)
        assert first.success, step_failures(first)
        assert instance.get_run_by_id(first.run_id).tags[TARGET_TAG] == f"sandbox:{management}"
        (event,) = [e for e in instance.all_logs(first.run_id) if "Run target" in (e.message or "")]
        assert event.dagster_event.engine_event_data.metadata["account_id"].value == management
        with duckdb.connect(str(database)) as conn:
            assert conn.execute("SELECT target FROM meta.warehouse_target").fetchall() == [
                (f"sandbox:{management}",)
            ]
            accounts = conn.execute("SELECT count(*) FROM raw.aws_accounts").fetchone()[0]
            # the same file as if AWS had filled it
            conn.execute("UPDATE meta.warehouse_target SET target = 'aws:111122223333'")
            conn.execute("DELETE FROM raw.aws_accounts WHERE NOT is_management")
        second = run_pipeline(assets=["aws_accounts"], instance=instance)
    assert not second.success
    message = "\n".join(step_failures(second))
    assert "holds data from aws:111122223333" in message
    assert f"this run's target is sandbox:{management}" in message
    assert "FINOPS_DUCKDB_PATH" in message
    with duckdb.connect(str(database), read_only=True) as conn:  # nothing written: one account left
        assert conn.execute("SELECT count(*) FROM raw.aws_accounts").fetchone()[0] == 1 < accounts
