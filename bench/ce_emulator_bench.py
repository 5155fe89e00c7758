"""Benchmark: page timings of the Cost Explorer emulator on a 1,000-account world.

Times every page of a 13-month DAILY GetCostAndUsage grouped by LINKED_ACCOUNT and SERVICE (the
pipeline's daily-cost backfill) and prints per-page and first-page times. Target: every page < 1 s.
Run: .venv/bin/python bench/ce_emulator_bench.py [accounts]
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time

from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import WorldConfig, build_world


def main(accounts: int = 1000) -> None:
    started = time.perf_counter()
    world = build_world(WorldConfig(accounts=accounts))
    print(
        f"world: {accounts} accounts, {world.ledger.num_rows:,} ledger rows, built in "
        f"{time.perf_counter() - started:.1f} s"
    )
    started = time.perf_counter()
    emulator = CostExplorerEmulator(world)
    print(f"emulator loaded in {time.perf_counter() - started:.1f} s")

    end = world.data_end
    month = end.month - 13
    start = dt.date(end.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    body = {
        "TimePeriod": {"Start": max(start, world.history_start).isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost", "AmortizedCost", "NetUnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    times, groups, token = [], 0, None
    while True:
        request = body | ({"NextPageToken": token} if token else {})
        t0 = time.perf_counter()
        status, answer = emulator.handle("GetCostAndUsage", request)
        times.append(time.perf_counter() - t0)
        assert status == 200, answer
        groups += sum(len(r["Groups"]) for r in answer["ResultsByTime"])
        token = answer.get("NextPageToken")
        if len(times) <= 3 or not token or len(times) % 100 == 0:
            print(f"page {len(times):4d}: {times[-1] * 1000:8.1f} ms")
        if not token:
            break
    print(f"pages: {len(times)}, groups: {groups:,}")
    print(f"first page: {times[0] * 1000:.1f} ms (target < 1000 ms)")
    later = times[1:] or [0.0]
    print(f"later pages: median {statistics.median(later) * 1000:.1f} ms, max {max(later) * 1000:.1f} ms")
    print(f"all pages: {sum(times):.1f} s; slowest page / target = {max(times):.2f}")

    period = body["TimePeriod"]
    others = {
        "GetCostAndUsage MONTHLY by LINKED_ACCOUNT, SERVICE": body | {"Granularity": "MONTHLY"},
        "GetCostAndUsage DAILY ungrouped, RECORD_TYPE=Usage": {
            "TimePeriod": period,
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "Filter": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}},
        },
        "GetCostAndUsage MONTHLY by TAG Environment": {
            "TimePeriod": period,
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "TAG", "Key": "Environment"}],
        },
        "GetAnomalies (90 days, first call detects)": {
            "DateInterval": {"StartDate": (end - dt.timedelta(days=90)).isoformat()},
        },
        "GetSavingsPlansPurchaseRecommendation": {
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "SIXTY_DAYS",
            "AccountScope": "LINKED",
        },
        "GetRightsizingRecommendation": {"Service": "AmazonEC2"},
    }
    for name, request in others.items():
        operation = name.split()[0]
        t0 = time.perf_counter()
        status, answer = emulator.handle(operation, request)
        assert status == 200, answer
        print(f"{name}: first page {(time.perf_counter() - t0) * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
