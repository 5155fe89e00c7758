"""Cost Explorer requests and wall time of the ingest, against real sandbox processes.

Prints, for the default 12-account world:
- a full 13-month backfill: requests and pages per grain, pipeline wall time, and the ratio to a
  request per day per grain stream (that baseline is counted by issuing it for real over one month
  of one grain, and extrapolated to the window);
- the daily refresh (daily_ingest_job over the schedule's window, marts included): its Cost
  Explorer requests and dollars;
and the same backfill and refresh at 100 accounts (the count must not grow per account), then a tag
scan of 200 accounts x 3 regions with 50 ms injected latency against calls x latency / concurrency.

Usage: ``.venv/bin/python bench/ingest_bench.py`` (about 5 minutes on 2 cores), or with ``--tag-scan``
for the tag scan alone (about 30 s).
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import duckdb

from finops_pipeline.clock import today_utc
from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS
from finops_pipeline.lib.cost_window import range_tags, refresh_tags
from finops_pipeline.settings import load_settings

REGIONS = "us-east-1,us-west-2,eu-west-1"
COST_ASSETS = tuple(grain.asset_name for grain in COST_GRAINS)
STREAMS_PER_DAY = 4 + 4  # four dimension grains plus one per required tag key


@contextmanager
def sandbox(workdir: Path, accounts: int, *extra: str) -> Iterator[dict[str, str]]:
    pid_file = workdir / f"sandbox-{accounts}.pid"
    cli = [sys.executable, "-m", "finops_pipeline.cli", "sandbox"]
    subprocess.run(
        [*cli, "--background", "--pid-file", str(pid_file), "--accounts", str(accounts), *extra],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {}
    for line in pid_file.with_name("sandbox.env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'\"")
    try:
        yield env
    finally:
        subprocess.run([*cli, "stop", "--pid-file", str(pid_file)], check=False, capture_output=True)


def run(
    env: dict[str, str], database: Path, assets: tuple[str, ...] | None, tags: dict[str, str]
) -> tuple[float, dg.ExecuteInProcessResult]:
    """One in-process run of ``assets`` (None: the daily job, exactly as the schedule runs it)."""
    os.environ.update({**env, "FINOPS_DUCKDB_PATH": str(database), "FINOPS_SCAN_REGIONS": REGIONS})
    from finops_pipeline.definitions import defs

    definitions = defs()
    if assets is None:
        job = definitions.resolve_job_def("daily_ingest_job")
    else:
        job = definitions.resolve_implicit_global_asset_job_def()
        job = job.get_subset(asset_selection={dg.AssetKey(a) for a in assets})
    started = time.perf_counter()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=tags, raise_on_error=False)
    elapsed = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"run failed: {[e.message for e in result.all_events if e.is_step_failure]}")
    return elapsed, result


def ce_pages(database: Path) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(
            "SELECT asset_key, sum(pages) FROM meta.api_call_log WHERE service = 'ce' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return {asset: int(pages) for asset, pages in rows}


def per_day_baseline(env: dict[str, str], start: dt.date, days: int) -> int:
    """Really issue one GetCostAndUsage per day for one grain, and count the requests."""
    ce = boto3.client(
        "ce",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    requests = 0
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        token = None
        while True:
            answer = ce.get_cost_and_usage(
                TimePeriod={"Start": day.isoformat(), "End": (day + dt.timedelta(days=1)).isoformat()},
                Granularity="DAILY",
                Metrics=["UnblendedCost", "AmortizedCost", "NetUnblendedCost"],
                GroupBy=[
                    {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                    {"Type": "DIMENSION", "Key": "SERVICE"},
                ],
                **({"NextPageToken": token} if token else {}),
            )
            requests += 1
            token = answer.get("NextPageToken")
            if not token:
                break
    return requests


def backfill_and_refresh(workdir: Path, accounts: int) -> dict[str, Any]:
    settings = load_settings({})
    today = today_utc()
    with sandbox(workdir, accounts) as env:
        full_db = workdir / f"full-{accounts}.duckdb"
        full_s, _ = run(env, full_db, COST_ASSETS, range_tags(settings.start_date, today))
        full = ce_pages(full_db)
        daily_db = workdir / f"daily-{accounts}.duckdb"
        run(env, daily_db, None, refresh_tags(settings, today))
        daily = ce_pages(daily_db)
        sample = per_day_baseline(env, today - dt.timedelta(days=31), 31) if accounts == 12 else None
    days = (today - settings.start_date).days + 1
    return {"full_s": full_s, "full": full, "daily": daily, "days": days, "sample": sample}


def month_close_refresh(workdir: Path, accounts: int) -> tuple[dt.date, dict[str, int]]:
    """The daily refresh on the 2nd of this month, when it also re-reads last month (month close)."""
    day = (today_utc() - dt.timedelta(days=1)).replace(day=2)  # never in the future
    with sandbox(workdir, accounts, "--as-of", day.isoformat()) as env:
        database = workdir / f"close-{accounts}.duckdb"
        run(env, database, None, refresh_tags(load_settings({}), day))
        return day, ce_pages(database)


def tag_scan(workdir: Path, accounts: int, latency_ms: int, concurrency: int) -> None:
    with sandbox(workdir, accounts, "--latency-ms", str(latency_ms)) as env:
        os.environ["FINOPS_MAX_CONCURRENCY"] = str(concurrency)
        database = workdir / "scan.duckdb"
        run(env, database, ("aws_accounts",), range_tags(today_utc(), today_utc()))
        _, result = run(env, database, ("tagged_resources",), range_tags(today_utc(), today_utc()))
        materialization = result.asset_materializations_for_node("tagged_resources")[0]
        elapsed = materialization.metadata["scan_seconds"].value
        with duckdb.connect(str(database), read_only=True) as conn:
            calls = conn.execute(
                "SELECT sum(calls) FROM meta.api_call_log WHERE asset_key = 'tagged_resources'"
            ).fetchone()[0]
            scans = conn.execute("SELECT count(*) FROM raw.scan_status WHERE source = 'tagging'").fetchone()[
                0
            ]
        del os.environ["FINOPS_MAX_CONCURRENCY"]
    ideal = calls * latency_ms / 1000 / concurrency
    print(
        f"\nTag scan: {accounts} accounts x 3 regions = {scans} scans, {calls} requests, "
        f"{latency_ms} ms latency, concurrency {concurrency}"
    )
    print(
        f"  scan wall time {elapsed:.1f} s (the fan-out inside tagged_resources); "
        f"calls x latency / concurrency = {ideal:.1f} s; ratio {elapsed / ideal:.2f} (target <= 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tag-scan", action="store_true", help="only the 200-account tag scan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.tag_scan:
            tag_scan(workdir, 200, 50, 8)
            return
        small = backfill_and_refresh(workdir, 12)
        large = backfill_and_refresh(workdir, 100)
        streams = small["days"] * STREAMS_PER_DAY
        print(f"Full backfill, 12 accounts, {small['days']} days, one request stream per grain:")
        for asset, pages in small["full"].items():
            print(f"  {asset:<40} {pages:>5} requests")
        total = sum(v for k, v in small["full"].items() if k in COST_ASSETS)
        print(
            f"  cost grains: {total} requests (${total * 0.01:.2f}); "
            f"pipeline wall time {small['full_s']:.1f} s (target <= 60 s)"
        )
        print(
            f"  baseline, one request per day per stream: {streams} requests "
            f"(measured: {small['sample']} requests for 31 days of one grain) -> "
            f"{streams / total:.1f}x fewer (target >= 10x)"
        )
        daily_total = sum(small["daily"].values())
        print(
            f"Daily refresh, 12 accounts: {daily_total} Cost Explorer requests (${daily_total * 0.01:.2f}; "
            f"target <= 15) {small['daily']}"
        )
        large_total = sum(v for k, v in large["full"].items() if k in COST_ASSETS)
        print("Accounts 12 -> 100:")
        print(
            f"  full backfill: {total} -> {large_total} requests "
            "(growth is pagination of ~5,000 groups a page, never a request per account)"
        )
        print(
            f"  daily refresh: {daily_total} -> {sum(large['daily'].values())} requests "
            f"(pages per asset at 100 accounts: {large['daily']})"
        )
        day, close = month_close_refresh(workdir, 12)
        print(
            f"Daily refresh on {day} (month close: every grain but the usage-only one re-reads last "
            f"month), 12 accounts: {sum(close.values())} requests (target <= 15) {close}"
        )
        tag_scan(workdir, 200, 50, 8)


if __name__ == "__main__":
    main()
