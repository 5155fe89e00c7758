"""``finops doctor`` against the sandbox: all granted, Cost Explorer denied, a member role denied in one
account, a region not enabled, no credentials; and ``diagnose_credentials`` for each strategy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finops_pipeline.cli import main as finops_main
from finops_pipeline.doctor import diagnose_credentials
from finops_pipeline.doctor_probes import SERVICE_PROBES
from finops_pipeline_tests.conftest import finops_cli, set_aws_env
from finops_pipeline_tests.pipeline_fixtures import SANDBOX_REGIONS
from finops_sandbox.faults import Faults

CE_ACTIONS = {
    "ce:GetCostAndUsage",
    "ce:GetAnomalies",
    "ce:GetCostForecast",
    "ce:GetReservationPurchaseRecommendation",
    "ce:GetSavingsPlansPurchaseRecommendation",
    "ce:GetRightsizingRecommendation",
    "ce:ListCostAllocationTags",
    "ce:ListCostAllocationTagBackfillHistory",
    "ce:GetSavingsPlansUtilization",
    "ce:GetSavingsPlansUtilizationDetails",
    "ce:GetSavingsPlansCoverage",
    "ce:GetReservationUtilization",
    "ce:GetReservationCoverage",
}


def _doctor(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str],
    *args: str,
) -> tuple[int, dict[str, Any]]:
    set_aws_env(monkeypatch, {"FINOPS_SCAN_REGIONS": SANDBOX_REGIONS, **env}, tmp_path)
    monkeypatch.chdir(tmp_path)  # no .env of the project
    capsys.readouterr()
    code = finops_main(["doctor", *args])
    return code, json.loads(capsys.readouterr().out)


def _member_accounts(sandbox: Any) -> list[str]:
    rows = sandbox.world.accounts.to_pylist()
    return sorted(
        r["account_id"]
        for r in rows
        if r["status"] == "ACTIVE" and r["account_id"] != sandbox.world.management_account_id
    )


def test_all_granted(sandbox: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, report = _doctor(capsys, monkeypatch, tmp_path, sandbox.env())
    assert code == 0
    assert report["status"] == "ok"
    assert report["critical_missing"] == [] and report["missing"] == []
    assert report["region"] == "us-east-1"
    assert report["auth_strategy"] == "static_keys"
    assert report["caller"]["account_id"] == sandbox.world.management_account_id
    assert set(report["permissions"]) == {
        "cost_explorer",
        "organizations",
        "tagging",
        "ec2",
        "inventory",  # the other services' list calls and CloudWatch GetMetricData
        "commitments",  # Savings Plans and reservation inventories, CE utilization and coverage
        "budgets",
        "member_role",
    }
    assert all(area["status"] == "ok" for area in report["permissions"].values())
    assert set(report["permissions"]["inventory"]["actions"]) == {a for a, _, _ in SERVICE_PROBES}
    assert set(report["permissions"]["cost_explorer"]["actions"]) == CE_ACTIONS
    member = report["permissions"]["member_role"]
    assert member["accounts_probed"] == member["accounts_ok"] == len(_member_accounts(sandbox))
    assert report["remediation"] == []
    assert report["ce_requests"] == len(CE_ACTIONS) and report["ce_cost_usd"] == 0.13
    assert report["tag_activation"]["inactive_required_keys"] == []
    assert set(report["tag_activation"]["active_from"]) == {"Environment", "Owner", "Project", "CostCenter"}


def test_progress_goes_to_stderr_one_line_per_group_and_tenth_of_accounts(
    sandbox: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_aws_env(monkeypatch, {"FINOPS_SCAN_REGIONS": SANDBOX_REGIONS, **sandbox.env()}, tmp_path)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert finops_main(["doctor"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == "ok"  # stdout stays the JSON report alone
    lines = [line for line in err.splitlines() if line.startswith("doctor: ")]
    members = len(_member_accounts(sandbox))
    caller = sandbox.world.management_account_id
    assert lines[0].startswith("doctor: credentials of arn:aws:") and lines[0].endswith(" accepted")
    assert lines[1].startswith(f"doctor: Cost Explorer: {len(CE_ACTIONS)} checks in ")
    assert lines[2].startswith("doctor: Organizations: ") and lines[3].startswith(
        f"doctor: caller account {caller}: "
    )
    # a line each tenth of the accounts, then the group's own line
    every = max(1, members // 10)
    probed = [f"doctor: member role: {n} of {members} accounts probed" for n in range(every, members, every)]
    assert lines[4:-1] == probed and lines[-1].startswith(f"doctor: member role in {members} accounts: ")
    assert finops_main(["doctor", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == "ok" and "doctor: " not in err


def test_cost_explorer_denied_is_critical(
    sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    view = sandbox_factory(faults=Faults(deny_operations=frozenset({"GetCostAndUsage", "GetAnomalies"})))
    code, report = _doctor(capsys, monkeypatch, tmp_path, view.env())
    assert code == 1
    assert report["status"] == "critical"
    assert report["critical_missing"] == ["ce:GetCostAndUsage"]
    assert report["missing"] == ["ce:GetAnomalies", "ce:GetCostAndUsage"]
    assert report["permissions"]["cost_explorer"]["status"] == "missing"
    assert report["permissions"]["organizations"]["status"] == "ok"
    fix = next(r for r in report["remediation"] if r["action"] == "ce:GetCostAndUsage")
    assert fix["critical"] is True
    assert "iam/central-role-policy.json (statement CostExplorerRead)" in fix["fix"]
    assert report["caller"]["arn"] in fix["fix"]


def test_cost_explorer_not_enabled_is_critical_with_the_console_fix_not_an_iam_grant(
    sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    view = sandbox_factory(faults=Faults(ce_refusals="not-enabled,rightsizing-opt-in"))
    code, report = _doctor(capsys, monkeypatch, tmp_path, view.env())
    assert code == 1 and report["status"] == "critical"
    assert "ce:GetCostAndUsage" in report["critical_missing"]
    fixes = [r["fix"] for r in report["remediation"] if r.get("action", "").startswith("ce:")]
    assert len(fixes) == len(CE_ACTIONS)
    assert all(f.startswith("Cost Explorer is not enabled for this account") for f in fixes)
    assert not any("iam/central-role-policy.json" in f for f in fixes)


def test_member_role_denied_in_one_account_is_degraded(
    sandbox: Any, sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    denied = _member_accounts(sandbox)[1]
    view = sandbox_factory(faults=Faults(deny_accounts=frozenset({denied})))
    code, report = _doctor(capsys, monkeypatch, tmp_path, view.env())
    assert code == 0  # the other accounts are scanned; the gap is reported, not fatal
    assert report["status"] == "degraded"
    assert report["critical_missing"] == []
    member = report["permissions"]["member_role"]
    assert member["status"] == "missing"
    assert member["accounts_failed"] == [denied]
    assert member["accounts_ok"] == len(_member_accounts(sandbox)) - 1
    assert {f["account_id"] for f in member["failures"]} == {denied}
    assert "tag:GetResources" in report["missing"]
    fix = next(r for r in report["remediation"] if r["action"] == "tag:GetResources")
    assert fix["accounts"] == [denied] and "iam/member-role-policy.json" in fix["fix"]
    # --strict turns any gap into exit code 1
    strict, _ = _doctor(capsys, monkeypatch, tmp_path, view.env(), "--strict")
    assert strict == 1


def test_region_not_enabled_names_the_region(
    sandbox_factory: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    view = sandbox_factory(faults=Faults(disabled_region="eu-west-1"))
    code, report = _doctor(capsys, monkeypatch, tmp_path, view.env())
    assert code == 0 and report["status"] == "degraded"
    failures = report["permissions"]["tagging"]["failures"]
    assert [(f["region"], f["status"]) for f in failures] == [("eu-west-1", "region_not_enabled")]
    fix = next(r for r in report["remediation"] if r["area"] == "tagging")
    assert fix["regions"] == ["eu-west-1"] and "FINOPS_SCAN_REGIONS" in fix["fix"]


def test_no_credentials_is_an_authentication_error(
    sandbox: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    env = {k: v for k, v in sandbox.env().items() if "KEY" not in k}
    code, report = _doctor(capsys, monkeypatch, tmp_path, {**env, "AWS_EC2_METADATA_DISABLED": "true"})
    assert code == 2
    assert report["status"] == "error"
    assert report["auth_strategy"] == "none"
    assert report["credentials"]["base_chain_has_credentials"] is False
    assert "No AWS credentials were found" in report["error"]
    assert "Fix:" in report["remediation"][0]["fix"]
    assert report["ce_requests"] == 0


def test_bad_setting_is_a_runtime_error(capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, report = _doctor(capsys, monkeypatch, tmp_path, {"FINOPS_MAX_CONCURRENCY": "lots"})
    assert code == 2 and report["status"] == "error"
    assert "FINOPS_MAX_CONCURRENCY='lots'" in report["error"]


def test_console_script_exit_code_and_json(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_aws_env(monkeypatch, {**sandbox.env(), "SINGLE_ACCOUNT_MODE": "true"}, tmp_path)
    monkeypatch.chdir(tmp_path)
    done = finops_cli("doctor", timeout=120)
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert report["status"] == "ok"
    assert "organizations" not in report["permissions"] and "member_role" not in report["permissions"]


@pytest.mark.parametrize(
    ("env", "role", "strategy", "static"),
    [
        (
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
            None,
            "static_keys",
            True,
        ),
        (
            {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
            "arn:aws:iam::111122223333:role/FinOpsCentralReadOnly",
            "assume_role",
            True,
        ),
        ({"AWS_PROFILE": "finops"}, None, "default_chain", False),
        ({}, None, "none", False),
    ],
)
def test_diagnose_credentials(
    env: dict[str, str],
    role: str | None,
    strategy: str,
    static: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config"
    config.write_text(
        "[profile finops]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n"
    )
    set_aws_env(monkeypatch, {**env, "AWS_EC2_METADATA_DISABLED": "true"}, tmp_path)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    result = diagnose_credentials(role)
    assert result["auth_strategy"] == strategy
    assert result["role_arn"] == role
    assert result["has_static_keys"] is static
    assert result["base_chain_has_credentials"] is (strategy != "none")
    assert (result["remediation"] is None) is (strategy in ("assume_role", "default_chain"))
    assert "s3cr3t" not in json.dumps(result) and "profile-secret" not in json.dumps(result)
