"""Benchmark: the tag compliance and recommendation marts on 1,000 accounts, 1,000,000 resources, 13 months.

The raw tables are synthesised directly in DuckDB (not through moto or the Cost Explorer emulator: a
million resources through an emulator would measure the emulator). Then, each in its own process so its
peak RSS is its own, with 2 DuckDB threads:
  1. the marts as the pipeline builds them (``build_tag_compliance_*``, ``write_recommendations``);
  2. the same computation in pandas, read from the same file.
Prints wall time, peak RSS, the ratio, and checks both give the same headline numbers.
Targets: marts in at most 30 s and 2 GB peak RSS on 2 cores.
Run: .venv/bin/python bench/marts_bench.py [resources] [accounts]
"""

# ruff: noqa: E501  (the synthetic-data SQL reads better unwrapped)
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

SNAPSHOT = dt.date(2026, 11, 27)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
KEYS = ("Environment", "Owner", "Project", "CostCenter")
ALLOWED = {"Environment": ["prod", "staging", "dev", "test", "sandbox"]}
MAX_SNAPSHOT_AGE = 90
THREADS = 2

# Shares of the resources: EC2 ones are in the describe tables (and, when tagged, in the Tagging API too).
SPLIT = {"instances": 0.15, "volumes": 0.25, "snapshots": 0.10, "addresses": 0.05, "other": 0.45}

