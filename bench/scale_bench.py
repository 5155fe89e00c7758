"""The whole pipeline end to end at N accounts: the demo's full history, then the next day's daily refresh.

Issue #19 part 1. For each size in ``--accounts`` (3 scan regions) this prints, per asset, its wall time,
Cost Explorer requests and dollars, every AWS request, rows and the pipeline process's peak RSS during that
step; the run's totals, with the CPU seconds the pipeline and the sandbox each spent on the run (where the
wall time goes when both share the cores); the sandbox's own peak RSS and time, apart; and the growth from
one size to the next.

Three kinds of process, so that each memory figure is one process's own:

- the sandbox (``finops sandbox --background``), observed as of ``--as-of`` for the full history and
  restarted as of the next day for the refresh (the same world, one day later: its estimated days move);
- the pipeline (this file with ``--child run``): one in-process Dagster run on a warehouse file that the
  full history fills and the refresh then updates, with "today" pinned through ``FINOPS_TODAY``
  (``finops_pipeline/clock.py``), never the machine's date;
- the ground truth (``--child truth``): the same world built from its config, whose ledger totals the
  warehouse must equal to the cent (a benchmark assertion: the bench exits 1 when they differ).

Per-step peak RSS: the pipeline process resets its high-water mark (``/proc/self/clear_refs``) as each
step starts and reads ``VmHWM`` as it ends; the run's peak is the largest reading.

Usage (about 6 minutes at 12 accounts and 17 at 100 on 2 shared cores, sandbox starts and ground truth
included; 1,000 accounts needed ~17 GB and 45 min in issue #19, not run here)::

    nice -n 19 .venv/bin/python bench/scale_bench.py --accounts 12 100 [--as-of 2026-11-27]

Results also go to ``bench/results/scale.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REGIONS = "us-east-1,us-west-2,eu-west-1"
AS_OF = dt.date(2026, 11, 27)  # the test suite's pinned day
CE_DOLLARS_PER_REQUEST = 0.01
RSS_LIMIT_BYTES = 6 * 1024**3  # the machine is shared: a process above this is killed (--rss-limit-gb)
METRICS = ("unblended_cost", "amortized_cost", "net_unblended_cost")
TRUTH_METRICS = dict(zip(METRICS, ("UnblendedCost", "AmortizedCost", "NetUnblendedCost"), strict=True))
# Per asset: its Cost Explorer pages, calls and dollars (NULL: none), and every AWS request of the run
# (Cost Explorer and the per-account describe and list calls).
REQUESTS_BY_ASSET_SQL = """
SELECT asset_key, sum(pages) FILTER (WHERE service = 'ce'), sum(calls) FILTER (WHERE service = 'ce'),
       sum(estimated_cost_usd) FILTER (WHERE service = 'ce'), sum(pages)
FROM meta.api_call_log WHERE run_id = ? GROUP BY 1
"""
MONTHLY_SQL = """
SELECT strftime(date_trunc('month', usage_date), '%Y-%m'), sum(unblended_cost), sum(amortized_cost),
       sum(net_unblended_cost)
FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ? GROUP BY 1 ORDER BY 1
"""


# ------------------------------------------------------------------------------ in the pipeline process


def _status_kb(field_name: str) -> int:
    """A ``/proc/self/status`` memory field (VmHWM, VmRSS) in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


@dataclass(eq=False)  # a logging.Handler must stay hashable
class StepMeter(logging.Handler):
    """Per step: wall time, rows materialized and peak RSS, from the run's own events.

    A Dagster logger receives every event of the run as a log record; steps run one after the other
    (in-process executor), so resetting the high-water mark at STEP_START makes the VmHWM read at the
    step's end that step's own peak. Readings taken before each reset keep the run's overall peak.
    """

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_peak_kb: int = 0

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)

    def _reset_peak(self) -> None:
        self.run_peak_kb = max(self.run_peak_kb, _status_kb("VmHWM"))
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or event.step_key is None:
            return
        kind = event.event_type_value
        step = self.steps.setdefault(event.step_key, {"rows": 0, "materializations": 0})
        if kind == "STEP_START":
            self._reset_peak()
            step["started"] = time.perf_counter()
        elif kind == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            step["materializations"] += 1
            step["rows"] += int(getattr(metadata.get("dagster/row_count"), "value", 0) or 0)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            step["seconds"] = time.perf_counter() - step.get("started", time.perf_counter())
            step["peak_rss_kb"] = _status_kb("VmHWM")
            step["ok"] = kind == "STEP_SUCCESS"
            self.run_peak_kb = max(self.run_peak_kb, step["peak_rss_kb"])


