"""Wall time and peak memory of the ``cost_anomalies`` asset at 1,000 accounts (target: <= 30 s, 3 GB).

Two processes, so the figures are the asset's own and not the world build's:

1. ``--prepare``: a sandbox world of 1,000 accounts (13 months and this month, as of 2026-11-27) fills a
   DuckDB warehouse: the raw tables the asset reads, created from the table registry, hold the ledger's
   sums per grain (what the Cost Explorer emulator answers: it serves the same ledger) and the
   emulator's own GetAnomalies answers, through the ingest's ``anomaly_row``.
2. this process: one in-process Dagster run materialises ``cost_anomalies`` alone on that file; its wall
   time, the detector's share of it and the process's peak resident memory (``getrusage``) are printed.

    .venv/bin/python bench/anomaly_asset_bench.py [--accounts 1000] [--database PATH]
        [--min-score 6 --min-probability 0]   # the statistical stages alone, as before the classifier

``--database``: prepare that file once and keep it (a later run with the same path only materialises).
The asset's CPU time is printed beside its wall time: on shared cores the two differ.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 30.0
TARGET_PEAK_GB = 3.0
AS_OF = dt.date(2026, 11, 27)
USAGE_RECORDS = "('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')"
GRAINS = {  # raw table: (group columns, filter) as the Cost Explorer ingest asks for each grain
    "raw.ce_cost_daily": ("account_id, service", "true"),
    "raw.ce_cost_by_region": ("service, region", "true"),
    "raw.ce_cost_by_usage_type": ("service, usage_type", "true"),
    "raw.ce_cost_by_account_usage_type": ("account_id, usage_type", f"record_type IN {USAGE_RECORDS}"),
}


def prepare(database: Path, accounts: int) -> None:
    """Fill ``database`` from a sandbox world of ``accounts`` accounts."""
    import duckdb

    from finops_pipeline import tables
    from finops_pipeline.defs.ingest.anomalies import anomaly_row
    from finops_sandbox.anomaly_worlds.world_series import aws_anomaly_answers
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
    from finops_sandbox.world import WorldConfig, build_world

    started = time.perf_counter()
    world = build_world(WorldConfig(accounts=accounts, as_of=AS_OF))
    now = dt.datetime.combine(AS_OF, dt.time(6), dt.UTC)
    answers = aws_anomaly_answers(CostExplorerEmulator(world), AS_OF - dt.timedelta(days=90), AS_OF)
    # DuckDB may take 80% of the machine's memory by default; the cores and the memory are shared.
    con = duckdb.connect(str(database), config={"memory_limit": "3GB", "threads": 1})
    try:
        con.execute(tables.schema_sql())
        con.register("ledger", world.ledger)
        for name, (groups, where) in GRAINS.items():
            con.execute(
                f"INSERT INTO {name} SELECT usage_date, {groups}, sum(unblended_cost), sum(amortized_cost), "
                f"sum(net_unblended_cost), usage_date >= DATE '{AS_OF.replace(day=1)}', 'USD' "
                f"FROM ledger WHERE {where} GROUP BY ALL"
            )
        con.register("accounts", world.accounts)
        con.execute(
            "INSERT INTO raw.aws_accounts (account_id, account_name, email, status, ingested_at) "
            "SELECT account_id, account_name, email, status, ? FROM accounts",
            [now],
        )
        rows = [anomaly_row(item, now) for item in answers]
        if rows:
            columns, marks = ", ".join(rows[0]), ", ".join("?" * len(rows[0]))
            con.executemany(
                f"INSERT INTO raw.ce_anomalies ({columns}) VALUES ({marks})", [list(r.values()) for r in rows]
            )
        counts = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in GRAINS}
    finally:
        con.close()
    print(
        f"prepared in {time.perf_counter() - started:.1f} s: {accounts:,} accounts, "
        f"{world.ledger.num_rows:,} ledger rows, {len(rows)} AWS anomalies, rows {counts}"
    )


def materialize(database: Path, policy: dict[str, float]) -> None:
    """One in-process run of the asset on ``database``; prints its time and peak memory."""
    import dagster as dg

    from finops_pipeline.config_resources import AnomalyPolicyResource
    from finops_pipeline.defs.anomalies import assets
    from finops_pipeline.warehouse import WarehouseResource

    detector_seconds: list[float] = []
    detect_events = assets.detect_events

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return detect_events(*args, **kwargs)
        finally:
            detector_seconds.append(time.perf_counter() - started)

    assets.detect_events = timed  # the asset looks it up in its module at run time
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [assets.cost_anomalies],
        resources={
            "warehouse": WarehouseResource(database=str(database), read_copy=False),
            "anomaly_policy": AnomalyPolicyResource(**policy),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux
    meta = result.asset_materializations_for_node("cost_anomalies")[0].metadata
    print(
        f"cost_anomalies: {seconds:.1f} s wall, {cpu:.1f} s CPU (detector {sum(detector_seconds):.1f} s), "
        f"peak RSS {peak_gb:.2f} GB; {meta['anomalies'].value} events of ours, "
        f"{meta['aws_anomalies'].value} of AWS"
    )
    ok = result.success and seconds <= TARGET_SECONDS and peak_gb <= TARGET_PEAK_GB
    print(
        f"target: <= {TARGET_SECONDS:.0f} s and <= {TARGET_PEAK_GB:.0f} GB -> {'OK' if ok else 'MISSED'} "
        f"({seconds / TARGET_SECONDS:.2f}x the time, {peak_gb / TARGET_PEAK_GB:.2f}x the memory)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--database", type=Path, help="warehouse file to prepare once and keep")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--min-score", type=float, help="ANOMALY_MIN_SCORE (default: the setting's)")
    parser.add_argument(
        "--min-probability", type=float, help="ANOMALY_MIN_PROBABILITY (0: the statistical stages alone)"
    )
    args = parser.parse_args()
    if args.prepare:
        prepare(args.prepare, args.accounts)
        return
    with tempfile.TemporaryDirectory() as folder:
        database = args.database or Path(folder) / "finops.duckdb"
        if not database.exists():
            cmd = [sys.executable, __file__, "--prepare", str(database), "--accounts", str(args.accounts)]
            subprocess.run(cmd, check=True)
        policy = {"min_score": args.min_score, "min_probability": args.min_probability}
        materialize(database, {k: v for k, v in policy.items() if v is not None})


if __name__ == "__main__":
    main()
