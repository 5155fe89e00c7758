"""tagged_resources: every account × region, de-duplicated by ARN; failures recorded, not fatal."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.faults import Faults

SCAN_ASSETS = ["aws_accounts", "tagged_resources"]


def expected_resources(world: Any, skip_accounts: set[str] = frozenset()) -> dict[str, dict[str, str]]:
    active = {a["account_id"] for a in world.accounts.to_pylist() if a["status"] == "ACTIVE"}
    return {
        r["arn"]: json.loads(r["tags"])
        for r in world.resources.to_pylist()
        if not r["never_tagged"] and r["account_id"] in active - skip_accounts
    }


def scanned(database: Path) -> dict[str, dict[str, str]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute("SELECT resource_arn, tags FROM raw.tagged_resources").fetchall()
    return {arn: json.loads(tags) for arn, tags in rows}


def test_every_tagged_resource_is_found_once_with_its_tags(ingested_warehouse: Path, sandbox: Any) -> None:
    expected = expected_resources(sandbox.world)
    assert scanned(ingested_warehouse) == expected
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM raw.scan_status WHERE source = 'tagging' GROUP BY 1"
        ).fetchall()
        types = dict(
            conn.execute("SELECT resource_type, count(*) FROM raw.tagged_resources GROUP BY 1").fetchall()
        )
    assert statuses == [("ok", 12 * 3)]  # 11 active members + management, 3 regions
    assert {"ec2:instance", "ec2:volume", "s3:bucket", "rds:db", "lambda:function", "dynamodb:table"} <= set(
        types
    )


def test_access_denied_in_two_accounts_degrades_the_scan_but_not_the_run(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    members = [
        a["account_id"]
        for a in sandbox.world.accounts.to_pylist()
        if a["status"] == "ACTIVE" and a["account_id"] != sandbox.world.management_account_id
    ]
    denied = set(members[:2])
    database = tmp_path / "denied.duckdb"
    pipeline_env_for(database, sandbox_factory(faults=Faults(deny_accounts=frozenset(denied))))
    result = run_pipeline(assets=SCAN_ASSETS)
    assert result.success
    assert scanned(database) == expected_resources(sandbox.world, skip_accounts=denied)
    with duckdb.connect(str(database), read_only=True) as conn:
        failed = conn.execute(
            "SELECT account_id, count(*) FROM raw.scan_status "
            "WHERE status = 'access_denied' AND source = 'tagging' GROUP BY 1"
        ).fetchall()
    assert dict(failed) == {account: 3 for account in denied}
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.asset_check_evaluation_data.check_name == "every_account_region_scanned"
        and e.asset_check_evaluation_data.asset_key == dg.AssetKey("tagged_resources")
    )  # aws_accounts has a check of that name too (its account tags)
    assert check.passed is False
    assert check.severity.value == "WARN"
    assert check.metadata["failed_scans"].value == 6
    assert sorted(check.metadata["failed_accounts"].value) == sorted(denied)


@pytest.mark.parametrize("rate", [0.2])
def test_throttling_gives_the_same_result(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any, rate: float
) -> None:
    database = tmp_path / "throttled.duckdb"
    endpoint = sandbox_factory(faults=Faults(throttle_rate=rate, seed=7))
    pipeline_env_for(database, endpoint)
    # the month of the newest complete day (on the 1st, last month: this one has no day yet)
    start = (sandbox.world.data_end - dt.timedelta(days=1)).replace(day=1)
    result = run_pipeline(start, sandbox.world.data_end, assets=[*SCAN_ASSETS, "ce_cost_daily"])
    assert result.success
    assert scanned(database) == expected_resources(sandbox.world)
    with duckdb.connect(str(database), read_only=True) as conn:
        retried = conn.execute("SELECT sum(calls) - sum(pages) FROM meta.api_calls").fetchone()[0]
        total = conn.execute(
            "SELECT sum(unblended_cost) FROM raw.ce_cost_daily WHERE usage_date >= ?", [start]
        ).fetchone()[0]
    expected_total = sum(
        r["amount"]
        for r in sandbox.world.truth_totals("MONTHLY", [], "UnblendedCost").to_pylist()
        if r["period_start"] == start
    )
    assert total == expected_total
    assert retried > 0  # the sandbox did throttle, and adaptive retries absorbed it
