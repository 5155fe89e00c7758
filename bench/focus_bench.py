"""Benchmark: the FOCUS import and its marts on synthetic FOCUS 1.0 data (default 10 million rows).

Synthetic rows are written straight to Parquet by DuckDB (hourly charge periods, 1,000 sub-accounts,
40 services, 200,003 resources (one per 50 rows at 10 million), Tags JSON with a CostCenter on 80 % of rows), in files of at most
``--rows-per-file`` rows, by billing period as AWS Data Exports lays them out. Then, in a child process so
its peak RSS is its own, with 2 DuckDB threads:
  1. ``ingest_export`` into a fresh warehouse (every file read: the first run);
  2. ``ingest_export`` again (nothing changed: the manifest check alone);
  3. both marts (spend coverage, showback) for every billing period (a first import's run);
  4. both marts for the newest period alone (what a ``focus_export_sensor`` run of the open period does);
  5. the aggregate alone: DuckDB over the Parquet files straight to day × account × service totals, the
     query an engine such as Athena would run over the export's table, leaving DuckDB only the result.
Prints rows, files, bytes on disk, bytes read, wall time and peak RSS per phase.
Run: .venv/bin/python bench/focus_bench.py [--rows 10000000] [--rows-per-file 2000000] [--rows-per-hour 1000]
[--keep DIR]
"""

# ruff: noqa: E501  (the synthetic-data SQL reads better unwrapped)
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

THREADS = 2
MONTH_HOURS = 720
ROWS_SQL = """
SELECT
    'AWS' AS ProviderName,
    '123456789012' AS BillingAccountId,
    lpad(CAST(100000000000 + (i % 1000) AS VARCHAR), 12, '0') AS SubAccountId,
    TIMESTAMP '{start}' AS BillingPeriodStart,
    TIMESTAMP '{start}' + INTERVAL 1 MONTH AS BillingPeriodEnd,
    TIMESTAMP '{start}' + to_hours(CAST((i // {per_hour}) % {hours} AS BIGINT)) AS ChargePeriodStart,
    TIMESTAMP '{start}' + to_hours(CAST((i // {per_hour}) % {hours} AS BIGINT) + 1) AS ChargePeriodEnd,
    CASE WHEN i % 997 = 0 THEN 'Tax' WHEN i % 499 = 0 THEN 'Credit' ELSE 'Usage' END AS ChargeCategory,
    CASE WHEN i % 499 = 0 THEN -0.5 ELSE (hash(i) % 100000) / 1e5 END AS BilledCost,
    CASE WHEN i % 499 = 0 THEN -0.5 ELSE (hash(i) % 100000) / 1e5 * 0.9 END AS EffectiveCost,
    (hash(i) % 100000) / 1e5 AS ListCost,
    'USD' AS BillingCurrency,
    'Service ' || (i % 40) AS ServiceName,
    ['us-east-1', 'us-west-2', 'eu-west-1'][1 + (i % 3)::INT] AS RegionId,
    CASE WHEN i % 997 = 0 THEN NULL ELSE 'arn:aws:svc:us-east-1:' || (i % 200003 % 1000) || ':res/' || (i % 200003) END AS ResourceId,
    'type-' || (i % 12) AS ResourceType,
    CASE WHEN i % 5 = 0 THEN '{{"Environment": "prod"}}'
         ELSE '{{"Environment": "prod", "CostCenter": "CC-' || (i % 37) || '"}}' END AS Tags,
    'UsageType-' || (i % 200) AS x_UsageType
FROM range({first}, {last}) t(i)
"""


def generate(folder: Path, rows: int, rows_per_file: int, per_hour: int) -> tuple[int, int]:
    """Write the synthetic export, ``per_hour`` rows an hour; (files, bytes)."""
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    per_month = per_hour * MONTH_HOURS  # rows of one billing period
    files, first, month = 0, 0, dt.date(2026, 1, 1)
    while first < rows:
        period_end = min(first + per_month, rows)
        part = 1
        for start in range(first, period_end, rows_per_file):
            target = folder / "data" / f"BILLING_PERIOD={month:%Y-%m}" / f"bench-{part:05d}.snappy.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            sql = ROWS_SQL.format(
                start=f"{month} 00:00:00",
                hours=MONTH_HOURS,
                per_hour=per_hour,
                first=start,
                last=min(start + rows_per_file, period_end),
            )
            con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION snappy)")
            files, part = files + 1, part + 1
        first, month = period_end, (month + dt.timedelta(days=32)).replace(day=1)
    con.close()
    return files, sum(p.stat().st_size for p in folder.rglob("*.parquet"))


