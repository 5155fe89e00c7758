"""Cost Explorer refusals that are not IAM, against a sandbox started with ``--ce-refusals``: each one
degrades only what was refused, is visible in data and in an asset check, and names its true fix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.defs.ingest.cost_explorer_api import MAX_PAGE_RESTARTS
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures
from finops_sandbox.faults import Faults

TODAY = SANDBOX_AS_OF
START = TODAY - dt.timedelta(days=4)
Env = Callable[..., dict[str, str]]


def _rows(database: Path, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(query, params or []).fetchall()


def _ce_calls(database: Path, run_id: str, asset: str) -> tuple[int, int]:
    (row,) = _rows(
        database,
        "SELECT sum(calls), sum(pages) FROM meta.api_call_log "
        "WHERE run_id = ? AND asset_key = ? AND operation = 'GetCostAndUsage'",
        [run_id, asset],
    )
    return int(row[0]), int(row[1])


def test_cost_explorer_not_enabled_fails_its_assets_with_the_console_fix_not_an_iam_grant(
    sandbox_factory: Callable[..., Any], pipeline_env_for: Env, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, sandbox_factory(faults=Faults(ce_refusals="not-enabled")))
    result = run_pipeline(START, TODAY, assets=["aws_accounts", "ce_cost_daily", "ce_recommendations"])
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert failed == {"ce_cost_daily", "ce_recommendations"}  # Organizations is still read
    assert _rows(database, "SELECT count(*) FROM raw.aws_accounts")[0][0] == 13
    said = "\n".join(step_failures(result))
    assert "AccessDeniedException" in said and "User not enabled for cost explorer access" in said
    assert "Fix: Cost Explorer is not enabled for this account, and no IAM grant changes that" in said
    assert "Launch Cost Explorer" in said and "up to 24 hours" in said
    assert "grant ce:" not in said


def test_rightsizing_not_opted_in_keeps_ri_and_savings_plans_and_records_rightsizing_unknown(
    sandbox: Any, sandbox_factory: Callable[..., Any], pipeline_env_for: Env, tmp_path: Path
) -> None:
    clean_db, refused_db = tmp_path / "clean.duckdb", tmp_path / "refused.duckdb"
    pipeline_env_for(clean_db)
    assert run_pipeline(assets=["ce_recommendations"]).success
    pipeline_env_for(refused_db, sandbox_factory(faults=Faults(ce_refusals="rightsizing-opt-in")))
    result = run_pipeline(assets=["ce_recommendations"])
    assert result.success, step_failures(result)

    by_source = (
        "SELECT source, count(*), sum(estimated_monthly_savings) FROM raw.ce_recommendations GROUP BY 1"
    )
    clean = {source: (n, usd) for source, n, usd in _rows(clean_db, by_source)}
    kept = {source: (n, usd) for source, n, usd in _rows(refused_db, by_source)}
    assert clean["rightsizing"][0] > 0 and clean["reserved_instances"][0] > 0
    assert kept == {k: v for k, v in clean.items() if k != "rightsizing"}  # RI and SP to the cent

    statuses = dict(
        (source, (status, detail))
        for source, status, detail in _rows(
            refused_db,
            "SELECT source, status, detail FROM raw.scan_status WHERE source LIKE 'ce_recommendations:%'",
        )
    )
    assert {s: v[0] for s, v in statuses.items()} == {
        "ce_recommendations:reserved_instances": "ok",
        "ce_recommendations:savings_plans": "ok",
        "ce_recommendations:rightsizing": "not_opted_in",
    }
    detail = statuses["ce_recommendations:rightsizing"][1]
    assert detail.startswith("GetRightsizingRecommendation: AccessDeniedException: Rightsizing EC2")
    assert "Fix: rightsizing recommendations are opt-in, and no IAM grant changes that" in detail
    assert "Cost Explorer > Preferences" in detail

    (materialization,) = result.asset_materializations_for_node("ce_recommendations")
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["rightsizing_status"] == "not_opted_in"
    assert "rightsizing_monthly_savings_usd" not in metadata  # unknown, not zero
    assert metadata["reserved_instances_monthly_savings_usd"] == pytest.approx(
        float(clean["reserved_instances"][1]), abs=0.01
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = checks["every_recommendation_kind_answered"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["unknown_kinds"].value == ["rightsizing"]
    assert check.metadata["statuses"].value == {"rightsizing": "not_opted_in"}


@pytest.mark.parametrize("refusal", ["request-changed", "invalid-next-token"])
def test_paging_refusals_restart_from_the_first_page_and_give_the_same_rows(
    refusal: str, sandbox_factory: Callable[..., Any], pipeline_env_for: Env, tmp_path: Path
) -> None:
    clean_db, refused_db = tmp_path / "clean.duckdb", tmp_path / "refused.duckdb"
    query = "SELECT * FROM raw.ce_cost_daily ORDER BY ALL"
    pipeline_env_for(clean_db, sandbox_factory(page_size=50))
    clean = run_pipeline(START, TODAY, assets=["ce_cost_daily"])
    assert clean.success
    pipeline_env_for(refused_db, sandbox_factory(page_size=50, faults=Faults(ce_refusals=refusal)))
    result = run_pipeline(START, TODAY, assets=["ce_cost_daily"])
    assert result.success, step_failures(result)
    assert _rows(refused_db, query) == _rows(clean_db, query)  # no page lost, none counted twice
    calls, pages = _ce_calls(clean_db, clean.run_id, "ce_cost_daily")
    assert pages > 2  # really paged
    # One refused follow-up, then the stream read again from its first page: that page is paid twice.
    assert _ce_calls(refused_db, result.run_id, "ce_cost_daily") == (calls + 2, pages + 1)


def test_bill_expired_rereads_a_bounded_number_of_times_then_fails_with_its_meaning(
    sandbox_factory: Callable[..., Any], pipeline_env_for: Env, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assert run_pipeline(START, TODAY, assets=["ce_cost_daily"]).success
    before = _rows(database, "SELECT count(*), sum(unblended_cost) FROM raw.ce_cost_daily")
    view = sandbox_factory(faults=Faults(ce_refusals="bill-expired"))
    pipeline_env_for(database, view)
    result = run_pipeline(START, TODAY, assets=["ce_cost_daily"])
    assert not result.success
    assert _rows(database, "SELECT count(*), sum(unblended_cost) FROM raw.ce_cost_daily") == before
    assert view.stats["refused:ce:GetCostAndUsage"] == 1 + MAX_PAGE_RESTARTS == 3  # bounded
    said = "\n".join(step_failures(result))
    assert "BillExpirationException" in said and "The requested report expired" in said
    assert "Fix: Cost Explorer's report for part of the requested dates expired" in said
    assert "grant ce:" not in said


def test_a_refused_kind_keeps_its_last_good_rows_stale_and_the_mart_keeps_their_savings(
    sandbox: Any, sandbox_factory: Callable[..., Any], pipeline_env_for: Env, tmp_path: Path
) -> None:
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database)
    assets = ["ce_recommendations", "recommendations"]
    assert run_pipeline(assets=assets).success
    by_source = (
        "SELECT source, count(*), sum(estimated_monthly_savings), count(stale_since) "
        "FROM raw.ce_recommendations GROUP BY 1"
    )
    mart = (
        "SELECT kind, count(*), sum(estimated_monthly_savings_usd), count(stale_since) "
        "FROM marts.recommendations WHERE source = 'cost_explorer' GROUP BY 1"
    )
    good = {source: (n, usd) for source, n, usd, _ in _rows(database, by_source)}
    good_mart = {kind: (n, usd) for kind, n, usd, _ in _rows(database, mart)}
    assert good["rightsizing"][0] > 0

    pipeline_env_for(database, sandbox_factory(faults=Faults(ce_refusals="rightsizing-opt-in")))
    for _ in range(2):  # a second refused run of the day carries what the first one kept
        result = run_pipeline(assets=assets)
        assert result.success, step_failures(result)
        after = {source: (n, usd, stale) for source, n, usd, stale in _rows(database, by_source)}
        assert after == {
            "reserved_instances": (*good["reserved_instances"], 0),
            "savings_plans": (*good["savings_plans"], 0),
            "rightsizing": (*good["rightsizing"], good["rightsizing"][0]),  # all kept, all stale
        }
        reasons = _rows(
            database, "SELECT DISTINCT stale_reason FROM raw.ce_recommendations WHERE source = 'rightsizing'"
        )
        assert [r[0].split(":")[0] for r in reasons] == ["not_opted_in"]
        kept_mart = {kind: (n, usd, stale) for kind, n, usd, stale in _rows(database, mart)}
        assert kept_mart["rightsizing"] == (*good_mart["rightsizing"], good_mart["rightsizing"][0])
        assert kept_mart["reserved_instances"] == (*good_mart["reserved_instances"], 0)
    (materialization,) = result.asset_materializations_for_node("ce_recommendations")
    assert materialization.metadata["recommendations_stale"].value == good["rightsizing"][0]
    details = _rows(
        database,
        "SELECT DISTINCT detail LIKE '%(stale: %' FROM marts.recommendations WHERE kind = 'rightsizing'",
    )
    assert details == [(True,)]
