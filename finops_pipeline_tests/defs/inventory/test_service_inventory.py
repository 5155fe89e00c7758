"""The service list assets against the session sandbox: every resource of the world, tagged or not."""

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb

TABLES = {
    "rds:db": "raw.rds_db_instances",
    "lambda:function": "raw.lambda_functions",
    "s3:bucket": "raw.s3_buckets",
    "dynamodb:table": "raw.dynamodb_tables",
    "elasticloadbalancing:loadbalancer": "raw.elbv2_load_balancers",
}
SOURCES = {"rds", "lambda", "s3", "dynamodb", "elbv2"}


def test_each_list_table_holds_every_resource_of_its_service(ingested_warehouse: Path, sandbox: Any) -> None:
    truth: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for r in sandbox.world.resources.to_pylist():
        if r["resource_type"] in TABLES:
            truth[r["resource_type"]].add((r["arn"], r["account_id"], r["region"]))
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        seen = {
            kind: set(conn.execute(f"SELECT resource_arn, account_id, region FROM {table}").fetchall())
            for kind, table in TABLES.items()
        }
        scans = conn.execute(
            "SELECT source, status, count(*), sum(items) FROM raw.scan_status "
            "WHERE list_contains(?, source) GROUP BY ALL ORDER BY 1",
            [sorted(SOURCES)],
        ).fetchall()
        active = conn.execute("SELECT count(*) FROM raw.aws_accounts WHERE status = 'ACTIVE'").fetchone()[0]
        rds_tags = dict(conn.execute("SELECT resource_arn, tags FROM raw.rds_db_instances").fetchall())
    for kind in TABLES:
        assert seen[kind] == truth[kind], kind
    never_tagged = {
        r["resource_type"] for r in sandbox.world.resources.to_pylist() if r["never_tagged"]
    } & set(TABLES)
    assert {"rds:db", "lambda:function", "s3:bucket", "dynamodb:table"} <= never_tagged
    assert {(s, status) for s, status, *_ in scans} == {(s, "ok") for s in SOURCES}
    assert {s: (n, items) for s, _, n, items in scans} == {
        s: (active * 3, len(seen[k])) for k, t in TABLES.items() for s in [t.split(".")[1].split("_")[0]]
    }
    # TagList as given, except that RDS's XML answer (query protocol) reaches botocore with CR LF as LF.
    world = {
        r["arn"]: {k: v.replace("\r\n", "\n") for k, v in json.loads(r["tags"]).items()}
        for r in sandbox.world.resources.to_pylist()
    }
    assert {arn: json.loads(tags) for arn, tags in rds_tags.items()} == {arn: world[arn] for arn in rds_tags}