def _meter_logger(handler: StepMeter) -> Any:
    import dagster as dg

    @dg.logger(description="the scale bench's per-step meter")
    def meter(_: Any) -> logging.Logger:
        logger = logging.getLogger("finops_scale_bench.meter")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.handlers = [handler]
        return logger

    return meter


def child_run(phase: str, database: Path) -> dict[str, Any]:
    """One run in this process: ``full`` is the demo's whole history, ``daily`` the scheduled refresh."""
    import dagster as dg
    import duckdb

    from finops_pipeline.clock import today_utc
    from finops_pipeline.definitions import defs as load_defs
    from finops_pipeline.demo import REPORT_RUN_CONFIG, full_history_selection
    from finops_pipeline.lib.cost_window import range_tags, refresh_tags
    from finops_pipeline.settings import load_settings

    settings, definitions = load_settings(), load_defs()
    if phase == "full":  # as finops_pipeline.demo.run_full_history: every daily asset, every report format
        job, config = definitions.resolve_implicit_global_asset_job_def(), REPORT_RUN_CONFIG
        assets, checks = full_history_selection(job)
        job = job.get_subset(asset_selection=assets, asset_check_selection=checks)
        tags = range_tags(settings.start_date, today_utc())
    else:  # as daily_ingest_schedule runs it
        job, config = definitions.resolve_job_def("daily_ingest_job"), {}
        tags = refresh_tags(settings, today_utc())
    meter = StepMeter()
    job = job.with_logger_defs({"console": dg.colored_console_logger, "meter": _meter_logger(meter)})
    loggers = {"console": {"config": {"log_level": "WARNING"}}, "meter": {}}
    started, cpu_started = time.perf_counter(), _cpu_s()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance, tags=tags, run_config={**config, "loggers": loggers}, raise_on_error=False
        )
    seconds, cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started
    with duckdb.connect(str(database), read_only=True) as conn:
        by_asset = conn.execute(REQUESTS_BY_ASSET_SQL, [result.run_id]).fetchall()
        ce = {a: (int(p), int(c), float(d)) for a, p, c, d, _ in by_asset if p is not None}
        requests = {a: int(n) for a, *_, n in by_asset}
        monthly = conn.execute(MONTHLY_SQL, [settings.start_date, today_utc()]).fetchall()
    return {
        "phase": phase,
        "today": today_utc().isoformat(),
        "window": tags,
        "success": result.success,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "aws_requests": requests,
        "peak_rss_kb": max(meter.run_peak_kb, _status_kb("VmHWM")),
        "steps": meter.steps,
        "ce": ce,
        "monthly": [[m, *(str(v) for v in values)] for m, *values in monthly],
        "start_date": settings.start_date.isoformat(),
    }