GENERATE_SQL = """
CREATE OR REPLACE MACRO h(x, salt) AS hash(x || '/' || salt) % 1000;
CREATE OR REPLACE MACRO acct(i) AS lpad(CAST(100000000000 + (i % $accounts) AS VARCHAR), 12, '0');
CREATE OR REPLACE MACRO region_of(i) AS ['us-east-1', 'us-west-2', 'eu-west-1'][1 + (hash(i || 'r') % 3)::INT];
-- Tags with real-world dirt: 8 % never tagged, keys missing, case variants, bad Environment values, hostile.
CREATE OR REPLACE MACRO tags_of(i) AS CASE WHEN h(i, 't') < 80 THEN '{}' ELSE
    to_json(map_from_entries(list_filter([
        {'key': CASE WHEN h(i, 'c') < 40 THEN 'environment' ELSE 'Environment' END,
         'value': CASE WHEN h(i, 'e') < 60 THEN NULL
                       ELSE [' prod', 'PROD', 'production', 'prod', 'staging', 'dev', 'test', 'sandbox',
                             'prod', 'dev'][1 + (h(i, 'v') % 10)::INT] END},
        {'key': 'Owner', 'value': CASE WHEN h(i, 'o') < 90 THEN NULL
                                      WHEN h(i, 'x') < 20 THEN '=HYPERLINK("http://evil","x")'
                                      ELSE 'team' || (h(i, 'tm') % 16) || '@example.com' END},
        {'key': 'Project', 'value': CASE WHEN h(i, 'p') < 70 THEN NULL ELSE 'proj-' || (h(i, 'pj') % 40) END},
        {'key': CASE WHEN h(i, 'cc') < 30 THEN 'costcenter' ELSE 'CostCenter' END,
         'value': CASE WHEN h(i, 'q') < 50 THEN NULL ELSE 'CC-' || (4000 + h(i, 'cv') % 900) END},
        {'key': 'Name', 'value': 'res-' || i}
    ], lambda e: e.value IS NOT NULL)))::VARCHAR END;

CREATE TABLE raw.ec2_instances AS
SELECT format('arn:aws:ec2:{}:{}:instance/i-{}', region_of(i), acct(i), i) AS resource_arn, acct(i) AS account_id,
       region_of(i) AS region, 'i-' || i AS instance_id, 'm5.large' AS instance_type,
       CASE WHEN h(i, 's') < 150 THEN 'stopped' ELSE 'running' END AS state,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' AS launch_time, tags_of(i)::JSON AS tags, now() AS scanned_at
FROM range($n_instances) t(i);

CREATE TABLE raw.ec2_volumes AS
SELECT format('arn:aws:ec2:{}:{}:volume/vol-{}', region_of(j), acct(j), i) AS resource_arn, acct(j) AS account_id,
       region_of(j) AS region, 'vol-' || i AS volume_id,
       ['gp3', 'gp2', 'io1', 'st1'][1 + (h(i, 'vt') % 4)::INT] AS volume_type,
       (8 + h(i, 'sz') % 500)::DOUBLE AS size_gb, NULL::BIGINT AS iops,
       CASE WHEN i < $n_instances THEN 'in-use' WHEN h(i, 'a') < 500 THEN 'available' ELSE 'in-use' END AS state,
       CASE WHEN i < $n_instances THEN ['i-' || i] ELSE [] END AS attached_instance_ids,
       TIMESTAMPTZ '2026-01-01 00:00:00+00' AS create_time, tags_of(1000000000 + i)::JSON AS tags,
       now() AS scanned_at
FROM (SELECT i, CASE WHEN i < $n_instances THEN i ELSE i + 7 END AS j FROM range($n_volumes) t(i));

CREATE TABLE raw.ec2_snapshots AS
SELECT format('arn:aws:ec2:{}:{}:snapshot/snap-{}', region_of(i), acct(i), i) AS resource_arn,
       acct(i) AS account_id, region_of(i) AS region, 'snap-' || i AS snapshot_id, NULL AS volume_id,
       (8 + h(i, 'ss') % 500)::DOUBLE AS volume_size_gb, 'completed' AS state, 'standard' AS storage_tier,
       TIMESTAMPTZ '2026-11-27 00:00:00+00' - to_days((h(i, 'age') % 700)::INT + 1) AS start_time,
       'backup' AS description, tags_of(2000000000 + i)::JSON AS tags, now() AS scanned_at
FROM range($n_snapshots) t(i);

CREATE TABLE raw.ec2_addresses AS
SELECT format('arn:aws:ec2:{}:{}:elastic-ip/eipalloc-{}', region_of(i), acct(i), i) AS resource_arn,
       acct(i) AS account_id, region_of(i) AS region, 'eipalloc-' || i AS allocation_id,
       '10.0.0.1' AS public_ip, 'vpc' AS domain,
       CASE WHEN h(i, 'as') < 350 THEN NULL ELSE 'eipassoc-' || i END AS association_id,
       CASE WHEN h(i, 'as') < 350 THEN NULL ELSE 'i-' || i END AS instance_id,
       CASE WHEN h(i, 'as') < 350 THEN NULL ELSE 'eni-' || i END AS network_interface_id,
       tags_of(3000000000 + i)::JSON AS tags, now() AS scanned_at
FROM range($n_addresses) t(i);

-- The Tagging API: other services' resources, plus every EC2 resource that has a tag.
CREATE TABLE raw.tagged_resources AS
SELECT format('arn:aws:{}:{}:{}:thing/r-{}', svc, region_of(i), acct(i), i) AS resource_arn, acct(i) AS account_id,
       region_of(i) AS region, svc AS service, svc || ':thing' AS resource_type, 'r-' || i AS resource_id,
       tags::JSON AS tags, now() AS scanned_at
FROM (SELECT i, ['s3', 'lambda', 'rds', 'dynamodb'][1 + (i % 4)::INT] AS svc, tags_of(4000000000 + i) AS tags
      FROM range($n_other) t(i))
WHERE tags <> '{}'
UNION ALL
SELECT resource_arn, account_id, region, 'ec2', 'ec2:instance', instance_id, tags, scanned_at
FROM raw.ec2_instances WHERE tags::VARCHAR <> '{}'
UNION ALL
SELECT resource_arn, account_id, region, 'ec2', 'ec2:volume', volume_id, tags, scanned_at
FROM raw.ec2_volumes WHERE tags::VARCHAR <> '{}';

CREATE TABLE raw.scan_status AS
SELECT acct(a) AS account_id, r AS region, s AS source,
       CASE WHEN a % 100 = 7 THEN 'access_denied' ELSE 'ok' END AS status, '' AS detail, 0::BIGINT AS items,
       now() AS scanned_at
FROM range($accounts) t(a), unnest(['us-east-1', 'us-west-2', 'eu-west-1']) u(r), unnest(['tagging', 'ec2']) v(s);

-- 13 months of Cost Explorer tag grouping: per day, account and key, three values and the untagged rest.
CREATE TABLE raw.ce_cost_by_tag AS
SELECT d::DATE AS usage_date, acct(a) AS account_id, k AS tag_key,
       CASE WHEN v = 0 THEN '' ELSE k || '-' || v END AS tag_value,
       CAST((10 + h(a || k || v, d::VARCHAR) % 90) * CASE WHEN v = 0 THEN (h(a, k) % 10) / 10.0 ELSE 1 END
            AS DECIMAL(18, 6)) AS unblended_cost,
       0::DECIMAL(18, 6) AS amortized_cost, 0::DECIMAL(18, 6) AS net_unblended_cost, false AS is_estimated,
       'USD' AS currency
FROM range(DATE '2025-10-01', DATE '2026-11-28', INTERVAL 1 DAY) t(d), range($accounts) s(a),
     unnest(['Environment', 'Owner', 'Project', 'CostCenter']) u(k), range(4) w(v);

CREATE TABLE raw.ce_recommendations AS
SELECT DATE '2026-11-27' AS snapshot_date, 'rec-' || i AS recommendation_id,
       ['reserved_instances', 'savings_plans', 'rightsizing'][1 + (i % 3)::INT] AS source,
       'Amazon Elastic Compute Cloud - Compute' AS service, acct(i) AS account_id, region_of(i) AS region,
       CASE WHEN i % 3 = 2 THEN 'i-' || i END AS resource_id, 'm5.large' AS instance_type,
       ['purchase_reserved_instances', 'purchase_savings_plan', 'modify_instance'][1 + (i % 3)::INT] AS action,
       'ONE_YEAR' AS term, 'NO_UPFRONT' AS payment_option, 30 AS lookback_days, 2.0 AS recommended_quantity,
       0::DECIMAL(18, 6) AS upfront_cost, 0.1::DECIMAL(18, 6) AS hourly_commitment,
       (5 + i % 200)::DECIMAL(18, 6) AS estimated_monthly_savings, NULL::DECIMAL(18, 6)
       AS estimated_monthly_cost_before, 'USD' AS currency, '{}'::JSON AS details, now() AS fetched_at
FROM range(3 * $accounts) t(i);
"""


