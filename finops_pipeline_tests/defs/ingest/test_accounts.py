"""aws_accounts: the organisation as the sandbox built it, or the caller alone in single-account mode."""

from pathlib import Path
from typing import Any

import duckdb

from finops_pipeline.defs.ingest.accounts import TAGS_SOURCE
from finops_pipeline_tests.pipeline_fixtures import run_pipeline


def test_accounts_match_the_organisation(ingested_warehouse: Path, sandbox: Any) -> None:
    world = sandbox.world.accounts.to_pylist()
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        rows = conn.execute(
            "SELECT account_id, account_name, email, status, ou_path, is_management FROM raw.aws_accounts"
        ).fetchall()
    actual = {r[0]: r[1:] for r in rows}
    assert len(actual) == 13
    for account in world:
        name, email, status, ou_path, is_management = actual[account["account_id"]]
        assert (name, email, status) == (account["account_name"], account["email"], account["status"])
        assert is_management == (account["account_id"] == sandbox.world.management_account_id)
        if account["ou_name"]:
            assert ou_path.endswith("/" + account["ou_name"])
    assert [r[3] for r in rows].count("SUSPENDED") == 1


def test_single_account_mode_reads_only_the_caller_without_organizations(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    database = tmp_path / "single.duckdb"
    pipeline_env_for(database, SINGLE_ACCOUNT_MODE="true")
    result = run_pipeline(assets=["aws_accounts", "tagged_resources"])
    assert result.success
    with duckdb.connect(str(database), read_only=True) as conn:
        accounts = conn.execute("SELECT account_id, is_management FROM raw.aws_accounts").fetchall()
        operations = {r[0] for r in conn.execute("SELECT DISTINCT service FROM meta.api_calls").fetchall()}
        scanned = {r[0] for r in conn.execute("SELECT DISTINCT account_id FROM raw.scan_status").fetchall()}
        resources = conn.execute("SELECT count(*) FROM raw.tagged_resources").fetchone()[0]
    management = sandbox.world.management_account_id
    assert accounts == [(management, True)]
    assert "organizations" not in operations
    assert scanned == {management}
    expected = [
        r
        for r in sandbox.world.resources.to_pylist()
        if r["account_id"] == management and not r["never_tagged"]
    ]
    assert resources == len({r["arn"] for r in expected})


def test_account_tags_read_ok_are_recorded(ingested_warehouse: Path, sandbox: Any) -> None:
    """Every account's ListTagsForResource answered: one ok status row each, and tags are an object."""
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        statuses = conn.execute(
            "SELECT status, region, count(*) FROM raw.scan_status WHERE source = ? GROUP BY ALL",
            [TAGS_SOURCE],
        ).fetchall()
        unknown = conn.execute("SELECT count(*) FROM raw.aws_accounts WHERE tags IS NULL").fetchone()[0]
    assert statuses == [("ok", "global", len(sandbox.world.accounts))]
    assert unknown == 0


def test_refused_account_tags_are_unknown_not_empty(
    tmp_path: Path, pipeline_env_for: Any, sandbox_factory: Any
) -> None:
    """Organizations refusing ListTagsForResource must not read as "this account has no tags"."""
    from finops_sandbox.faults import Faults

    database = tmp_path / "tags_refused.duckdb"
    pipeline_env_for(
        database, sandbox_factory(faults=Faults(deny_operations=frozenset({"ListTagsForResource"})))
    )
    result = run_pipeline(assets=["aws_accounts"])
    assert result.success  # degraded, not failed
    with duckdb.connect(str(database), read_only=True) as conn:
        tags = conn.execute("SELECT tags FROM raw.aws_accounts").fetchall()
        statuses = conn.execute(
            "SELECT status, count(*) FROM raw.scan_status WHERE source = ? GROUP BY ALL", [TAGS_SOURCE]
        ).fetchall()
    accounts = 13  # the session world's, as test_accounts_match_the_organisation counts them
    assert tags == [(None,)] * accounts
    assert statuses == [("access_denied", accounts)]
    [check] = [
        c
        for c in result.get_asset_check_evaluations()
        if c.asset_key.to_user_string() == "aws_accounts" and c.check_name == "every_account_region_scanned"
    ]
    assert not check.passed
    assert check.metadata["failed_scans"].value == accounts
    materialization = result.asset_materializations_for_node("aws_accounts")[0]
    assert materialization.metadata["accounts_tags_unknown"].value == accounts
