"""``finops doctor`` names the caller's scope: a member (or delegated administrator) sees only its own bill,
which is critical (exit 1) with the fix; member access disabled is not an IAM gap and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finops_pipeline.cli import main as finops_main
from finops_pipeline.doctor import EXIT_CRITICAL, EXIT_OK
from finops_pipeline.lib.caller_scope import MEMBER_ACCESS_FIX, PARTIAL_FIX
from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.pipeline_fixtures import SANDBOX_REGIONS
from finops_sandbox.caller_scope import OrgAccess
from finops_sandbox.moto_seed import MEMBER_ROLE_NAME


def _doctor(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    set_aws_env(monkeypatch, {"FINOPS_SCAN_REGIONS": SANDBOX_REGIONS, **env}, tmp_path)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = finops_main(["doctor", "--member-accounts", "1"])
    return code, json.loads(capsys.readouterr().out)


def _member(world: Any, index: int) -> str:
    rows = world.accounts.to_pylist()
    mgmt = world.management_account_id
    return [r["account_id"] for r in rows if r["status"] == "ACTIVE" and r["account_id"] != mgmt][index]


def _as(account: str) -> dict[str, str]:
    return {"AWS_ROLE_ARN": f"arn:aws:iam::{account}:role/{MEMBER_ROLE_NAME}"}


def test_management_account_sees_the_whole_bill(
    sandbox: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, report = _doctor(capsys, monkeypatch, tmp_path, sandbox.env())
    assert code == EXIT_OK
    assert report["caller_scope"]["role"] == "management"
    assert report["caller_scope"]["partial"] is False
    assert all(entry["area"] != "caller_scope" for entry in report["remediation"])


def test_delegated_administrator_is_critical_with_the_fix(
    sandbox: Any, sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = _member(sandbox.world, 0)
    view = sandbox_factory(access=OrgAccess(delegated_admins=frozenset({admin})))
    code, report = _doctor(capsys, monkeypatch, tmp_path, {**view.env(), **_as(admin)})
    assert code == EXIT_CRITICAL
    assert report["status"] == "critical"
    assert report["permissions"]["organizations"]["status"] == "ok"  # it lists every account ...
    scope = report["caller_scope"]
    assert (scope["role"], scope["partial"], scope["caller_account_id"]) == (
        "delegated_administrator",
        True,
        admin,
    )
    assert scope["management_account_id"] == sandbox.world.management_account_id
    first = report["remediation"][0]
    assert first["area"] == "caller_scope" and first["critical"] is True
    assert "delegated administrator" in first["problem"] and "only its own costs" in first["problem"]
    assert first["fix"] == PARTIAL_FIX  # ... but Cost Explorer shows it only its own costs


def test_member_with_cost_explorer_access_disabled(
    sandbox: Any, sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    member = _member(sandbox.world, 1)
    view = sandbox_factory(access=OrgAccess(member_ce_access=False))
    code, report = _doctor(capsys, monkeypatch, tmp_path, {**view.env(), **_as(member)})
    assert code == EXIT_CRITICAL
    assert report["caller_scope"]["role"] == "member"
    assert "ce:GetCostAndUsage" in report["critical_missing"]
    ce = report["permissions"]["cost_explorer"]["actions"]
    assert set(ce.values()) == {"member_access_disabled"}
    entry = next(e for e in report["remediation"] if e.get("action") == "ce:GetCostAndUsage")
    assert entry["fix"] == MEMBER_ACCESS_FIX + "."
    assert "allow ce:" not in entry["fix"]
    assert report["permissions"]["organizations"]["actions"]["organizations:ListAccounts"] == "denied"