def generate(path: Path, resources: int, accounts: int) -> None:
    counts = {name: int(resources * share) for name, share in SPLIT.items()}
    params = {f"n_{name}": n for name, n in counts.items()} | {"accounts": accounts}
    sql = GENERATE_SQL
    for name, value in sorted(params.items(), key=lambda kv: -len(kv[0])):
        sql = sql.replace(f"${name}", str(value))
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA raw")
        conn.execute(sql)
    # The pipeline's own schema adds the marts (and creates nothing that already exists).
    from finops_pipeline.warehouse import ensure_schema

    with duckdb.connect(str(path)) as conn:
        ensure_schema(conn)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_duckdb(path: Path) -> dict[str, float]:
    from finops_pipeline.defs.compliance.marts import (
        write_tag_compliance_resources,
        write_tag_compliance_summary,
    )
    from finops_pipeline.defs.recommendations.marts import write_recommendations
    from finops_pipeline.lib.tag_rules import TagRules

    rules = TagRules(KEYS, tuple((k, tuple(v)) for k, v in ALLOWED.items()))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    with duckdb.connect(str(path), config={"threads": THREADS}) as conn:
        t0 = time.perf_counter()
        write_tag_compliance_resources(conn, rules, SNAPSHOT)
        t1 = time.perf_counter()
        write_tag_compliance_summary(conn, rules, SNAPSHOT)
        t2 = time.perf_counter()
        write_recommendations(conn, SNAPSHOT, MAX_SNAPSHOT_AGE)
        t3 = time.perf_counter()
        compliant, evaluated, coverage = conn.execute(
            "SELECT resources_compliant, resources_evaluated, spend_coverage_pct FROM marts.tag_compliance_summary "
            "WHERE dimension = 'overall' AND snapshot_date = ?",
            [SNAPSHOT],
        ).fetchall()[0]
        savings = conn.execute(
            "SELECT sum(estimated_monthly_savings_usd)::DOUBLE FROM marts.recommendations"
        ).fetchall()
    return {
        "seconds": time.perf_counter() - started,
        "resources_s": t1 - t0,
        "summary_s": t2 - t1,
        "recommendations_s": t3 - t2,
        "peak_rss_mb": peak_rss_mb(),
        "import_rss_mb": baseline,
        "compliant": compliant,
        "evaluated": evaluated,
        "spend_coverage_pct": round(coverage, 6),
        "savings_usd": round(savings[0][0], 2),
    }


