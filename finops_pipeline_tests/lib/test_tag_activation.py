"""Inactive cost allocation tags end to end: a sandbox where CostCenter was never activated and Project was
activated ten days ago.

Cost Explorer then puts every CostCenter dollar (and Project's before its activation) in ``Key$``. The
doctor names the inactive key and the fix, the ingest check warns, and spend coverage calls that spend
unknown instead of untagged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.cli import main as finops_main
from finops_pipeline.lib.reporting.datasets import spend_coverage_caveat
from finops_pipeline.lib.tag_activation import fix_text
from finops_pipeline_tests.conftest import (
    SANDBOX_AS_OF,
    BackgroundSandbox,
    sandbox_config,
    set_aws_env,
    start_background_sandbox,
)
from finops_pipeline_tests.pipeline_fixtures import pipeline_env, run_pipeline, step_failures
from finops_sandbox.cost_explorer.tags import default_activation

ACTIVATED = SANDBOX_AS_OF - dt.timedelta(days=10)
START = SANDBOX_AS_OF - dt.timedelta(days=35)
REQUIRED = ("Environment", "Owner", "Project", "CostCenter")


@pytest.fixture(scope="module")
def inactive_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundSandbox]:
    config = sandbox_config(inactive_tag_keys=("CostCenter",), tag_activation_dates=(("Project", ACTIVATED),))
    handle = start_background_sandbox(tmp_path_factory.mktemp("inactive-tags"), config, None)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def warehouse(inactive_sandbox: BackgroundSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Cost by tag of the last 35 days, the activation snapshot and the compliance summary."""
    folder = tmp_path_factory.mktemp("inactive-warehouse")
    database = folder / "finops.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(inactive_sandbox.env(), database), folder)
        result = run_pipeline(
            START,
            SANDBOX_AS_OF,
            assets=["ce_cost_by_tag", "ce_cost_allocation_tags", "tag_compliance_summary"],
        )
        assert result.success, step_failures(result)
    finally:
        monkeypatch.undo()
    conn = duckdb.connect(str(database), read_only=True)
    yield {"conn": conn, "result": result}
    conn.close()


