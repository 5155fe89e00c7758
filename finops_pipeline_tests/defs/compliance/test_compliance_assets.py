"""The compliance and recommendation assets as Dagster runs them: an account whose scans are denied after a
good run keeps its resources, unknown (not compliant, not dropped), its waste stays (labelled stale), the
checks warn with the worst accounts, and the UI gets numbers to plot."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox import catalog
from finops_sandbox.faults import Faults

SELECTION = (
    "tagged_resources",
    "ec2_inventory",
    "rds_inventory",
    "lambda_inventory",
    "s3_inventory",
    "dynamodb_inventory",
    "elbv2_inventory",
    "commitment_inventory",
    "lambda_provisioned_concurrency",
    "resource_activity",
    "tag_compliance_resources",
    "tag_compliance_summary",
    "recommendations",
)


def test_denied_account_is_unknown_and_checks_warn(
    warehouse_copy: Path, pipeline_env_for: Any, sandbox_factory: Any, sandbox: Any
) -> None:
    accounts = sandbox.world.accounts.to_pylist()
    denied = next(
        a["account_id"]
        for a in accounts
        if a["status"] == "ACTIVE" and a["account_id"] != sandbox.world.management_account_id
    )
    faulted = sandbox_factory(faults=Faults(deny_accounts=denied))
    pipeline_env_for(
        warehouse_copy,
        endpoint=faulted,
        TAG_ALLOWED_VALUES=json.dumps({"Environment": list(catalog.ALLOWED_ENVIRONMENTS)}),
        TAG_COMPLIANCE_THRESHOLD="99",
    )
    result = run_pipeline(assets=SELECTION)
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]

    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        scans = conn.execute(
            "SELECT source, status, count(*) FROM raw.scan_status WHERE account_id = ? "
            "GROUP BY ALL ORDER BY ALL",
            [denied],
        ).fetchall()
        in_mart = conn.execute(
            "SELECT compliance_status, count(*) FILTER (WHERE stale_since IS NOT NULL), count(*) "
            "FROM marts.tag_compliance_resources WHERE account_id = ? GROUP BY ALL",
            [denied],
        ).fetchall()
        account_row = conn.execute(
            "SELECT resources_total, resources_evaluated, compliance_pct, scans_failed, status, spend_usd, "
            "resources_unknown, targets_stale "
            "FROM marts.tag_compliance_summary WHERE dimension = 'account' AND dimension_value = ?",
            [denied],
        ).fetchall()
        overall = conn.execute(
            "SELECT resources_evaluated, resources_compliant, compliance_pct, spend_coverage_pct, "
            "scans_failed, status, resources_total, resources_unknown, accounts_stale, accounts_complete "
            "FROM marts.tag_compliance_summary WHERE dimension = 'overall'"
        ).fetchall()[0]
        savings = conn.execute(
            "SELECT count(*) FILTER (WHERE account_id = ? AND source = 'ec2_inventory' "
            "AND stale_since IS NOT NULL AND detail LIKE '%(stale: %'), "
            "count(*) FILTER (WHERE account_id <> ? AND stale_since IS NOT NULL), "
            "sum(estimated_monthly_savings_usd) FILTER (WHERE kind = 'unattached_ebs_volume') "
            "FROM marts.recommendations",
            [denied, denied],
        ).fetchall()[0]
    assert scans == [
        ("ce_commitments", "ok", 1),  # not re-read here; the management account's Cost Explorer sees it
        ("cloudwatch", "access_denied", 3),
        ("commitments", "access_denied", 4),  # Savings Plans (global) and RIs in the three scan regions
        ("dynamodb", "access_denied", 3),
        ("ec2", "access_denied", 3),
        ("elbv2", "access_denied", 3),
        ("lambda", "access_denied", 3),
        ("lambda_provisioned_concurrency", "access_denied", 3),
        ("organizations:account_tags", "ok", 1),  # its tags are read from the management account
        ("rds", "access_denied", 3),
        ("s3", "access_denied", 3),
        ("tagging", "access_denied", 3),
    ]
    every = sandbox.world.resources.to_pylist()  # every service's list call sees never-tagged ones too
    failed_scans = 3 * 7  # the tag scan and six list sources (EC2, RDS, Lambda, S3, DynamoDB, ELB v2)
    visible = [r for r in every if r["account_id"] != denied]
    kept = len(every) - len(visible)  # the denied account's resources, from the good run before
    assert kept > 0
    assert in_mart == [("unknown", kept, kept)]
    total, evaluated, pct, failed, status, spend, unknown, targets_stale = account_row[0]
    assert (total, evaluated, pct, failed, status) == (kept, 0, None, failed_scans, "unknown")
    assert (unknown, targets_stale) == (kept, 3)
    assert spend > 0  # Cost Explorer still sees the account's spend
    assert overall[4:6] == (failed_scans, "partial")
    assert overall[6:] == (len(every), kept, 1, sum(a["status"] == "ACTIVE" for a in accounts) - 1)

    compliant = sum(1 for r in visible if not r["missing_keys"] and not r["invalid_values"])
    assert overall[:2] == (len(visible), compliant)  # the score is over the evaluated resources only
    denied_waste = sum(
        1
        for r in every
        if r["account_id"] == denied
        and r["resource_type"] in ("ec2:volume", "ec2:elastic-ip")
        and r.get("state") in ("available", "unassociated")
    )
    assert savings[0] >= denied_waste > 0  # its waste stays, labelled stale
    assert savings[1] == 0
    expected_unattached = sum(
        round(r["monthly_cost_usd"], 2)
        for r in every
        if r["resource_type"] == "ec2:volume" and r["state"] == "available"
    )
    assert round(float(savings[2]), 2) == round(expected_unattached, 2)

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    for name in ("compliance_score_meets_threshold", "every_account_evaluated"):
        assert checks[name].passed is False
        assert checks[name].severity == dg.AssetCheckSeverity.WARN
    assert denied in checks["every_account_evaluated"].metadata["accounts"].value
    assert checks["every_account_evaluated"].metadata["accounts_not_fully_scanned"].value == 1
    assert "| account |" in checks["compliance_score_meets_threshold"].metadata["worst_accounts"].value
    assert checks["compliance_score_meets_threshold"].metadata["compliance_score_pct"].value == round(
        overall[2], 2
    )
    assert checks["spend_coverage_meets_threshold"].passed is (overall[3] >= 99)
    assert checks["every_account_region_scanned"].passed is False  # ingest's and ours, both on this account

    def metadata(asset: str) -> dict[str, Any]:
        event = next(
            e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
        )
        return {k: v.value for k, v in event.materialization.metadata.items()}

    summary = metadata("tag_compliance_summary")
    assert summary["compliance_score_pct"] == round(overall[2], 2)
    assert summary["spend_coverage_pct"] == round(overall[3], 2)
    assert summary["accounts_not_fully_scanned"] == 1
    assert isinstance(summary["spend_coverage_pct_Environment"], float)
    resources = metadata("tag_compliance_resources")
    assert resources["resources_compliant"] == compliant
    assert resources["found_by_ec2_describe"] > 0
    recommendations = metadata("recommendations")
    assert recommendations["unattached_ebs_volume_monthly_savings_usd"] == round(expected_unattached, 2)
    assert recommendations["unattached_ebs_volume_count"] == sum(
        1 for r in every if r["resource_type"] == "ec2:volume" and r["state"] == "available"
    )
    assert "| kind |" in recommendations["top_10"]