def _cpu_s() -> float:
    """This process's CPU seconds (user + system, all its threads): the pipeline's own work."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_truth(
    accounts: int, as_of: dt.date, start: dt.date, end: dt.date | None = None
) -> dict[str, dict[str, str]]:
    """The ledger's totals per month and metric over [start, end or as_of) of the world observed on
    ``as_of``: what Cost Explorer answered a run of that day."""
    from finops_sandbox.world import WorldConfig, build_world

    world = build_world(WorldConfig(accounts=accounts, as_of=as_of))
    monthly: dict[str, dict[str, Any]] = {}
    for column, metric in TRUTH_METRICS.items():
        for row in world.truth_totals("DAILY", (), metric).to_pylist():
            if start <= row["period_start"] < (end or as_of):
                month = monthly.setdefault(row["period_start"].strftime("%Y-%m"), {})
                month[column] = month.get(column, 0) + row["amount"]
    return {m: {c: str(v) for c, v in cols.items()} for m, cols in monthly.items()}


def child_export(accounts: int, as_of: dt.date) -> dict[str, Any]:
    """Deliver the world of ``as_of`` as its FOCUS export into the sandbox this environment names (the
    bucket the IAM policy names); the URI, files, bytes and seconds of the delivery."""
    import boto3

    from finops_sandbox.data_exports import DataExport
    from finops_sandbox.world import WorldConfig, build_world

    started = time.perf_counter()
    world = build_world(WorldConfig(accounts=accounts, as_of=as_of))
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ["AWS_REGION"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    export = DataExport(s3, "finops-data-exports")
    periods = export.publish(world)
    objects = [
        o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=export.bucket)
        for o in page.get("Contents", [])
    ]  # fmt: skip
    return {
        "uri": export.uri,
        "periods": len(periods),
        "files": len(objects),
        "bytes": sum(o["Size"] for o in objects),
        "seconds": time.perf_counter() - started,
    }


# ------------------------------------------------------------------------------------------ the driver


def _clean_env() -> dict[str, str]:
    """This environment without AWS settings that would send calls elsewhere (as ``make demo`` does)."""
    drop = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "ASSUME_ROLE_ARN", "AWS_ENDPOINT_URL")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@dataclass
class Sandbox:
    """A ``finops sandbox --background`` process: its client env, pid and start-to-healthy seconds."""

    pid_file: Path
    env: dict[str, str]
    pid: int
    start_s: float

    @classmethod
    def start(cls, workdir: Path, accounts: int, as_of: dt.date) -> Sandbox:
        pid_file = workdir / f"sandbox-{accounts}-{as_of}" / "sandbox.pid"
        argv = [sys.executable, "-m", "finops_pipeline.cli", "sandbox", "--background", "--wait", "3600"]
        argv += ["--pid-file", str(pid_file), "--accounts", str(accounts), "--as-of", as_of.isoformat()]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=_clean_env())
        if done.returncode != 0:
            raise SystemExit(f"sandbox ({accounts} accounts) failed to start:\n{done.stderr}")
        env = dict(line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines())
        env = {k: v.strip("'\"") for k, v in env.items()}
        return cls(pid_file, env, int(pid_file.read_text()), time.perf_counter() - started)

    def figures(self) -> dict[str, float]:
        """The sandbox process's own peak RSS and CPU seconds so far (start, world build and serving)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return {"peak_rss_gb": hwm_kb / 1024**2, "cpu_s": cpu_s, "start_s": self.start_s}

    def stop(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "finops_pipeline.cli",
            "sandbox",
            "stop",
            "--pid-file",
            str(self.pid_file),
        ]
        subprocess.run(argv, capture_output=True, check=False)


def _watch_rss(process: subprocess.Popen[str], peak: list[int]) -> None:
    """Kill ``process`` if its RSS passes RSS_LIMIT_BYTES (the machine is shared); keep the peak seen."""
    while process.poll() is None:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except FileNotFoundError:
            return
        rss = next((int(x.split()[1]) * 1024 for x in status.splitlines() if x.startswith("VmRSS:")), 0)
        peak[0] = max(peak[0], rss)
        if rss > RSS_LIMIT_BYTES:
            process.kill()
            return
        time.sleep(0.5)


def spawn_child(args: list[str], env: dict[str, str], timeout_s: float = 7200) -> dict[str, Any]:
    """Run this file as a child (``--child ...``), watched for memory; its last stdout line is JSON."""
    argv = [sys.executable, __file__, *args]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    peak = [0]
    watcher = threading.Thread(target=_watch_rss, args=(process, peak), daemon=True)
    watcher.start()
    out, _ = process.communicate(timeout=timeout_s)
    watcher.join()
    if process.returncode != 0:
        limit = " (killed: over the RSS limit)" if peak[0] > RSS_LIMIT_BYTES else ""
        raise SystemExit(f"{' '.join(args)} exited {process.returncode}{limit}")
    return json.loads(out.strip().splitlines()[-1])


def pipeline_env(sandbox: Sandbox, workdir: Path, accounts: int, today: dt.date) -> dict[str, str]:
    """The pipeline's environment: the sandbox's endpoint, the demo's scan regions, "today" pinned."""
    home = workdir / f"dagster-{accounts}"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((Path(__file__).parents[1] / "dagster.yaml").read_text())
    return {
        **_clean_env(),
        **sandbox.env,
        "DAGSTER_HOME": str(home),
        "FINOPS_DUCKDB_PATH": str(workdir / f"finops-{accounts}.duckdb"),
        "FINOPS_SCAN_REGIONS": REGIONS,
        "FINOPS_TODAY": today.isoformat(),
        # The bench measures what a run spends: the default budget (2,000) would stop 100 accounts.
        "FINOPS_RUN_REQUEST_BUDGET": "1000000",
        "REPORT_OUTPUT_DIR": str(workdir / f"reports-{accounts}"),
    }


