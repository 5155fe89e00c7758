"""Cost allocation tag backfills: a backfill requested after a key's activation makes its spend trusted
from the backfill's start month, so spend coverage stops calling those days unknown.

The sandbox: Project activated ten days before as_of and backfilled (requested the day after) from the 1st
of the month two months back; CostCenter never activated (a backfill cannot help it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.cli import main as finops_main
from finops_pipeline.lib.tag_activation import active_from, fix_text, next_backfill
from finops_pipeline_tests.conftest import (
    SANDBOX_AS_OF,
    BackgroundSandbox,
    sandbox_config,
    set_aws_env,
    start_background_sandbox,
)
from finops_pipeline_tests.pipeline_fixtures import pipeline_env, run_pipeline, step_failures

ACTIVATED = SANDBOX_AS_OF - dt.timedelta(days=10)
REQUESTED = ACTIVATED + dt.timedelta(days=1)
BACKFILL_FROM = (SANDBOX_AS_OF.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
START = SANDBOX_AS_OF - dt.timedelta(days=35)


def _zoned(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _tag(updated: dt.date) -> dict[str, Any]:
    return {"TagKey": "Project", "Status": "Active", "LastUpdatedDate": _zoned(updated)}


def _backfill(start: dt.date, requested: dt.date, status: str = "SUCCEEDED") -> dict[str, Any]:
    return {"BackfillFrom": _zoned(start), "RequestedAt": _zoned(requested), "BackfillStatus": status}


@pytest.mark.parametrize(
    ("backfills", "expected"),
    [
        ([], ACTIVATED + dt.timedelta(days=1)),
        ([_backfill(BACKFILL_FROM, REQUESTED)], BACKFILL_FROM),
        ([_backfill(BACKFILL_FROM, ACTIVATED - dt.timedelta(days=1))], ACTIVATED + dt.timedelta(days=1)),
        ([_backfill(BACKFILL_FROM, REQUESTED, "PROCESSING")], ACTIVATED + dt.timedelta(days=1)),
        (
            [_backfill(BACKFILL_FROM, REQUESTED), _backfill(dt.date(2026, 1, 1), SANDBOX_AS_OF)],
            dt.date(2026, 1, 1),
        ),
    ],
    ids=["none", "after-activation", "before-activation", "processing", "earliest-wins"],
)
def test_active_from_counts_only_completed_backfills_requested_since_activation(
    backfills: list[dict[str, Any]], expected: dt.date
) -> None:
    assert active_from(_tag(ACTIVATED), backfills) == expected


def test_the_fix_says_when_the_next_backfill_is_allowed() -> None:
    assert next_backfill(SANDBOX_AS_OF, [_backfill(BACKFILL_FROM, SANDBOX_AS_OF)]) == _zoned(
        SANDBOX_AS_OF + dt.timedelta(days=1)
    )
    assert next_backfill(SANDBOX_AS_OF, [_backfill(BACKFILL_FROM, REQUESTED)]) is None
    text = fix_text(["CostCenter"], SANDBOX_AS_OF, [_backfill(BACKFILL_FROM, SANDBOX_AS_OF)])
    assert "once the activation has taken effect" in text
    assert f"next is possible from {_zoned(SANDBOX_AS_OF + dt.timedelta(days=1))}" in text


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundSandbox]:
    config = sandbox_config(
        inactive_tag_keys=("CostCenter",),
        tag_activation_dates=(("Project", ACTIVATED),),
        tag_backfills=((BACKFILL_FROM, REQUESTED),),
    )
    handle = start_background_sandbox(tmp_path_factory.mktemp("backfilled-tags"), config, None)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def warehouse(backfilled: BackgroundSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("backfill-warehouse")
    database = folder / "finops.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(backfilled.env(), database), folder)
        result = run_pipeline(
            START,
            SANDBOX_AS_OF,
            assets=["ce_cost_by_tag", "ce_cost_allocation_tags", "tag_compliance_summary"],
        )
        assert result.success, step_failures(result)
    finally:
        monkeypatch.undo()
    conn = duckdb.connect(str(database), read_only=True)
    yield conn
    conn.close()


def test_the_backfilled_key_is_trusted_from_the_backfill_month(warehouse: Any) -> None:
    snapshot = dict(
        warehouse.execute(
            "SELECT tag_key, active_from FROM raw.ce_cost_allocation_tags "
            "WHERE tag_key IN ('Project', 'CostCenter')"
        ).fetchall()
    )
    assert snapshot == {"Project": BACKFILL_FROM, "CostCenter": None}
    calls = dict(
        warehouse.execute(
            "SELECT operation, sum(calls) FROM meta.api_calls WHERE service = 'ce' GROUP BY 1"
        ).fetchall()
    )
    assert calls["ListCostAllocationTagBackfillHistory"] == 1  # one request buys the backfill history


def test_coverage_of_the_backfilled_key_is_known_again(warehouse: Any) -> None:
    rows = warehouse.execute(
        "SELECT * FROM marts.tag_compliance_summary WHERE dimension = 'tag_key' AND snapshot_date = ?",
        [SANDBOX_AS_OF],
    )
    names = [d[0] for d in rows.description]
    summary = {row[2]: dict(zip(names, row, strict=True)) for row in rows.fetchall()}
    project = summary["Project"]
    assert project["spend_window_start"] >= BACKFILL_FROM  # the whole window is after the backfill's start
    assert (project["spend_coverage_status"], project["spend_unknown_usd"]) == ("known", 0)
    known, tagged = warehouse.execute(
        "SELECT sum(unblended_cost), sum(unblended_cost) FILTER (WHERE tag_value <> '') "
        "FROM raw.ce_cost_by_tag WHERE tag_key = 'Project' AND usage_date >= ? AND usage_date < ?",
        [project["spend_window_start"], project["spend_window_end"]],
    ).fetchone()
    assert project["spend_coverage_pct"] == pytest.approx(100 * float(tagged) / float(known))
    assert summary["CostCenter"]["spend_coverage_status"] == "unknown"  # a backfill does not activate


def test_doctor_reads_the_backfill(
    backfilled: BackgroundSandbox, capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_aws_env(monkeypatch, {**backfilled.env(), "SINGLE_ACCOUNT_MODE": "true"}, tmp_path)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert finops_main(["doctor"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tag_activation"]["active_from"]["Project"] == BACKFILL_FROM.isoformat()
    assert report["tag_activation"]["inactive_required_keys"] == ["CostCenter"]