def run_pandas(path: Path) -> dict[str, float]:
    """The same marts in pandas: union by ARN, tags exploded, rules, group-bys, spend window, waste kinds."""
    import pandas as pd

    started = time.perf_counter()
    with duckdb.connect(str(path), read_only=True) as conn:

        def df(sql: str) -> pd.DataFrame:
            return conn.execute(sql).df()

        tagged = df(
            "SELECT resource_arn, account_id, region, service, resource_type, tags::VARCHAR AS tags "
            "FROM raw.tagged_resources"
        )
        parts = []
        for table, rtype in (
            ("instances", "ec2:instance"),
            ("volumes", "ec2:volume"),
            ("snapshots", "ec2:snapshot"),
            ("addresses", "ec2:elastic-ip"),
        ):
            part = df(f"SELECT resource_arn, account_id, region, tags::VARCHAR AS tags FROM raw.ec2_{table}")
            part["resource_type"] = rtype
            parts.append(part)
        ec2 = pd.concat(parts, ignore_index=True)
        scans = df("SELECT account_id, region, source, status FROM raw.scan_status")
        spend = df(
            f"SELECT usage_date, account_id, tag_key, tag_value, unblended_cost::DOUBLE AS cost "
            f"FROM raw.ce_cost_by_tag WHERE usage_date < DATE '{SNAPSHOT}'"
        )
        volumes = df(
            "SELECT account_id, region, resource_arn, volume_type, size_gb, state, "
            "attached_instance_ids FROM raw.ec2_volumes"
        )
        instances = df("SELECT account_id, region, instance_id, state FROM raw.ec2_instances")
        addresses = df(
            "SELECT account_id, region, association_id, instance_id, network_interface_id FROM raw.ec2_addresses"
        )
        snapshots = df("SELECT region, volume_size_gb, start_time FROM raw.ec2_snapshots")
        ce = df(
            "SELECT estimated_monthly_savings::DOUBLE AS usd FROM raw.ce_recommendations "
            "WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_recommendations)"
        )

    merged = ec2.merge(tagged, on="resource_arn", how="outer", suffixes=("", "_t"))
    for column in ("account_id", "region", "resource_type"):
        merged[column] = merged[column].fillna(merged[f"{column}_t"])
    merged["tags"] = merged["tags"].fillna(merged["tags_t"])
    merged["tags"] = merged["tags"].map(json.loads)
    pairs = merged[["resource_arn", "tags"]].explode("tags").dropna(subset=["tags"])
    pairs = pairs.rename(columns={"tags": "key"})
    pairs["value"] = [
        t[k]
        for t, k in zip(
            merged.set_index("resource_arn").loc[pairs["resource_arn"], "tags"], pairs["key"], strict=True
        )
    ]
    exact = pairs[pairs["key"].isin(KEYS)]
    present = exact.groupby("resource_arn")["key"].nunique()
    invalid = exact[(exact["value"].str.strip() == "")]
    for key, allowed in ALLOWED.items():
        invalid = pd.concat([invalid, exact[(exact["key"] == key) & ~exact["value"].isin(allowed)]])
    bad = set(invalid["resource_arn"])
    merged["complete"] = merged["resource_arn"].map(present).fillna(0).eq(len(KEYS))
    merged["compliant"] = merged["complete"] & ~merged["resource_arn"].isin(bad)
    failed = scans[scans["status"] != "ok"][["account_id", "region"]].drop_duplicates()
    failed["unknown"] = True
    merged = merged.merge(failed, on=["account_id", "region"], how="left")
    evaluated = merged[merged["unknown"].isna()]
    per_account = evaluated.groupby("account_id")["compliant"].agg(["sum", "count"])
    per_type = evaluated.groupby("resource_type")["compliant"].agg(["sum", "count"])
    del per_account, per_type

    end = spend["usage_date"].max() + pd.Timedelta(days=1)
    window = spend[spend["usage_date"] >= end - pd.Timedelta(days=30)]
    window = window[window["tag_key"].isin(KEYS)]
    tagged_cost = window[window["tag_value"] != ""]["cost"].sum()
    coverage = 100 * tagged_cost / window["cost"].sum()
    window.groupby(["account_id", "tag_key"])["cost"].sum()

    prices = json.loads(
        (Path(__file__).resolve().parent.parent / "finops_pipeline/data/aws_list_prices.json").read_text()
    )
    ebs = pd.DataFrame(
        [(t, r, p) for t, by in prices["ebs_gb_month"].items() for r, p in by.items()],
        columns=["volume_type", "region", "usd"],
    )
    vols = volumes.merge(ebs, on=["volume_type", "region"], how="left")
    vols["cost"] = vols["size_gb"] * vols["usd"]
    unattached = vols[vols["state"] == "available"]["cost"].sum()
    attached = vols.explode("attached_instance_ids").rename(columns={"attached_instance_ids": "instance_id"})
    stopped = attached.merge(
        instances[instances["state"] == "stopped"], on=["account_id", "region", "instance_id"]
    )
    stopped_usd = stopped["cost"].sum()
    stopped_ids = stopped[["account_id", "region", "instance_id"]].drop_duplicates()
    on_stopped = addresses.merge(stopped_ids, on=["account_id", "region", "instance_id"])
    stopped_usd += (on_stopped["region"].map(prices["public_ipv4_hourly"]["idle"]) * 730).sum()
    idle = addresses[
        addresses["association_id"].isna()
        & addresses["instance_id"].isna()
        & addresses["network_interface_id"].isna()
    ]
    idle_usd = (idle["region"].map(prices["public_ipv4_hourly"]["idle"]) * 730).sum()
    cutoff = pd.Timestamp(SNAPSHOT, tz="UTC") - pd.Timedelta(days=MAX_SNAPSHOT_AGE)
    old = snapshots[snapshots["start_time"] < cutoff]
    old_usd = (old["volume_size_gb"] * old["region"].map(prices["ebs_snapshot_gb_month"])).sum()
    savings = ce["usd"].sum() + unattached + stopped_usd + idle_usd + old_usd
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "compliant": int(evaluated["compliant"].sum()),
        "evaluated": len(evaluated),
        "spend_coverage_pct": round(coverage, 6),
        "savings_usd": round(savings, 2),
    }