def publish_export(sandbox: Sandbox, accounts: int, today: dt.date) -> dict[str, Any]:
    """The world's FOCUS Data Export delivered into the sandbox's S3 (a child builds the same world)."""
    argv = ["--child", "export", "--accounts", str(accounts), "--as-of", today.isoformat()]
    return spawn_child(argv, {**_clean_env(), **sandbox.env})


def phase(workdir: Path, accounts: int, today: dt.date, name: str, detail: str) -> dict[str, Any]:
    """One sandbox as of ``today`` and one pipeline run against it; both processes measured apart.

    ``detail`` is FINOPS_COST_DETAIL_SOURCE: with ``data_export`` the sandbox's export is delivered first
    (its time apart, as AWS's) and the per-account grains read the days it holds from it."""
    sandbox = Sandbox.start(workdir, accounts, today)
    try:
        env = pipeline_env(sandbox, workdir, accounts, today)
        export = publish_export(sandbox, accounts, today) if detail == "data_export" else None
        if export is not None:
            env.update(FOCUS_EXPORT_URI=export["uri"], FINOPS_COST_DETAIL_SOURCE=detail)
        before = sandbox.figures()["cpu_s"]
        run = spawn_child(["--child", "run", "--phase", name, "--database", env["FINOPS_DUCKDB_PATH"]], env)
        run["sandbox"] = sandbox.figures()
        # What the sandbox spent answering this run, apart from its start and the export's delivery.
        run["sandbox"]["run_cpu_s"] = run["sandbox"]["cpu_s"] - before
        run["export"] = export
    finally:
        sandbox.stop()
    if not run["success"]:
        failed = [step for step, figures in run["steps"].items() if not figures.get("ok", True)]
        raise SystemExit(f"{name} run at {accounts} accounts failed: {failed}")
    return run


def reconcile(run: dict[str, Any], truth: dict[str, dict[str, str]]) -> list[str]:
    """Months and metrics where raw.ce_cost_daily differs from the ledger by a cent or more."""
    cent = Decimal("0.01")
    stored = {
        m: dict(zip(METRICS, (Decimal(v) for v in values), strict=True)) for m, *values in run["monthly"]
    }
    wrong = (
        [f"months: warehouse {sorted(stored)} != truth {sorted(truth)}"] if set(stored) != set(truth) else []
    )
    for month, metrics in sorted(truth.items()):
        for metric, amount in metrics.items():
            got = stored.get(month, {}).get(metric, Decimal(0))
            if got.quantize(cent) != Decimal(amount).quantize(cent):
                wrong.append(f"{month} {metric}: warehouse {got:.6f} vs ledger {Decimal(amount):.6f}")
    for metric in METRICS:
        got = sum((m.get(metric, Decimal(0)) for m in stored.values()), Decimal(0))
        want = sum((Decimal(m[metric]) for m in truth.values()), Decimal(0))
        if got.quantize(cent) != want.quantize(cent):
            wrong.append(f"total {metric}: warehouse {got:.6f} vs ledger {want:.6f}")
    return wrong


def truth_for(accounts: int, run: dict[str, Any], full_day: dt.date) -> dict[str, dict[str, str]]:
    """What the warehouse must hold after ``run``: the days its window read, as the world of that day
    answered them; for a refresh, the days before its window as the full history's world answered them.

    The sandbox rebuilds its whole history from the as-of day, so the world of the next day differs
    from the previous one on past, final days too; AWS would not, and the refresh rightly never re-reads
    a day stored as final (README "Daily refresh"). Those days are checked against the world they came from.
    """
    today = dt.date.fromisoformat(run["today"])
    window = dt.date.fromisoformat(run["window"]["dagster/asset_partition_range_start"])
    parts = [(today, dt.date.fromisoformat(run["start_date"]) if run["phase"] == "full" else window, None)]
    if run["phase"] == "daily":
        parts.append((full_day, dt.date.fromisoformat(run["start_date"]), window))
    merged: dict[str, dict[str, Decimal]] = {}
    for as_of, start, end in parts:
        argv = ["--child", "truth", "--accounts", str(accounts), "--as-of", as_of.isoformat()]
        argv += ["--start", start.isoformat(), *(["--end", end.isoformat()] if end else [])]
        for month, metrics in spawn_child(argv, _clean_env()).items():
            for metric, amount in metrics.items():
                merged.setdefault(month, {}).setdefault(metric, Decimal(0))
                merged[month][metric] += Decimal(amount)
    return {m: {k: str(v) for k, v in metrics.items()} for m, metrics in merged.items()}