def test_doctor_names_the_inactive_key_and_the_fix(
    inactive_sandbox: BackgroundSandbox, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_aws_env(monkeypatch, {**inactive_sandbox.env(), "SINGLE_ACCOUNT_MODE": "true"}, tmp_path)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    code = finops_main(["doctor"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0  # documented: only non-critical gaps -> degraded, exit 0
    assert report["status"] == "degraded" and report["missing"] == []
    activation = report["tag_activation"]
    assert activation["inactive_required_keys"] == ["CostCenter"]
    assert activation["active_from"]["Project"] == (ACTIVATED + dt.timedelta(days=1)).isoformat()
    fix = next(r for r in report["remediation"] if r["area"] == "cost_allocation_tags")
    assert fix["tag_keys"] == ["CostCenter"]
    assert (
        "update-cost-allocation-tags-status --cost-allocation-tags-status TagKey=CostCenter,Status=Active"
        in (fix["fix"])
    )
    assert (
        "start-cost-allocation-tag-backfill" in fix["fix"]
        and "Billing and Cost Management console" in fix["fix"]
    )
    assert fix["fix"] == fix_text(["CostCenter"], SANDBOX_AS_OF)
    capsys.readouterr()
    assert finops_main(["doctor", "--strict"]) == 1


def test_key_dollar_spend_of_the_inactive_key_equals_the_ledger(warehouse: dict, sandbox: Any) -> None:
    rows = (
        warehouse["conn"]
        .execute(
            "SELECT tag_value, sum(unblended_cost) FROM raw.ce_cost_by_tag "
            "WHERE tag_key = 'CostCenter' GROUP BY 1"
        )
        .fetchall()
    )
    # The ledger does not depend on activation: the session sandbox's world is the same organisation.
    truth = sum(
        (r["amount"] for r in sandbox.world.truth_totals("DAILY").to_pylist() if r["period_start"] >= START),
        Decimal(0),
    )
    assert rows == [("", truth)]
    project = (
        warehouse["conn"]
        .execute(
            "SELECT usage_date < ?, count(DISTINCT tag_value) FROM raw.ce_cost_by_tag "
            "WHERE tag_key = 'Project' GROUP BY 1 ORDER BY 1",
            [ACTIVATED],
        )
        .fetchall()
    )
    assert project[0][1] > 2 and project[1] == (True, 1)  # values after activation, only '' before


def test_the_activation_check_warns_with_the_inactive_keys(warehouse: dict, sandbox: Any) -> None:
    (check,) = [
        c
        for c in warehouse["result"].get_asset_check_evaluations()
        if c.check_name == "required_tag_keys_active"
    ]
    assert check.passed is False and check.severity.value == "WARN"
    assert check.metadata["inactive_required_keys"].value == "CostCenter"
    assert "update-cost-allocation-tags-status" in check.metadata["fix"].value
    snapshot = (
        warehouse["conn"]
        .execute(
            "SELECT tag_key, status, active_from FROM raw.ce_cost_allocation_tags "
            "WHERE is_required ORDER BY 1"
        )
        .fetchall()
    )
    always = default_activation(sandbox.world.history_start) + dt.timedelta(days=1)
    assert snapshot == [
        ("CostCenter", "Inactive", None),
        ("Environment", "Active", always),
        ("Owner", "Active", always),
        ("Project", "Active", ACTIVATED + dt.timedelta(days=1)),
    ]


def _summary(conn: Any) -> dict[str, dict[str, Any]]:
    cursor = conn.execute(
        "SELECT * FROM marts.tag_compliance_summary "
        "WHERE dimension IN ('tag_key', 'overall') AND snapshot_date = ?",
        [SANDBOX_AS_OF],
    )
    names = [d[0] for d in cursor.description]
    return {row[2]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_coverage_is_unknown_for_the_inactive_key_not_zero(warehouse: dict) -> None:
    conn = warehouse["conn"]
    summary = _summary(conn)
    cost_center = summary["CostCenter"]
    assert cost_center["spend_coverage_pct"] is None and cost_center["spend_coverage_status"] == "unknown"
    assert cost_center["spend_unknown_usd"] == cost_center["spend_usd"] > 0
    assert cost_center["keys_not_active"] == ["CostCenter"]
    assert summary["Environment"]["spend_coverage_status"] == "known"
    assert summary["Environment"]["spend_unknown_usd"] == 0
    # Project: coverage over the days since its activation only (the activation day itself is unknown).
    window_start, window_end = (
        summary["Project"]["spend_window_start"],
        summary["Project"]["spend_window_end"],
    )
    trusted = ACTIVATED + dt.timedelta(days=1)
    known, tagged = conn.execute(
        "SELECT sum(unblended_cost), sum(unblended_cost) FILTER (WHERE tag_value <> '') "
        "FROM raw.ce_cost_by_tag WHERE tag_key = 'Project' AND usage_date >= ? AND usage_date < ?",
        [trusted, window_end],
    ).fetchone()
    project = summary["Project"]
    assert project["spend_coverage_status"] == "partial"
    assert project["spend_coverage_pct"] == pytest.approx(100 * float(tagged) / float(known))
    assert project["spend_coverage_pct"] > 50  # not the ~0% the Key$ days would drag it to
    assert window_start < trusted
    overall = summary["all"]
    assert overall["spend_coverage_status"] == "partial"
    assert overall["keys_not_active"] == ["CostCenter", "Project"]
    assert overall["spend_coverage_pct"] > 50


def test_the_report_says_which_spend_coverage_is_unknown(warehouse: dict) -> None:
    conn = warehouse["conn"]
    caveat = spend_coverage_caveat(conn)
    unknown = _summary(conn)["all"]["spend_unknown_usd"]
    assert caveat is not None and "CostCenter, Project" in caveat and f"${float(unknown):,.2f}" in caveat
    sql = (files("finops_pipeline.lib.reporting") / "sql" / "compliance_summary.sql").read_text()
    rows = conn.execute(sql, {"end": SANDBOX_AS_OF + dt.timedelta(days=1)}).fetchall()
    names = [d[0] for d in conn.description]
    by_value = {row[names.index("dimension_value")]: dict(zip(names, row, strict=True)) for row in rows}
    assert by_value["CostCenter"]["spend_coverage_status"] == "unknown"
    assert by_value["CostCenter"]["spend_coverage_pct"] is None
    assert by_value["all"]["keys_not_active"] == "CostCenter, Project"
