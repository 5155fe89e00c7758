"""Degraded is labelled, never smaller: scans that fail after a good run keep that run's rows, stale.

Each world starts from the session's good ingest, then one run against a sandbox with faults:
- two member accounts denied and eu-west-1 not enabled: ``resources_total`` unchanged, their resources
  unknown, the score over the evaluated resources only, savings not smaller, a caveat in the JSON report;
- only ``DescribeVolumes`` denied: instances, snapshots and addresses fresh, volumes kept stale, waste kept;
- an unparseable answer in one account × region: the run succeeds, the target's status says error, and
  no part of the body reaches the event log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures
from finops_sandbox.faults import Faults

LIST_SOURCES = ("rds", "lambda", "s3", "dynamodb", "elbv2", "cloudwatch")
SELECTION = (
    "tagged_resources",
    "ec2_inventory",
    "rds_inventory",
    "lambda_inventory",
    "lambda_provisioned_concurrency",
    "s3_inventory",
    "dynamodb_inventory",
    "elbv2_inventory",
    "resource_activity",
    "tag_compliance_resources",
    "tag_compliance_summary",
    "recommendations",
)
OVERALL_SQL = """
SELECT resources_total, resources_unknown, resources_stale, resources_evaluated, resources_compliant,
    compliance_pct, accounts_complete, accounts_stale, accounts_missing, regions_complete, regions_stale,
    regions_missing