def size(workdir: Path, accounts: int, as_of: dt.date, detail: str) -> dict[str, Any]:
    """Full history as of ``as_of``, then the refresh the next day, each checked against its world."""
    result: dict[str, Any] = {"accounts": accounts, "detail_source": detail}
    for name, today in (("full", as_of), ("daily", as_of + dt.timedelta(days=1))):
        run = phase(workdir, accounts, today, name, detail)
        run["reconcile"] = reconcile(run, truth_for(accounts, run, as_of))
        result[name] = run
        verdict = "equal to the cent" if not run["reconcile"] else f"DIFFER: {run['reconcile'][:5]}"
        print(
            f"[{accounts} accounts, {name} as of {today}] {run['seconds']:.0f} s; totals vs ledger: {verdict}"
        )
        if run["export"]:
            e = run["export"]
            print(
                f"  the sandbox's export (apart): {e['periods']} periods, {e['files']} objects, "
                f"{e['bytes'] / 1e6:.0f} MB, delivered in {e['seconds']:.0f} s"
            )
    return result


# ------------------------------------------------------------------------------------------ the tables


def asset_rows(run: dict[str, Any]) -> list[tuple[str, float, int, float, int, float, int]]:
    """Per asset (check-only steps folded into one row): seconds, CE requests, $, rows, peak RSS GB and
    every AWS request (the describe and list calls of a per-account scan among them)."""
    rows, checks = [], [0.0, 0, 0.0]
    for step, figures in run["steps"].items():
        requests, _, dollars = run["ce"].get(step, (0, 0, 0.0))
        seconds, peak = figures.get("seconds", 0.0), figures.get("peak_rss_kb", 0) / 1024**2
        if figures["materializations"] == 0 and requests == 0:
            checks = [checks[0] + seconds, checks[1] + 1, max(checks[2], peak)]
            continue
        aws_requests = run["aws_requests"].get(step, 0)
        rows.append((step, seconds, requests, dollars, figures["rows"], peak, aws_requests))
    rows.sort(key=lambda row: -row[1])
    if checks[1]:
        rows.append((f"({checks[1]} check steps)", checks[0], 0, 0.0, 0, checks[2], 0))
    return rows


def totals(run: dict[str, Any]) -> dict[str, float]:
    requests = sum(pages for pages, _, _ in run["ce"].values())
    return {
        "seconds": run["seconds"],
        "cpu_s": run["cpu_s"],
        "aws_requests": sum(run["aws_requests"].values()),
        "sandbox_run_cpu_s": run["sandbox"]["run_cpu_s"],
        "peak_rss_gb": run["peak_rss_kb"] / 1024**2,
        "ce_requests": requests,
        "ce_usd": requests * CE_DOLLARS_PER_REQUEST,
        "sandbox_rss_gb": run["sandbox"]["peak_rss_gb"],
        "sandbox_cpu_s": run["sandbox"]["cpu_s"],
        "sandbox_start_s": run["sandbox"]["start_s"],
    }


def print_assets(results: list[dict[str, Any]], name: str, top: int) -> None:
    """One markdown table per phase: the ``top`` slowest assets of the largest size, every size beside."""
    by_size = {r["accounts"]: {row[0]: row for row in asset_rows(r[name])} for r in results}
    largest = max(by_size)
    order = [a for a in by_size[largest] if not a.startswith("(")][:top]
    order += [a for a in by_size[largest] if a.startswith("(")]
    sizes = sorted(by_size)
    header = "| asset | " + " | ".join(f"{n} acc: s / CE req ($) / AWS req / rows / RSS GB" for n in sizes)
    header += " |"
    print(
        f"\n{'Full history' if name == 'full' else 'Daily refresh (next day)'}, per asset "
        f"({top} slowest at {largest} accounts; the rest in the JSON):\n"
    )
    print(header)
    print("|---" * (len(sizes) + 1) + "|")
    for asset in order:
        cells = []
        for n in sizes:
            row = by_size[n].get(asset)
            cells.append(
                "—"
                if row is None
                else f"{row[1]:.1f} / {row[2]} (${row[3]:.2f}) / {row[6]:,} / {row[4]:,} / {row[5]:.2f}"
            )
        print(f"| {asset} | " + " | ".join(cells) + " |")


