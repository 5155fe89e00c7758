"""The compliance marts of a full sandbox ingest equal the sandbox's ground truth and an independent
computation from the raw tables, overall and per account."""

import datetime as dt
import json
import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pytest

from finops_pipeline.defs.compliance.marts import write_tag_compliance_resources, write_tag_compliance_summary
from finops_pipeline.lib.tag_rules import TagRules
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_sandbox import catalog

RULES = TagRules(
    required_keys=catalog.REQUIRED_TAG_KEYS,
    allowed_values=(("Environment", catalog.ALLOWED_ENVIRONMENTS),),
)
EC2_TYPES = {"ec2:instance", "ec2:volume", "ec2:snapshot", "ec2:elastic-ip"}
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def marts(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    database = tmp_path_factory.mktemp("compliance") / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    conn = duckdb.connect(str(database))
    write_tag_compliance_resources(conn, RULES, SANDBOX_AS_OF)
    write_tag_compliance_summary(conn, RULES, SANDBOX_AS_OF)
    yield conn
    conn.close()


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# The list call that alone sees a never-tagged resource of each world type (found_by).
LISTED_BY = {
    "ec2": "ec2_describe",
    "rds": "rds_describe",
    "lambda": "lambda_list",
    "s3": "s3_list",
    "dynamodb": "dynamodb_list",
    "elasticloadbalancing": "elbv2_describe",
}


LIST_TABLES = (
    "raw.ec2_instances",
    "raw.ec2_volumes",
    "raw.ec2_snapshots",
    "raw.ec2_addresses",
    "raw.ec2_nat_gateways",
    "raw.ec2_images",
    "raw.rds_db_instances",
    "raw.lambda_functions",
    "raw.s3_buckets",
    "raw.dynamodb_tables",
    "raw.elbv2_load_balancers",
)


def truth_resources(sandbox: Any) -> dict[str, dict[str, Any]]:
    """What a scan can see: every resource of the world, tagged or never tagged (each service's list call)."""
    return {r["arn"]: r for r in sandbox.world.resources.to_pylist()}


def test_every_visible_resource_is_evaluated_once_like_the_truth(
    marts: duckdb.DuckDBPyConnection, sandbox: Any
) -> None:
    truth = truth_resources(sandbox)
    mart = {r["resource_arn"]: r for r in rows(marts, "SELECT * FROM marts.tag_compliance_resources")}
    by_service: dict[str, set[str]] = defaultdict(set)
    for arn_, t in truth.items():
        by_service[t["service"]].add(arn_)
    seen: dict[str, set[str]] = defaultdict(set)
    for arn_, m in mart.items():
        seen[m["service"]].add(arn_)
    assert set(by_service) == set(LISTED_BY)
    for service, arns in by_service.items():
        assert seen[service] == arns, service
    assert set(mart) == set(truth)
    assert len(mart) > 300
    for arn_, t in truth.items():
        m = mart[arn_]
        expected = not t["missing_keys"] and not t["invalid_values"]
        assert m["compliant"] is expected, (arn_, t["tags"], m)
        assert m["missing_keys"] == list(t["missing_keys"]), arn_
        assert sorted(m["case_variant_keys"]) == sorted(t["case_variant_keys"]), arn_
        exact_invalid = [v for v in t["invalid_values"] if v.split("=", 1)[0] == "Environment"]
        assert [f"{v['key']}={v['value']}" for v in m["invalid_values"]] == exact_invalid, arn_
    never_tagged = {a: t for a, t in truth.items() if t["never_tagged"]}
    assert {t["service"] for t in never_tagged.values()} == set(LISTED_BY)  # every service has some
    assert {a: mart[a]["found_by"] for a in never_tagged} == {
        a: LISTED_BY[t["service"]] for a, t in never_tagged.items()
    }
    # Everything tagged is seen twice: by the Tagging API and by its service's own list call.
    assert {mart[a]["found_by"] for a in truth if a not in never_tagged} == {"both"}
    assert any(t["hostile"] for t in truth.values())
    assert Counter(m["compliance_status"] for m in mart.values())["unknown"] == 0


def test_per_account_counts_equal_truth_and_raw_tables(
    marts: duckdb.DuckDBPyConnection, sandbox: Any
) -> None:
    truth: dict[str, Counter[str]] = defaultdict(Counter)
    for t in truth_resources(sandbox).values():
        truth[t["account_id"]]["total"] += 1
        truth[t["account_id"]]["compliant"] += int(not t["missing_keys"] and not t["invalid_values"])
    # Independent computation from the raw tables, in plain Python.
    raw: dict[str, dict[str, str]] = {}
    tagging = {
        arn_: (account, json.loads(tags))
        for arn_, account, tags in marts.execute(
            "SELECT resource_arn, account_id, tags FROM raw.tagged_resources"
        ).fetchall()
    }
    for table in LIST_TABLES:  # a list call's own tags win; one without tags (NULL) leaves the Tagging API's
        for arn_, account, tags in marts.execute(
            f"SELECT resource_arn, account_id, tags FROM {table}"
        ).fetchall():
            found = json.loads(tags) if tags is not None else tagging.get(arn_, (account, {}))[1]
            raw[arn_] = {"account": account, **{f"tag:{k}": v for k, v in found.items()}}
    for arn_, (account, tags) in tagging.items():
        raw.setdefault(arn_, {"account": account, **{f"tag:{k}": v for k, v in tags.items()}})
    from_raw: dict[str, Counter[str]] = defaultdict(Counter)
    for r in raw.values():
        ok = (
            all(f"tag:{k}" in r for k in RULES.required_keys)
            and r.get("tag:Environment") in catalog.ALLOWED_ENVIRONMENTS
        )
        from_raw[r["account"]]["total"] += 1
        from_raw[r["account"]]["compliant"] += int(ok)
    summary = {
        r["dimension_value"]: r
        for r in rows(marts, "SELECT * FROM marts.tag_compliance_summary WHERE dimension = 'account'")
    }
    assert set(truth) <= set(summary)
    for account, counts in truth.items():
        s = summary[account]
        assert (s["resources_total"], s["resources_compliant"]) == (counts["total"], counts["compliant"]), (
            account
        )
        assert (from_raw[account]["total"], from_raw[account]["compliant"]) == (
            counts["total"],
            counts["compliant"],
        )
        assert s["compliance_pct"] == pytest.approx(100 * counts["compliant"] / counts["total"])
        assert s["status"] == "complete"
    overall = rows(marts, "SELECT * FROM marts.tag_compliance_summary WHERE dimension = 'overall'")[0]
    total, compliant = sum(c["total"] for c in truth.values()), sum(c["compliant"] for c in truth.values())
    assert (overall["resources_total"], overall["resources_compliant"]) == (total, compliant)
    assert overall["compliance_pct"] == pytest.approx(100 * compliant / total)


def test_spend_coverage_reconciles_with_truth_per_account_and_key(
    marts: duckdb.DuckDBPyConnection, sandbox: Any
) -> None:
    overall = rows(marts, "SELECT * FROM marts.tag_compliance_summary WHERE dimension = 'overall'")[0]
    start, end = overall["spend_window_start"], overall["spend_window_end"]
    assert (start, end) == (SANDBOX_AS_OF - dt.timedelta(days=30), SANDBOX_AS_OF)
    spend: dict[str, Decimal] = defaultdict(Decimal)
    tagged: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key in RULES.required_keys:
        table = sandbox.world.truth_totals("DAILY", ["LINKED_ACCOUNT", f"TAG:{key}"])
        day = table["period_start"]
        table = table.filter(pc.and_(pc.greater_equal(day, start), pc.less(day, end)))
        for r in table.to_pylist():
            if key == "Environment":
                spend[r["LINKED_ACCOUNT"]] += r["amount"]
            if r[f"TAG:{key}"] != "":
                tagged[(r["LINKED_ACCOUNT"], key)] += r["amount"]
    keys = RULES.required_keys
    per_key = {
        r["dimension_value"]: r
        for r in rows(marts, "SELECT * FROM marts.tag_compliance_summary WHERE dimension = 'tag_key'")
    }
    total = sum(spend.values())
    for key in keys:
        key_tagged = sum(v for (_, k), v in tagged.items() if k == key)
        assert per_key[key]["spend_usd"].quantize(CENT) == total.quantize(CENT)
        assert per_key[key]["spend_tagged_usd"].quantize(CENT) == key_tagged.quantize(CENT)
        assert per_key[key]["spend_coverage_pct"] == pytest.approx(float(100 * key_tagged / total))
    accounts = {
        r["dimension_value"]: r
        for r in rows(
            marts,
            "SELECT * FROM marts.tag_compliance_summary "
            "WHERE dimension = 'account' AND spend_usd IS NOT NULL",
        )
    }
    assert set(accounts) == set(spend)
    for account, amount in spend.items():
        mean_tagged = sum(tagged[(account, k)] for k in keys) / len(keys)
        assert accounts[account]["spend_usd"].quantize(CENT) == amount.quantize(CENT), account
        assert abs(accounts[account]["spend_tagged_usd"] - mean_tagged) < CENT, account
    all_tagged = sum(tagged.values()) / len(keys)
    assert overall["spend_coverage_pct"] == pytest.approx(float(100 * all_tagged / total))
    assert 0 < overall["spend_coverage_pct"] < 100