FROM marts.tag_compliance_summary WHERE dimension = 'overall'
"""
WASTE_SQL = """
SELECT count(*), sum(estimated_monthly_savings_usd), count(*) FILTER (WHERE stale_since IS NOT NULL)
FROM marts.recommendations WHERE source <> 'cost_explorer'
"""


def members(sandbox: Any) -> list[str]:
    return [
        a["account_id"]
        for a in sandbox.world.accounts.to_pylist()
        if a["status"] == "ACTIVE" and a["account_id"] != sandbox.world.management_account_id
    ]


def one(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.fixture
def good_run(warehouse_copy: Path, pipeline_env_for: Any) -> Path:
    """The marts built once on a complete scan: the last good snapshot the faulted runs start from."""
    pipeline_env_for(warehouse_copy)
    result = run_pipeline(assets=SELECTION)
    assert result.success, step_failures(result)
    return warehouse_copy


def test_denied_accounts_and_a_region_not_enabled_keep_totals_and_say_so(
    good_run: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any, project: Path
) -> None:
    denied = set(members(sandbox)[:2])
    with duckdb.connect(str(good_run), read_only=True) as conn:
        before = one(conn, OVERALL_SQL)
        waste_before = conn.execute(WASTE_SQL).fetchone()
        degraded = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE compliance_status = 'compliant') "
            "FROM marts.tag_compliance_resources "
            "WHERE account_id IN (SELECT unnest(?)) OR region = 'eu-west-1'",
            [sorted(denied)],
        ).fetchone()
    faulted = sandbox_factory(faults=Faults(deny_accounts=frozenset(denied), disabled_region="eu-west-1"))
    pipeline_env_for(good_run, faulted)
    result = run_pipeline(assets=SELECTION)
    assert result.success, step_failures(result)

    with duckdb.connect(str(good_run), read_only=True) as conn:
        after = one(conn, OVERALL_SQL)
        waste_after = conn.execute(WASTE_SQL).fetchone()
    assert before["resources_unknown"] == 0
    assert after["resources_total"] == before["resources_total"]
    assert after["resources_unknown"] == after["resources_stale"] == degraded[0] > 0
    assert after["resources_evaluated"] == before["resources_evaluated"] - degraded[0]
    assert after["resources_compliant"] == before["resources_compliant"] - degraded[1]
    assert after["compliance_pct"] == pytest.approx(
        100 * after["resources_compliant"] / after["resources_evaluated"]
    )
    accounts = len(members(sandbox)) + 1
    # every account lost eu-west-1 (stale); the two denied ones lost everything, but kept their rows
    assert (after["accounts_complete"], after["accounts_stale"], after["accounts_missing"]) == (
        0,
        accounts,
        0,
    )
    assert (after["regions_complete"], after["regions_stale"], after["regions_missing"]) == (0, 3, 0)
    with duckdb.connect(str(good_run), read_only=True) as conn:
        labelled = conn.execute(
            "SELECT source, account_id, count(*) FROM raw.scan_status "
            "WHERE list_contains(?, source) AND status = 'access_denied' GROUP BY ALL",
            [list(LIST_SOURCES)],
        ).fetchall()
    # every list call and the CloudWatch read of a denied account: labelled access_denied in both regions
    # still enabled (eu-west-1, not enabled, has its own status)
    assert sorted(labelled) == sorted((s, a, 2) for s in LIST_SOURCES for a in denied)
    assert waste_after[0] == waste_before[0]  # no waste recommendation vanished
    assert waste_after[1] >= waste_before[1]  # savings are not smaller
    assert waste_after[2] > 0

    from finops_pipeline.lib.reporting import generate_report
    from finops_pipeline.lib.reporting.mail import report_bodies

    report = generate_report(["json", "html"], last_n_days=7)
    payload = json.loads(Path(next(f for f in report["files"] if f.endswith(".json"))).read_text())
    caveat = payload["totals"]["coverage_caveat"]
    assert f"accounts 0 complete, {accounts} stale, 0 missing" in caveat
    assert f"{degraded[0]} resources unknown" in caveat
    assert caveat in Path(next(f for f in report["files"] if f.endswith(".html"))).read_text()
    text, html = report_bodies(report, report["files"])
    assert f"Caveat: {caveat}." in text and caveat in html


def test_only_describe_volumes_denied_keeps_the_other_tables_fresh_and_volumes_stale(
    good_run: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    with duckdb.connect(str(good_run), read_only=True) as conn:
        counts = {
            kind: conn.execute(f"SELECT count(*) FROM raw.ec2_{kind}").fetchone()[0]
            for kind in ("instances", "volumes", "snapshots", "addresses")
        }
        unattached = conn.execute(
            "SELECT count(*), sum(estimated_monthly_savings_usd) FROM marts.recommendations "
            "WHERE kind = 'unattached_ebs_volume'"
        ).fetchone()
    truth = sandbox.world.resources.to_pylist()
    assert counts["instances"] == sum(r["resource_type"] == "ec2:instance" for r in truth) > 0
    pipeline_env_for(good_run, sandbox_factory(faults=Faults(deny_operations="DescribeVolumes")))
    result = run_pipeline(assets=SELECTION)
    assert result.success, step_failures(result)

    with duckdb.connect(str(good_run), read_only=True) as conn:
        after = {
            kind: conn.execute(
                f"SELECT count(*), count(*) FILTER (WHERE stale_since IS NOT NULL) FROM raw.ec2_{kind}"
            ).fetchone()
            for kind in counts
        }
        statuses = conn.execute(
            "SELECT status, count(*), min(detail) FROM raw.scan_status WHERE source = 'ec2' GROUP BY 1"
        ).fetchall()
        unattached_after = conn.execute(
            "SELECT count(*), sum(estimated_monthly_savings_usd), bool_and(stale_since IS NOT NULL) "
            "FROM marts.recommendations WHERE kind = 'unattached_ebs_volume'"
        ).fetchone()
        unknown_types = conn.execute(
            "SELECT DISTINCT resource_type FROM marts.tag_compliance_resources "
            "WHERE compliance_status = 'unknown'"
        ).fetchall()
    assert after == {
        "instances": (counts["instances"], 0),
        "volumes": (counts["volumes"], counts["volumes"]),
        "snapshots": (counts["snapshots"], 0),
        "addresses": (counts["addresses"], 0),
    }
    [(status, targets, detail)] = statuses
    assert (status, targets) == ("access_denied", (len(members(sandbox)) + 1) * 3)
    assert detail.startswith("DescribeVolumes: UnauthorizedOperation")
    assert unattached_after == (unattached[0], unattached[1], True)
    # the Tagging API answered fresh tags for the tagged volumes: only never-tagged volumes are unknown
    assert unknown_types in ([], [("ec2:volume",)])


def test_unparseable_answer_in_one_target_is_its_status_and_never_reaches_the_event_log(
    good_run: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    account = members(sandbox)[0]
    with duckdb.connect(str(good_run), read_only=True) as conn:
        volumes = conn.execute(
            "SELECT count(*) FROM raw.ec2_volumes WHERE account_id = ? AND region = 'us-west-2'", [account]
        ).fetchone()[0]
    assert volumes > 0
    faulted = sandbox_factory(faults=Faults(malformed_responses=f"DescribeVolumes:{account}:us-west-2"))
    pipeline_env_for(good_run, faulted)
    instance = dg.DagsterInstance.ephemeral()
    result = run_pipeline(assets=SELECTION, instance=instance)
    assert result.success, step_failures(result)
    assert faulted.stats["malformed:ec2:DescribeVolumes"] > 0

    with duckdb.connect(str(good_run), read_only=True) as conn:
        failed = conn.execute(
            "SELECT account_id, region, status, detail FROM raw.scan_status "
            "WHERE source = 'ec2' AND status <> 'ok'"
        ).fetchall()
        kept = conn.execute(
            "SELECT count(*) FROM raw.ec2_volumes WHERE account_id = ? AND region = 'us-west-2' "
            "AND stale_since IS NOT NULL",
            [account],
        ).fetchone()[0]
    assert failed == [
        (
            account,
            "us-west-2",
            "error",
            "DescribeVolumes: ResponseParserError: the answer could not be parsed (body not kept)",
        )
    ]
    assert kept == volumes
    records = instance.all_logs(result.run_id)
    texts = [r.message or "" for r in records] + [str(r.dagster_event or "") for r in records]
    assert texts
    for text in texts:  # resource ids may be named (top-10 tables); the XML answer never is
        assert "<?xml" not in text and "volumeSet" not in text and "DescribeVolumesResponse" not in text


def test_provisioned_concurrency_denied_keeps_its_configs_and_waste_labelled_stale(
    good_run: Path, pipeline_env_for: Any, sandbox: Any, sandbox_factory: Any
) -> None:
    pc_waste = WASTE_SQL.replace("source <> 'cost_explorer'", "kind = 'idle_lambda_provisioned_concurrency'")
    with duckdb.connect(str(good_run), read_only=True) as conn:
        configs = conn.execute("SELECT count(*) FROM raw.lambda_provisioned_concurrency").fetchone()[0]
        waste_before = conn.execute(pc_waste).fetchone()
        with_functions = conn.execute(
            "SELECT count(DISTINCT (account_id, region)) FROM raw.lambda_functions"
        ).fetchone()[0]
    faulted = sandbox_factory(faults=Faults(deny_operations="ListProvisionedConcurrencyConfigs"))
    pipeline_env_for(good_run, faulted)
    result = run_pipeline(assets=SELECTION)
    assert result.success, step_failures(result)

    with duckdb.connect(str(good_run), read_only=True) as conn:
        kept = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE stale_since IS NOT NULL) "
            "FROM raw.lambda_provisioned_concurrency"
        ).fetchone()
        denied = conn.execute(
            "SELECT count(*) FROM raw.scan_status "
            "WHERE source = 'lambda_provisioned_concurrency' AND status = 'access_denied'"
        ).fetchone()[0]
        waste_after = conn.execute(pc_waste).fetchone()
    assert configs > 0 and kept == (configs, configs)  # every config kept, every one stale
    assert denied == with_functions > 0  # each account × region with functions says why
    # the same unused configs and dollars, each labelled stale
    assert waste_after == (waste_before[0], waste_before[1], waste_before[0]) and waste_before[0] > 0