def print_totals(results: list[dict[str, Any]]) -> None:
    """The whole run and the sandbox apart, per size and phase, then the growth from size to size."""
    print("\nWhole run (pipeline process; the sandbox apart):\n")
    print(
        "| accounts | run | wall s | CPU s | peak RSS GB | CE requests | CE $ | AWS requests "
        "| sandbox CPU s in the run | sandbox peak RSS GB | sandbox CPU s | sandbox start s "
        "| totals = ledger |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for result in results:
        for name in ("full", "daily"):
            t = totals(result[name])
            ok = "yes, to the cent" if not result[name]["reconcile"] else "NO"
            print(
                f"| {result['accounts']:,} | {name} | {t['seconds']:.0f} | {t['cpu_s']:.0f} | "
                f"{t['peak_rss_gb']:.2f} | {t['ce_requests']:,} | {t['ce_usd']:.2f} | "
                f"{t['aws_requests']:,} | "
                f"{t['sandbox_run_cpu_s']:.0f} | {t['sandbox_rss_gb']:.2f} | "
                f"{t['sandbox_cpu_s']:.0f} | {t['sandbox_start_s']:.0f} | {ok} |"
            )
    if len(results) < 2:
        return
    print("\nGrowth from one size to the next (x):\n")
    print("| accounts | run | CE requests | wall time | peak RSS | sandbox RSS |")
    print("|---|---|---:|---:|---:|---:|")
    for small, large in itertools.pairwise(results):
        for name in ("full", "daily"):
            a, b = totals(small[name]), totals(large[name])
            ratios = [
                b[k] / a[k] if a[k] else float("nan")
                for k in ("ce_requests", "seconds", "peak_rss_gb", "sandbox_rss_gb")
            ]
            print(
                f"| {small['accounts']:,} → {large['accounts']:,} | {name} | "
                + " | ".join(f"{r:.2f}" for r in ratios)
                + " |"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[12, 100, 1000])
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF, help="the full history's today")
    parser.add_argument("--top", type=int, default=12, help="assets shown per table (default 12)")
    parser.add_argument(
        "--rss-limit-gb", type=float, default=6.0, help="kill a child process above this RSS (default 6)"
    )
    parser.add_argument(
        "--detail-source",
        choices=("cost_explorer", "data_export"),
        default="cost_explorer",
        help="FINOPS_COST_DETAIL_SOURCE of the runs (data_export: the sandbox delivers its FOCUS export)",
    )
    parser.add_argument("--child", choices=("run", "truth", "export"), help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("full", "daily"), help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--end", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global RSS_LIMIT_BYTES  # the watchers of every child read it
    RSS_LIMIT_BYTES = int(args.rss_limit_gb * 1024**3)
    if args.child == "run":
        print(json.dumps(child_run(args.phase, args.database), default=str))
        return 0
    if args.child == "truth":
        print(json.dumps(child_truth(args.accounts[0], args.as_of, args.start, args.end)))
        return 0
    if args.child == "export":
        print(json.dumps(child_export(args.accounts[0], args.as_of)))
        return 0
    command = "nice -n 19 .venv/bin/python bench/scale_bench.py --accounts " + " ".join(
        map(str, args.accounts)
    )
    if args.rss_limit_gb != 6.0:
        command += f" --rss-limit-gb {args.rss_limit_gb:g}"
    if args.detail_source != "cost_explorer":
        command += f" --detail-source {args.detail_source}"
    print(
        f"$ {command}\n(full history as of {args.as_of}, daily refresh as of the next day, "
        f"scan regions {REGIONS}; {os.cpu_count()} cores)"
    )
    suffix = "" if args.detail_source == "cost_explorer" else f"-{args.detail_source}"
    out = Path(__file__).parent / "results" / f"scale{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Inside the project: the settings refuse a REPORT_OUTPUT_DIR outside it.
    with tempfile.TemporaryDirectory(prefix="scale-bench-", dir=out.parent) as tmp:
        results = [size(Path(tmp), accounts, args.as_of, args.detail_source) for accounts in args.accounts]
    for name in ("full", "daily"):
        print_assets(results, name, args.top)
    print_totals(results)
    out.write_text(json.dumps(results, indent=2, default=str))
    wrong = [(r["accounts"], n) for r in results for n in ("full", "daily") if r[n]["reconcile"]]
    if wrong:
        print(f"\nASSERTION FAILED: warehouse totals differ from the ledger at {wrong}", file=sys.stderr)
        return 1
    print("\nAssertion held: raw.ce_cost_daily equals the ledger to the cent, every month and metric.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
