"""A run's caller scope: recorded in raw.caller_scope, and the checks that stop a partial bill passing.

A delegated administrator of Organizations lists all 13 accounts while Cost Explorer answers for its
own account only: the reconciliation agrees to the cent (both sides are that one account) and must
still fail, and the coverage check names the counts. The management account passes both.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc

from finops_pipeline.clock import first_of_month_months_ago, today_utc
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures
from finops_sandbox.caller_scope import ORGANIZATION_VIEW, OrgAccess
from finops_sandbox.moto_seed import MEMBER_ROLE_NAME

ASSETS = ["aws_accounts", "ce_cost_daily", "ce_anomalies"]


def _member(world: Any, index: int = 0) -> str:
    rows = world.accounts.to_pylist()
    members = [
        r["account_id"]
        for r in rows
        if r["status"] == "ACTIVE" and r["account_id"] != world.management_account_id
    ]
    return members[index]


def _checks(result: Any) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _run_as(account: str | None, tmp_path: Path, pipeline_env_for: Any, endpoint: Any) -> tuple[Any, Path]:
    database = tmp_path / "finops.duckdb"
    extra = {"AWS_ROLE_ARN": f"arn:aws:iam::{account}:role/{MEMBER_ROLE_NAME}"} if account else {}
    pipeline_env_for(database, endpoint, **extra)
    start = first_of_month_months_ago(today_utc(), 1)
    return run_pipeline(start, today_utc(), assets=ASSETS), database


def _ledger_month(world: Any, account: str) -> Decimal:
    month = first_of_month_months_ago(today_utc(), 1)
    ledger = world.ledger
    keep = pc.and_(
        pc.equal(ledger["account_id"], account),
        pc.and_(
            pc.greater_equal(ledger["usage_date"], month),
            pc.less(ledger["usage_date"], first_of_month_months_ago(today_utc(), 0)),
        ),
    )
    return Decimal(pc.sum(ledger.filter(keep)["unblended_cost"]).as_py())


def test_delegated_administrator_run_is_labelled_partial_and_flagged(
    sandbox: Any, sandbox_factory: Any, tmp_path: Path, pipeline_env_for: Any
) -> None:
    world = sandbox.world
    admin = _member(world)
    view = sandbox_factory(access=OrgAccess(delegated_admins=frozenset({admin})))
    result, database = _run_as(admin, tmp_path, pipeline_env_for, view)
    assert result.success, step_failures(result)
    with duckdb.connect(str(database), read_only=True) as conn:
        role, partial, caller, management, org_accounts = conn.execute(
            "SELECT role, partial, caller_account_id, management_account_id, organization_accounts "
            "FROM raw.caller_scope"
        ).fetchone()
        ce_accounts = [
            r[0] for r in conn.execute("SELECT DISTINCT account_id FROM raw.ce_cost_daily").fetchall()
        ]
        month_total = conn.execute(
            "SELECT sum(unblended_cost) FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ?",
            [first_of_month_months_ago(today_utc(), 1), first_of_month_months_ago(today_utc(), 0)],
        ).fetchone()[0]
    assert (role, partial, caller, management) == (
        "delegated_administrator",
        True,
        admin,
        world.management_account_id,
    )
    assert org_accounts == world.accounts.num_rows
    assert ce_accounts == [admin]
    assert month_total == _ledger_month(world, admin)

    checks = _checks(result)
    coverage = checks["cost_explorer_covers_the_organization"]
    assert not coverage.passed
    meta = {k: v.value for k, v in coverage.metadata.items()}
    assert meta["caller_role"] == "delegated_administrator"
    assert meta["organization_accounts"] == world.accounts.num_rows
    assert meta["cost_explorer_accounts"] == 1
    assert meta["accounts_missing_from_cost_explorer"] == world.accounts.num_rows - 1
    assert "management account" in meta["why"] and "FINOPS_BILLING_VIEW_ARN" in meta["why"]

    reconciliation = checks["last_month_matches_cost_explorer"]
    assert reconciliation.metadata["difference_usd"].value == 0  # equally partial sides agree ...
    assert reconciliation.metadata["partial_bill"].value is True
    assert not reconciliation.passed  # ... and no longer pass

    # Anomalies: the admin's own monitor, its own account's anomalies only, and the run says so.
    with duckdb.connect(str(database), read_only=True) as conn:
        monitors, accounts, count = conn.execute(
            "SELECT list(DISTINCT split_part(monitor_arn, ':', 5)), "
            "list(DISTINCT json_extract_string(root_causes, '$[0].LinkedAccount')), count(*) "
            "FROM raw.ce_anomalies"
        ).fetchone()
    assert count > 0 and monitors == [admin] and accounts == [admin]
    anomalies = checks["anomalies_cover_the_organization"]
    assert not anomalies.passed
    assert anomalies.metadata["caller_role"].value == "delegated_administrator"
    assert "takes no billing view" in anomalies.metadata["why"].value


def test_plain_member_run_fails_with_the_fix(
    sandbox: Any, sandbox_factory: Any, tmp_path: Path, pipeline_env_for: Any
) -> None:
    member = _member(sandbox.world, 1)
    result, database = _run_as(member, tmp_path, pipeline_env_for, sandbox_factory())
    assert not result.success
    message = " ".join(step_failures(result))
    assert f"account {member} is a member account" in message
    assert "Fix: run the pipeline with credentials of the management (payer) account" in message
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT role, partial FROM raw.caller_scope").fetchone() == ("member", True)


def test_management_run_covers_the_organization(sandbox: Any, tmp_path: Path, pipeline_env_for: Any) -> None:
    result, _ = _run_as(None, tmp_path, pipeline_env_for, sandbox)
    assert result.success, step_failures(result)
    checks = _checks(result)
    coverage = checks["cost_explorer_covers_the_organization"]
    assert coverage.passed
    assert coverage.metadata["caller_role"].value == "management"
    assert coverage.metadata["cost_explorer_accounts"].value > 1
    assert checks["last_month_matches_cost_explorer"].passed
    assert checks["anomalies_cover_the_organization"].passed


def test_billing_view_of_the_organization_gives_a_member_the_whole_bill(
    sandbox: Any, sandbox_factory: Any, tmp_path: Path, pipeline_env_for: Any, monkeypatch: Any
) -> None:
    world = sandbox.world
    admin = _member(world)
    access = OrgAccess(delegated_admins=frozenset({admin}), billing_view_shared_with=frozenset({admin}))
    view = sandbox_factory(access=access)
    arn = f"arn:aws:billing::{world.management_account_id}:billingview/{ORGANIZATION_VIEW}"
    monkeypatch.setenv("FINOPS_BILLING_VIEW_ARN", arn)
    result, database = _run_as(admin, tmp_path, pipeline_env_for, view)
    assert result.success, step_failures(result)
    checks = _checks(result)
    assert checks["cost_explorer_covers_the_organization"].passed
    assert checks["last_month_matches_cost_explorer"].passed
    assert not checks["anomalies_cover_the_organization"].passed  # a billing view does not cover anomalies
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT role, partial, billing_view_arn FROM raw.caller_scope").fetchone() == (
            "delegated_administrator",
            False,
            arn,
        )
        accounts = conn.execute("SELECT count(DISTINCT account_id) FROM raw.ce_cost_daily").fetchone()[0]
    start = first_of_month_months_ago(today_utc(), 1)
    in_window = world.ledger.filter(pc.greater_equal(world.ledger["usage_date"], start))
    assert accounts == len(pc.unique(in_window["account_id"])) > 1
