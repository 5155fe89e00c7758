"""A scan region the account has not opted in to: a clear status, no call, no failed check, no stale rows.

The sandbox answers DescribeRegions as AWS does for a commercial account (eu-south-1 is an opt-in region
none of its accounts enabled), so scanning it must not read as an error or as revoked credentials.
"""

from pathlib import Path
from typing import Any

import duckdb

from finops_pipeline.lib.regions import NOT_ENABLED
from finops_pipeline_tests.pipeline_fixtures import SANDBOX_REGIONS, run_pipeline, step_failures


def test_a_not_opted_in_region_is_not_enabled_not_an_error(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    pipeline_env_for(warehouse_copy, FINOPS_SCAN_REGIONS=f"{SANDBOX_REGIONS},eu-south-1")
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        before = conn.execute("SELECT count(*) FROM raw.tagged_resources").fetchone()
    result = run_pipeline(assets=("tagged_resources", "ec2_inventory"))
    assert result.success, step_failures(result)
    checks = {c.asset_key.to_user_string(): c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"tagged_resources": True, "ec2_inventory": True}
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        statuses = conn.execute(
            "SELECT source, region, status, count(*), sum(items), min(detail) FROM raw.scan_status "
            "WHERE source IN ('tagging', 'ec2') GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        after = conn.execute("SELECT count(*) FROM raw.tagged_resources").fetchone()
        stale = conn.execute(
            "SELECT count(*) FROM raw.ec2_instances WHERE stale_since IS NOT NULL"
        ).fetchone()
    active = sum(1 for a in sandbox.world.accounts.to_pylist() if a["status"] == "ACTIVE")
    not_enabled = [row for row in statuses if row[1] == "eu-south-1"]
    assert [row[:5] for row in not_enabled] == [
        ("ec2", "eu-south-1", NOT_ENABLED, active, 0),
        ("tagging", "eu-south-1", NOT_ENABLED, active, 0),
    ]
    assert all(
        "opt-in region not enabled" in row[5] and "FINOPS_SCAN_REGIONS" in row[5] for row in not_enabled
    )
    assert {row[2] for row in statuses if row[1] != "eu-south-1"} == {"ok"}
    assert after == before and stale == (0,)


def test_both_scans_of_a_run_ask_describe_regions_once_per_account(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    pipeline_env_for(warehouse_copy)
    result = run_pipeline(assets=("tagged_resources", "ec2_inventory"))
    assert result.success, step_failures(result)
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        calls = dict(
            conn.execute(
                "SELECT asset_key, sum(calls) FROM meta.api_call_log WHERE run_id = ? "
                "AND operation = 'DescribeRegions' GROUP BY 1",
                [result.run_id],
            ).fetchall()
        )
    active = sum(1 for a in sandbox.world.accounts.to_pylist() if a["status"] == "ACTIVE")
    assert sum(calls.values()) == active  # one per account, whichever scan ran first