def phase(name: str, folder: str, database: str, memory_limit: str | None) -> None:
    """One phase in this (child) process; prints a JSON line. ``memory_limit``: DuckDB's, beyond which
    its operators spill to a temporary folder beside the warehouse (None: DuckDB's default, 80% of RAM)."""
    from finops_pipeline.lib.focus.ingest import ingest_export
    from finops_pipeline.lib.focus.marts import write_showback, write_spend_coverage
    from finops_pipeline.lib.focus.source import ExportSource
    from finops_pipeline.lib.tag_rules import TagRules
    from finops_pipeline.warehouse import ensure_schema

    conn = duckdb.connect(database)
    conn.execute(f"SET threads = {THREADS}")
    if memory_limit:
        conn.execute(f"SET memory_limit = '{memory_limit}'")
        conn.execute(f"SET temp_directory = '{database}.tmp'")
    ensure_schema(conn)
    started = time.perf_counter()
    figures: dict[str, object] = {}
    if name in ("ingest", "reingest"):
        source = ExportSource(folder)
        summary = ingest_export(conn, source, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
        figures = {
            "files_read": summary.files_read,
            "rows_loaded": summary.rows_loaded,
            "bytes_read": summary.bytes_read,
        }
    elif name in ("marts", "marts_one_period"):
        periods = sorted(
            p for (p,) in conn.execute("SELECT DISTINCT billing_period FROM raw.focus_cost").fetchall()
        )
        periods = periods[-1:] if name == "marts_one_period" else periods
        write_spend_coverage(conn, TagRules(required_keys=("Environment", "CostCenter")), periods)
        write_showback(conn, "CostCenter", "strict", periods)
        figures = {
            "periods": len(periods),
            "coverage_rows": conn.execute("SELECT count(*) FROM marts.focus_spend_coverage").fetchone()[0],
            "showback_rows": conn.execute("SELECT count(*) FROM marts.focus_showback").fetchone()[0],
        }
    elif name == "aggregate_only":
        (groups,) = conn.execute(
            f"SELECT count(*) FROM (SELECT CAST(ChargePeriodStart AS DATE), SubAccountId, ServiceName, sum(BilledCost), sum(EffectiveCost) "
            f"FROM read_parquet('{folder}/data/*/*.parquet') GROUP BY ALL)"
        ).fetchone()
        figures = {"groups": groups}
    seconds = time.perf_counter() - started
    conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"phase": name, "seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb), **figures}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rows-per-file", type=int, default=2_000_000)
    # 1,000 rows an hour makes 10 million rows 14 billing periods; 100 million in 14 periods is 10,000
    parser.add_argument("--rows-per-hour", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the export and warehouse in")
    parser.add_argument(
        "--memory-limit", help="DuckDB memory_limit of each phase, e.g. 6GB (default: 80%% of RAM)"
    )
    parser.add_argument("--only", nargs="+", help="run only these phases on a --keep folder written before")
    parser.add_argument("--phase", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(*args.phase, args.memory_limit)
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="focus-bench-"))
    export, database = work / "export", work / "finops.duckdb"
    limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
    if args.only:
        for name in args.only:
            subprocess.run(
                [sys.executable, __file__, *limit, "--phase", name, str(export), str(database)], check=True
            )
        return
    started = time.perf_counter()
    files, size = generate(export, args.rows, args.rows_per_file, args.rows_per_hour)
    print(
        json.dumps(
            {
                "phase": "generate",
                "rows": args.rows,
                "rows_per_hour": args.rows_per_hour,
                "files": files,
                "parquet_mb": round(size / 2**20),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )
    for name in ("ingest", "reingest", "marts", "marts_one_period", "aggregate_only"):
        subprocess.run(
            [sys.executable, __file__, *limit, "--phase", name, str(export), str(database)], check=True
        )
    print(json.dumps({"phase": "warehouse", "duckdb_mb": round(database.stat().st_size / 2**20)}))


if __name__ == "__main__":
    main()
