"""The compliance marts on hand-made raw tables: every rule and edge case, numbers worked out by hand."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.defs.compliance.marts import (
    write_tag_compliance_resources,
    write_tag_compliance_summary,
)
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.lib.tag_rules import TagRules
from finops_pipeline.warehouse import ensure_schema

DAY = dt.date(2026, 11, 27)
NOW = dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC)
KEYS = ("Environment", "Owner")
RULES = TagRules(required_keys=KEYS, allowed_values=(("Environment", ("prod", "dev")),))
GOOD = {"Environment": "prod", "Owner": "a@example.com"}
HOSTILE = '=HYPERLINK("http://evil.example","x")|\r\nline'


def arn(account: str, kind: str, rid: str, region: str = "us-east-1") -> str:
    return f"arn:aws:ec2:{region}:{account}:{kind}/{rid}"


def add_tagged(
    conn: duckdb.DuckDBPyConnection, account: str, rid: str, tags: dict[str, str], **kw: Any
) -> None:
    service = kw.get("service", "lambda")
    rtype = kw.get("resource_type", f"{service}:function")
    region = kw.get("region", "us-east-1")
    conn.execute(
        "INSERT INTO raw.tagged_resources (resource_arn, account_id, region, service, resource_type, "
        "resource_id, tags, scanned_at, stale_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            kw.get("arn", f"arn:aws:{service}:{region}:{account}:function:{rid}"),
            account,
            region,
            service,
            rtype,
            rid,
            json.dumps(tags),
            NOW,
            kw.get("stale_since"),
        ],
    )


def add_instance(
    conn: duckdb.DuckDBPyConnection,
    account: str,
    rid: str,
    tags: dict[str, str],
    region: str = "us-east-1",
    stale_since: dt.datetime | None = None,
) -> None:
    conn.execute(
        "INSERT INTO raw.ec2_instances (resource_arn, account_id, region, instance_id, instance_type, state, "
        "launch_time, tags, scanned_at, stale_since) VALUES (?, ?, ?, ?, 't3.micro', 'running', ?, ?, ?, ?)",
        [
            arn(account, "instance", rid, region),
            account,
            region,
            rid,
            NOW,
            json.dumps(tags),
            NOW,
            stale_since,
        ],
    )


def add_scan(
    conn: duckdb.DuckDBPyConnection,
    account: str,
    source: str,
    status: str = "ok",
    region: str = "us-east-1",
    last_ok: dt.datetime | None = None,
) -> None:
    conn.execute(
        "INSERT INTO raw.scan_status (account_id, region, source, status, detail, items, scanned_at, "
        "last_ok_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        [account, region, source, status, "", NOW, NOW if status == "ok" else last_ok],
    )


@pytest.fixture
def conn(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(connection)
    yield connection
    connection.close()


def build(conn: duckdb.DuckDBPyConnection, rules: TagRules = RULES) -> dict[str, dict[str, Any]]:
    write_tag_compliance_resources(conn, rules, DAY)
    write_tag_compliance_summary(conn, rules, DAY)
    cursor = conn.execute("SELECT * FROM marts.tag_compliance_resources ORDER BY resource_arn")
    names = [d[0] for d in cursor.description]
    return {row[names.index("resource_id")]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def summary(conn: duckdb.DuckDBPyConnection, dimension: str, value: str) -> dict[str, Any]:
    cursor = conn.execute(
        "SELECT * FROM marts.tag_compliance_summary WHERE dimension = ? AND dimension_value = ?",
        [dimension, value],
    )
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert len(rows) == 1, (dimension, value, rows)
    return dict(zip(names, rows[0], strict=True))


def test_case_variants_strict_and_insensitive(conn: duckdb.DuckDBPyConnection) -> None:
    add_tagged(conn, "111111111111", "good", GOOD)
    add_tagged(conn, "111111111111", "variant", {"environment": "prod", "OWNER": "x", "Owner": "y"})
    add_tagged(conn, "111111111111", "bad-variant", {"ENVIRONMENT": "Prod", "Owner": "y"})
    strict = build(conn)
    assert strict["good"]["compliance_status"] == "compliant"
    assert strict["variant"]["missing_keys"] == ["Environment"]
    assert strict["variant"]["case_variant_keys"] == ["environment", "OWNER"]
    assert strict["variant"]["compliant"] is False
    assert strict["bad-variant"]["missing_keys"] == ["Environment"]
    assert strict["bad-variant"]["invalid_values"] == []  # a variant's value is not judged in strict mode
    assert summary(conn, "overall", "all")["resources_compliant"] == 1

    insensitive = build(conn, TagRules(KEYS, RULES.allowed_values, key_case_mode="insensitive"))
    assert insensitive["variant"]["compliance_status"] == "compliant"
    assert insensitive["variant"]["case_variant_keys"] == ["environment", "OWNER"]  # still reported
    assert insensitive["bad-variant"]["missing_keys"] == []
    assert insensitive["bad-variant"]["invalid_values"] == [
        {"key": "ENVIRONMENT", "value": "Prod", "reason": "wrong_case"}
    ]
    overall = summary(conn, "overall", "all")
    assert (overall["resources_evaluated"], overall["resources_compliant"]) == (3, 2)
    assert overall["compliance_pct"] == pytest.approx(200 / 3)
    assert summary(conn, "tag_key", "Environment")["resources_compliant"] == 2
    assert summary(conn, "tag_key", "Owner")["resources_compliant"] == 3


def test_invalid_and_hostile_values(conn: duckdb.DuckDBPyConnection) -> None:
    cases = {
        "ws": {"Environment": " prod", "Owner": "o"},
        "case": {"Environment": "PROD", "Owner": "o"},
        "other": {"Environment": "production", "Owner": "o"},
        "empty": {"Environment": "dev", "Owner": "  "},
        "hostile": {"Environment": HOSTILE, "Owner": HOSTILE},
        "hostile-ok": {"Environment": "dev", "Owner": HOSTILE, "Name'; DROP TABLE x;--": "v"},
    }
    for rid, tags in cases.items():
        add_tagged(conn, "111111111111", rid, tags)
    rows = build(conn)
    reasons = {rid: [(v["key"], v["reason"]) for v in row["invalid_values"]] for rid, row in rows.items()}
    assert reasons == {
        "ws": [("Environment", "surrounding_whitespace")],
        "case": [("Environment", "wrong_case")],
        "other": [("Environment", "not_allowed")],
        "empty": [("Owner", "empty")],
        "hostile": [("Environment", "not_allowed")],
        "hostile-ok": [],
    }
    # Hostile values are kept byte for byte, and are data, not a rule failure, where no value list applies.
    assert rows["hostile"]["invalid_values"][0]["value"] == HOSTILE
    assert json.loads(rows["hostile-ok"]["tags"])["Owner"] == HOSTILE
    assert rows["hostile-ok"]["compliance_status"] == "compliant"
    assert summary(conn, "overall", "all")["resources_compliant"] == 1
    assert summary(conn, "tag_key", "Environment")["resources_compliant"] == 2  # empty, hostile-ok
    assert summary(conn, "tag_key", "Owner")["resources_compliant"] == 5
    table = md_table(["v"], [(HOSTILE,)])
    assert "\n| =HYPERLINK" in table and "\\|" in table and "\r" not in table and table.count("\n") == 2


def test_never_tagged_ec2_found_by_describe_and_exempt_types(conn: duckdb.DuckDBPyConnection) -> None:
    add_instance(conn, "111111111111", "i-untagged", {})
    add_instance(conn, "111111111111", "i-tagged", GOOD)
    add_tagged(
        conn,
        "111111111111",
        "i-tagged",
        GOOD,
        arn=arn("111111111111", "instance", "i-tagged"),
        service="ec2",
        resource_type="ec2:instance",
    )
    add_tagged(
        conn,
        "111111111111",
        "snap-1",
        {"Owner": "o"},
        arn=arn("111111111111", "snapshot", "snap-1"),
        service="ec2",
        resource_type="ec2:snapshot",
    )
    add_tagged(
        conn, "111111111111", "bucket", {}, service="s3", resource_type="s3:bucket", arn="arn:aws:s3:::bucket"
    )
    rules = TagRules(KEYS, RULES.allowed_values, exempt_resource_types=("ec2:snapshot", "s3"))
    rows = build(conn, rules)
    assert {rid: (r["found_by"], r["compliance_status"]) for rid, r in rows.items()} == {
        "i-untagged": ("ec2_describe", "non_compliant"),
        "i-tagged": ("both", "compliant"),
        "snap-1": ("tagging_api", "exempt"),
        "bucket": ("tagging_api", "exempt"),
    }
    assert rows["i-untagged"]["missing_keys"] == ["Environment", "Owner"]
    overall = summary(conn, "overall", "all")
    assert (overall["resources_total"], overall["resources_exempt"], overall["resources_evaluated"]) == (
        4,
        2,
        2,
    )
    assert overall["compliance_pct"] == 50.0
    assert overall["key_coverage_pct"] == 50.0
    by_type = summary(conn, "resource_type", "ec2:instance")
    assert (by_type["resources_evaluated"], by_type["resources_compliant"]) == (2, 1)


def test_stale_resource_is_unknown_not_compliant_and_coverage_is_counted(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    ok, denied, partial = "111111111111", "222222222222", "333333333333"
    earlier = NOW - dt.timedelta(days=1)
    for account in (ok, partial):
        for region in ("us-east-1", "eu-west-1"):
            add_scan(conn, account, "tagging", region=region)
            add_scan(conn, account, "ec2", region=region)
    add_scan(conn, denied, "tagging", "access_denied")  # never answered: missing
    add_scan(conn, denied, "ec2", "access_denied")
    conn.execute(
        "UPDATE raw.scan_status SET status = 'throttled', last_ok_at = ? WHERE account_id = ? "
        "AND region = 'eu-west-1' AND source = 'ec2'",
        [earlier, partial],
    )
    add_instance(conn, ok, "i-ok", GOOD)
    add_instance(conn, ok, "i-bad", {})
    add_instance(conn, partial, "i-p-east", GOOD)
    add_instance(conn, partial, "i-p-west", GOOD, region="eu-west-1", stale_since=NOW)  # kept from earlier
    add_tagged(conn, partial, "fn-p-west", GOOD, region="eu-west-1")  # its own (tagging) scan answered
    rows = build(conn)
    assert rows["i-p-west"]["compliance_status"] == "unknown"
    assert rows["i-p-west"]["compliant"] is None
    assert rows["i-p-west"]["scan_failures"] == "ec2: throttled"
    assert rows["fn-p-west"]["compliance_status"] == "compliant"
    assert rows["i-p-east"]["compliance_status"] == "compliant"
    overall = summary(conn, "overall", "all")
    assert (
        overall["resources_total"],
        overall["resources_unknown"],
        overall["resources_stale"],
        overall["resources_evaluated"],
    ) == (5, 1, 1, 4)
    assert overall["compliance_pct"] == 75.0  # 3 of the 4 evaluated: the stale one is not judged
    assert (overall["scans_failed"], overall["status"]) == (3, "partial")
    coverage = [
        overall[f"{what}_{state}"]
        for what in ("targets", "accounts", "regions")
        for state in ("complete", "stale", "missing")
    ]
    assert coverage == [3, 1, 1, 1, 1, 1, 0, 2, 0]
    denied_row = summary(conn, "account", denied)
    assert (denied_row["resources_total"], denied_row["scans_failed"], denied_row["status"]) == (
        0,
        2,
        "unknown",
    )
    assert (denied_row["targets_missing"], denied_row["compliance_pct"]) == (1, None)
    partial_row = summary(conn, "account", partial)
    assert (partial_row["status"], partial_row["resources_unknown"], partial_row["compliance_pct"]) == (
        "partial",
        1,
        100.0,
    )
    assert (partial_row["targets_complete"], partial_row["targets_stale"]) == (1, 1)
    assert summary(conn, "account", ok)["status"] == "complete"


def test_spend_coverage_uses_the_last_30_complete_days(conn: duckdb.DuckDBPyConnection) -> None:
    def cost(day: dt.date, account: str, key: str, value: str, usd: str) -> None:
        conn.execute(
            "INSERT INTO raw.ce_cost_by_tag VALUES (?, ?, ?, ?, ?, ?, ?, false, 'USD')",
            [day, account, key, value, Decimal(usd), Decimal(usd), Decimal(usd)],
        )

    last = DAY - dt.timedelta(days=2)  # newest ingested day: the window ends after it
    for day in (last, last - dt.timedelta(days=29)):
        cost(day, "111111111111", "Environment", "prod", "30")
        cost(day, "111111111111", "Environment", "", "10")
        cost(day, "111111111111", "Owner", "a", "40")
        cost(day, "222222222222", "Environment", "", "60")
        cost(day, "222222222222", "environment", "prod", "999")  # another key to Cost Explorer: ignored
        cost(day, "222222222222", "Owner", "b", "15")
        cost(day, "222222222222", "Owner", "", "45")
    cost(last - dt.timedelta(days=30), "111111111111", "Environment", "", "1000")  # before the window
    cost(DAY, "111111111111", "Environment", "", "1000")  # today: incomplete, after the window
    build(conn)
    overall = summary(conn, "overall", "all")
    assert (overall["spend_window_start"], overall["spend_window_end"]) == (
        last - dt.timedelta(days=29),
        last + dt.timedelta(days=1),
    )
    # Environment: 60 of 200 tagged; Owner: 110 of 200 tagged; overall = mean over keys.
    assert summary(conn, "tag_key", "Environment")["spend_coverage_pct"] == pytest.approx(30.0)
    assert summary(conn, "tag_key", "Owner")["spend_coverage_pct"] == pytest.approx(55.0)
    assert overall["spend_usd"] == Decimal("200")
    assert overall["spend_tagged_usd"] == Decimal("85")
    assert overall["spend_coverage_pct"] == pytest.approx(42.5)
    first = summary(conn, "account", "111111111111")
    assert (first["spend_usd"], first["spend_coverage_pct"]) == (Decimal("80"), pytest.approx(87.5))
    assert summary(conn, "account", "222222222222")["spend_coverage_pct"] == pytest.approx(12.5)


def test_one_row_set_per_day(conn: duckdb.DuckDBPyConnection) -> None:
    add_tagged(conn, "111111111111", "good", GOOD)
    build(conn)
    tomorrow = DAY + dt.timedelta(days=1)
    write_tag_compliance_resources(conn, RULES, tomorrow)
    write_tag_compliance_summary(conn, RULES, tomorrow)
    write_tag_compliance_summary(conn, RULES, tomorrow)  # a re-run replaces its day, no duplicates
    counts = conn.execute(
        "SELECT snapshot_date, count(*), count(DISTINCT (dimension, dimension_value)) "
        "FROM marts.tag_compliance_summary GROUP BY 1 ORDER BY 1"
    ).fetchall()
    # overall + account + service + resource_type + 2 tag keys, on each day
    assert counts == [(DAY, 6, 6), (tomorrow, 6, 6)]