def child(mode: str, path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, f"--{mode}", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(resources: int = 1_000_000, accounts: int = 1_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        generate(path, resources, accounts)
        with duckdb.connect(str(path), read_only=True) as conn:
            sizes = {
                t: conn.execute(f"SELECT count(*) FROM raw.{t}").fetchall()[0][0]
                for t in (
                    "tagged_resources",
                    "ec2_instances",
                    "ec2_volumes",
                    "ec2_snapshots",
                    "ec2_addresses",
                    "ce_cost_by_tag",
                    "scan_status",
                    "ce_recommendations",
                )
            }
        print(
            f"synthetic raw tables (built directly in DuckDB, not through moto) in "
            f"{time.perf_counter() - started:.1f} s: {accounts:,} accounts, {resources:,} resources, "
            f"13 months of tag spend"
        )
        for table, n in sizes.items():
            print(f"  raw.{table:<20} {n:>12,} rows")
        fast = child("duckdb", path)
        slow = child("pandas", path)
    print(
        f"DuckDB marts ({THREADS} threads): {fast['seconds']:.2f} s "
        f"(resources {fast['resources_s']:.2f} s, summary {fast['summary_s']:.2f} s, "
        f"recommendations {fast['recommendations_s']:.2f} s), peak RSS {fast['peak_rss_mb']:.0f} MB "
        f"(of which {fast['import_rss_mb']:.0f} MB is the interpreter and imports)"
    )
    print(f"pandas, same computation:   {slow['seconds']:.2f} s, peak RSS {slow['peak_rss_mb']:.0f} MB")
    print(
        f"ratio pandas / DuckDB:      {slow['seconds'] / fast['seconds']:.1f}x time, "
        f"{slow['peak_rss_mb'] / fast['peak_rss_mb']:.1f}x memory"
    )
    same = all(fast[k] == slow[k] for k in ("compliant", "evaluated", "spend_coverage_pct"))
    same = same and abs(fast["savings_usd"] - slow["savings_usd"]) < 0.05
    print(
        f"same figures: {same} (compliant {fast['compliant']:,} of {fast['evaluated']:,} evaluated; "
        f"spend coverage {fast['spend_coverage_pct']:.2f} %; savings ${fast['savings_usd']:,.2f}/month)"
    )
    print(
        f"targets: <= 30 s {'OK' if fast['seconds'] <= 30 else 'MISSED'}, "
        f"<= 2048 MB {'OK' if fast['peak_rss_mb'] <= 2048 else 'MISSED'}"
    )
    if not same:
        print(f"  duckdb: {fast}\n  pandas: {slow}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--duckdb", "--pandas"):
        result = run_duckdb(Path(sys.argv[2])) if sys.argv[1] == "--duckdb" else run_pandas(Path(sys.argv[2]))
        print(json.dumps(result))
    else:
        main(*(int(a) for a in sys.argv[1:3]))
