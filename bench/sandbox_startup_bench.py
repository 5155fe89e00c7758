"""How long the sandbox takes to come up, and to answer its first calls, at 12 and 1,000 accounts.

Targets: a 12-account world generated and served within 15 s of start; 1,000 accounts within 120 s.
Each size runs as a real ``finops sandbox --background`` process (so the figure includes interpreter start
and imports, as a user sees it); the sandbox's own breakdown (world generation, moto seeding, serving) comes
from its health endpoint. Usage: ``.venv/bin/python bench/sandbox_startup_bench.py [--accounts 12 1000]``.
Results are also written to ``bench/results/sandbox_startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

TARGETS_S = {12: 15.0, 1000: 120.0}
AS_OF = "2026-11-27"


def _timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, round(time.perf_counter() - started, 3)


def _first_calls(env: dict[str, str], health: dict[str, Any]) -> dict[str, float]:
    """Wall time of the calls a first scan makes, each against the fresh sandbox."""
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    url = env["AWS_ENDPOINT_URL"]
    org = session.client("organizations", endpoint_url=url)
    pages = org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 20})
    accounts, list_s = _timed(lambda: [a for page in pages for a in page["Accounts"]])
    assert len(accounts) == len(health["accounts"])
    member = next(a["Id"] for a in accounts if a["Status"] == "ACTIVE" and a["Id"] != health["accounts"][0])
    sts = session.client("sts", endpoint_url=url)
    credentials, assume_s = _timed(
        lambda: sts.assume_role(
            RoleArn=f"arn:aws:iam::{member}:role/FinOpsMemberReadOnly", RoleSessionName="bench"
        )
    )
    keys = credentials["Credentials"]
    tagging = boto3.client(
        "resourcegroupstaggingapi",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    _, tagging_s = _timed(lambda: list(tagging.get_paginator("get_resources").paginate()))
    ce = session.client("ce", endpoint_url=url)
    _, ce_s = _timed(
        lambda: ce.get_cost_and_usage(
            TimePeriod={"Start": "2025-10-01", "End": AS_OF},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
        )
    )
    return {
        "list_accounts_all_pages_s": list_s,
        "assume_role_s": assume_s,
        "tagging_get_resources_one_account_region_s": tagging_s,
        "ce_monthly_by_account_s": ce_s,
    }


def bench(accounts: int, workdir: Path) -> dict[str, Any]:
    pid_file = workdir / f"sandbox-{accounts}.pid"
    argv = [
        sys.executable,
        "-m",
        "finops_pipeline.cli",
        "sandbox",
        "--background",
        "--pid-file",
        str(pid_file),
    ]
    argv += ["--accounts", str(accounts), "--as-of", AS_OF, "--wait", "900"]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    ready_s = round(time.perf_counter() - started, 2)
    if done.returncode != 0:
        raise SystemExit(f"sandbox with {accounts} accounts failed to start:\n{done.stderr}")
    env = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
    try:
        from finops_sandbox.cli import health

        status = health(env["AWS_ENDPOINT_URL"])
        first_calls = _first_calls(env, status)
    finally:
        subprocess.run(
            [sys.executable, "-m", "finops_pipeline.cli", "sandbox", "stop", "--pid-file", str(pid_file)],
            capture_output=True,
            check=False,
        )
    return {
        "accounts": accounts,
        "resources": sum(status["resources"].values()),
        "start_to_healthy_s": ready_s,
        "target_s": TARGETS_S.get(accounts),
        **{f"sandbox_{key}": value for key, value in status["timings"].items()},
        **first_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[12, 1000])
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for accounts in args.accounts:
            result = bench(accounts, Path(tmp))
            results.append(result)
            print(json.dumps(result))
    print()
    print(
        f"{'accounts':>8} {'resources':>9} {'imports s':>9} {'world s':>8} {'seed s':>7} {'serve s':>8} "
        f"{'start->healthy s':>17} target"
    )
    for r in results:
        verdict = (
            "" if r["target_s"] is None else ("ok" if r["start_to_healthy_s"] <= r["target_s"] else "MISSED")
        )
        print(
            f"{r['accounts']:>8} {r['resources']:>9} {r['sandbox_imports_s']:>9} {r['sandbox_world_s']:>8} "
            f"{r['sandbox_seed_s']:>7} "
            f"{r['sandbox_serve_s']:>8} {r['start_to_healthy_s']:>17} {r['target_s']} {verdict}"
        )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        print(
            f"ratio {large['accounts']}/{small['accounts']} accounts: resources x"
            f"{large['resources'] / small['resources']:.1f}, "
            f"seeding x{large['sandbox_seed_s'] / small['sandbox_seed_s']:.1f}, "
            f"start->healthy x{large['start_to_healthy_s'] / small['start_to_healthy_s']:.1f}"
        )
    print(
        f"(PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}: "
        "when set, every start recompiles its imports)"
    )
    out = Path(__file__).parent / "results" / "sandbox_startup.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
