"""``finops sandbox``: run the local AWS sandbox in the foreground, in the background, or stop it.

The background mode exists for Makefiles, notebooks and tests in other processes: it returns once the
sandbox answers its health endpoint and leaves a pid file and an env file of ``export`` lines behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from finops_pipeline.processes import process_alive
from finops_sandbox.caller_scope import OrgAccess, ScopeError, add_scope_arguments
from finops_sandbox.cost_explorer.common import DEFAULT_PAGE_SIZE
from finops_sandbox.faults import REGION_RE, Faults, FaultsError, add_fault_arguments

DEFAULT_PID_FILE = Path(".sandbox/sandbox.pid")
STOP_TIMEOUT_S = 20.0


class CliError(Exception):
    """A user-facing error: printed as ``finops sandbox: error: ...`` with exit status 2."""


# --------------------------------------------------------------------------------------------- arguments


def _int_in(lo: int, hi: int, option: str, example: str) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a whole number; e.g. {option} {example}"
            ) from None
        if not lo <= number <= hi:
            raise argparse.ArgumentTypeError(
                f"{number} is out of range: use {lo}..{hi}, e.g. {option} {example}"
            )
        return number

    return parse


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date in YYYY-MM-DD form; e.g. --as-of 2026-11-27"
        ) from None


def _regions(value: str) -> tuple[str, ...]:
    regions = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    bad = [region for region in regions if not REGION_RE.match(region)]
    if bad or not regions:
        raise argparse.ArgumentTypeError(
            f"{', '.join(bad) or repr(value)} is not a list of AWS region codes; "
            "e.g. --regions us-east-1,eu-west-1"
        )
    return regions


def _tag_keys(value: str) -> tuple[str, ...]:
    keys = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not keys:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a list of tag keys; e.g. --inactive-tag-keys CostCenter"
        )
    return keys


def _tag_backfills(value: str) -> tuple[tuple[dt.date, dt.date], ...]:
    """FROM=REQUESTED pairs of completed cost allocation tag backfills."""
    example = "e.g. --tag-backfilled 2026-01-01=2026-11-20"
    pairs = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        start, sep, requested = part.partition("=")
        try:
            pairs.append((dt.date.fromisoformat(start), dt.date.fromisoformat(requested)))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not YYYY-MM-DD=YYYY-MM-DD; {example}") from None
        if not sep or pairs[-1][0].day != 1 or pairs[-1][0] > pairs[-1][1]:
            raise argparse.ArgumentTypeError(
                f"{part!r}: FROM is a month's 1st, not after REQUESTED; {example}"
            )
    if not pairs:
        raise argparse.ArgumentTypeError(f"give FROM=REQUESTED; {example}")
    return tuple(pairs)


def _tag_activations(value: str) -> tuple[tuple[str, dt.date], ...]:
    pairs = []
    for part in (p.strip() for p in value.split(",") if p.strip()):
        key, sep, day = part.rpartition("=")
        try:
            if not sep or not key:
                raise ValueError(part)
            pairs.append((key, dt.date.fromisoformat(day)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not KEY=YYYY-MM-DD; e.g. --tag-activated CostCenter=2026-10-15"
            ) from None
    if not pairs:
        raise argparse.ArgumentTypeError("give KEY=YYYY-MM-DD, e.g. --tag-activated CostCenter=2026-10-15")
    return tuple(pairs)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the local AWS sandbox (synthetic organisation, Cost Explorer, moto)",
        description="Serve a synthetic AWS organisation on one loopback endpoint. Prints the export lines "
        "a boto3 client needs. 'finops sandbox stop' stops a --background one.",
    )
    parser.add_argument("action", nargs="?", choices=("start", "stop", "status"), default="start")
    parser.add_argument("--port", type=_int_in(0, 65535, "--port", "4566"), default=0, help="0 = a free port")
    parser.add_argument(
        "--accounts",
        type=_int_in(1, 5000, "--accounts", "12"),
        default=12,
        help="member accounts (default 12)",
    )
    parser.add_argument("--seed", type=_int_in(0, 2**63 - 1, "--seed", "42"), default=42, help="world seed")
    parser.add_argument(
        "--as-of", type=_date, default=None, help="day the world is observed (default: today UTC)"
    )
    parser.add_argument(
        "--regions", type=_regions, default=None, help="comma-separated (default: the world's)"
    )
    parser.add_argument(
        "--page-size",
        type=_int_in(1, 100_000, "--page-size", "500"),
        default=DEFAULT_PAGE_SIZE,
        help=f"Cost Explorer groups per page (default {DEFAULT_PAGE_SIZE}, as GetDimensionValues' cap); "
        "below AWS's own page it also caps GetAnomalies, Organizations ListAccounts(ForParent) and Tagging "
        "GetResources pages, so a client without its page loop loses items",
    )
    _add_billing_arguments(parser)
    parser.add_argument("--background", action="store_true", help="start detached; return once it answers")
    parser.add_argument("--pid-file", type=Path, default=DEFAULT_PID_FILE, help=f"default {DEFAULT_PID_FILE}")
    parser.add_argument(
        "--wait",
        type=_int_in(1, 3600, "--wait", "300"),
        default=300,
        help="seconds --background waits for the sandbox to answer (default 300)",
    )
    parser.add_argument("--ready-file", type=Path, default=None, help=argparse.SUPPRESS)
    add_fault_arguments(parser)
    add_scope_arguments(parser)
    parser.set_defaults(handler=run, parser=parser)


def _add_billing_arguments(parser: argparse.ArgumentParser) -> None:
    """How the world's bill behaves: tag activation and backfills, restatement, month close, budgets."""
    parser.add_argument(
        "--inactive-tag-keys",
        type=_tag_keys,
        default=(),
        help="comma-separated cost allocation tag keys left Inactive: Cost Explorer puts all their spend "
        "in Key$ (default: every key active)",
    )
    parser.add_argument(
        "--tag-activated",
        type=_tag_activations,
        default=(),
        help="comma-separated KEY=YYYY-MM-DD: the key was activated that day; its spend before is Key$",
    )
    parser.add_argument(
        "--tag-backfilled",
        type=_tag_backfills,
        default=(),
        help="comma-separated FROM=REQUESTED days of completed cost allocation tag backfills: keys active "
        "on REQUESTED show their values from FROM (a month's 1st) on",
    )
    parser.add_argument(
        "--bill-final-day",
        type=_int_in(1, 28, "--bill-final-day", "5"),
        default=5,
        help="day of a month from which last month's bill is final: Cost Explorer marks this month's days, "
        "and last month's before that day, Estimated (default 5)",
    )
    parser.add_argument(
        "--late-restatement-days",
        type=_int_in(0, 62, "--late-restatement-days", "5"),
        default=0,
        help="also restate the N estimated days before the trailing three between two --as-of days "
        "(default 0)",
    )
    parser.add_argument(
        "--month-close-extras",
        action="store_true",
        help="post Fee, Discount and BundledDiscount items for a closed month from the 3rd of the next",
    )
    parser.add_argument(
        "--scoped-budgets",
        action="store_true",
        help="budgets of every filter kind besides the account budgets (organisation, service, tag, "
        "accounts, cost category, FilterExpression, CostTypes)",
    )


def env_file_for(pid_file: Path) -> Path:
    return pid_file.with_name("sandbox.env")


def log_file_for(pid_file: Path) -> Path:
    return pid_file.with_name("sandbox.log")


def export_lines(env: dict[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


# -------------------------------------------------------------------------------------------------- actions


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "stop":
            return stop(args.pid_file)
        if args.action == "status":
            return status(args.pid_file)
        faults = Faults.from_namespace(args)
        _world_config(args)  # a bad world option fails here, not in the background child
        return start_background(args, faults) if args.background else serve_foreground(args, faults)
    except (CliError, FaultsError, ScopeError) as exc:
        args.parser.error(str(exc))
        return 2  # parser.error exits; kept for type checkers


def _world_config(args: argparse.Namespace) -> Any:
    from finops_sandbox.world import WorldConfig

    kwargs: dict[str, Any] = {"accounts": args.accounts, "seed": args.seed}
    if args.as_of is not None:
        kwargs["as_of"] = args.as_of
    if args.regions is not None:
        kwargs["regions"] = args.regions
    kwargs["inactive_tag_keys"] = tuple(args.inactive_tag_keys)
    kwargs["tag_activation_dates"] = tuple(args.tag_activated)
    kwargs["tag_backfills"] = tuple(args.tag_backfilled)
    kwargs["bill_final_day"] = args.bill_final_day
    kwargs["late_restatement_days"] = args.late_restatement_days
    kwargs["month_close_extras"] = args.month_close_extras
    kwargs["scoped_budgets"] = args.scoped_budgets
    config = WorldConfig(**kwargs)
    late = [key for key, day in config.tag_activation_dates if day > config.as_of]
    clash = sorted(set(config.inactive_tag_keys) & {key for key, _ in config.tag_activation_dates})
    if late:
        raise CliError(f"--tag-activated {','.join(late)}: an activation date must not be after --as-of")
    if clash:
        raise CliError(f"{','.join(clash)}: a key is either --inactive-tag-keys or --tag-activated, not both")
    return config


def serve_foreground(args: argparse.Namespace, faults: Faults) -> int:
    from finops_sandbox.server import Sandbox, SandboxError

    try:
        access = OrgAccess.from_namespace(args)
        sandbox = Sandbox(
            _world_config(args), faults, port=args.port, ce_page_size=args.page_size, access=access
        ).start()
    except SandboxError as exc:
        raise CliError(str(exc)) from exc
    try:
        known = set(sandbox.world.accounts.column("account_id").to_pylist())
        for option, accounts in (
            ("--deny-accounts", faults.deny_accounts),
            ("--delegated-admin", access.delegated_admins),
            ("--share-billing-view", access.billing_view_shared_with),
        ):
            unknown = sorted(accounts - known)
            if unknown:
                raise CliError(
                    f"{option} {','.join(unknown)}: not an account of this world; pick ids from "
                    f"GET {sandbox.url}/sandbox/health ('accounts')"
                )
        stop_requested = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop_requested.set())
        sys.stdout.write(export_lines(sandbox.env()))
        sys.stdout.flush()
        timings = ", ".join(f"{key} {value}" for key, value in sandbox.timings.items())
        print(
            f"# finops sandbox: {args.accounts} member accounts as of {sandbox.world.config.as_of} at "
            f"{sandbox.url} ({timings}); Ctrl-C to stop",
            file=sys.stderr,
        )
        if args.ready_file is not None:
            _write_atomically(args.ready_file, json.dumps({"url": sandbox.url, "pid": os.getpid()}))
        stop_requested.wait()
    finally:
        sandbox.stop()
    return 0


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def _child_argv(args: argparse.Namespace, faults: Faults, ready_file: Path) -> list[str]:
    argv = [sys.executable, "-m", "finops_pipeline.cli", "sandbox", "--port", str(args.port)]
    argv += ["--accounts", str(args.accounts), "--seed", str(args.seed), "--page-size", str(args.page_size)]
    if args.as_of is not None:
        argv += ["--as-of", args.as_of.isoformat()]
    if args.regions is not None:
        argv += ["--regions", ",".join(args.regions)]
    if args.inactive_tag_keys:
        argv += ["--inactive-tag-keys", ",".join(args.inactive_tag_keys)]
    if args.tag_activated:
        argv += ["--tag-activated", ",".join(f"{key}={day.isoformat()}" for key, day in args.tag_activated)]
    if args.tag_backfilled:
        argv += [
            "--tag-backfilled",
            ",".join(f"{a.isoformat()}={b.isoformat()}" for a, b in args.tag_backfilled),
        ]
    argv += ["--bill-final-day", str(args.bill_final_day)]
    argv += ["--late-restatement-days", str(args.late_restatement_days)]
    if args.month_close_extras:
        argv.append("--month-close-extras")
    if args.scoped_budgets:
        argv.append("--scoped-budgets")
    access = OrgAccess.from_namespace(args).to_cli_args()
    return [*argv, *faults.to_cli_args(), *access, "--ready-file", str(ready_file)]


def health(url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/sandbox/health", timeout=timeout) as answer:
        return json.load(answer)


def start_background(args: argparse.Namespace, faults: Faults) -> int:
    pid_file: Path = args.pid_file
    started = time.monotonic()
    running = _read_pid(pid_file)
    if running is not None and _is_sandbox(running):
        raise CliError(
            f"a sandbox is already running (pid {running}, pid file {pid_file}); "
            f"stop it with: finops sandbox stop --pid-file {pid_file}"
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    ready_file = pid_file.with_name("sandbox.ready")
    ready_file.unlink(missing_ok=True)
    log_path = log_file_for(pid_file)
    with log_path.open("w") as log:
        child = subprocess.Popen(
            _child_argv(args, faults, ready_file),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the shell (and pytest) that started it
        )
    url = _wait_until_ready(child, ready_file, log_path, args.wait)
    ready_file.unlink(missing_ok=True)
    from finops_sandbox.server import client_env

    env = client_env(url)
    _write_atomically(pid_file, f"{child.pid}\n")
    _write_atomically(env_file_for(pid_file), export_lines(env))
    sys.stdout.write(export_lines(env))
    print(
        f"# finops sandbox ({args.accounts} accounts) ready in {time.monotonic() - started:.1f} s, running "
        f"in the background (pid {child.pid}) at {url}; env in "
        f"{env_file_for(pid_file)}; stop with: finops sandbox stop --pid-file {pid_file}",
        file=sys.stderr,
    )
    return 0


def _wait_until_ready(child: subprocess.Popen[bytes], ready_file: Path, log_path: Path, wait_s: int) -> str:
    """Poll (bounded) until the child has written its URL and answers its health endpoint."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-15:])
            raise CliError(f"the sandbox exited with status {child.returncode} before answering:\n{tail}")
        if ready_file.exists():
            url = json.loads(ready_file.read_text())["url"]
            try:
                health(url, timeout=1.0)
                return url
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.05)  # readiness poll interval
    child.terminate()
    raise CliError(
        f"the sandbox did not answer within {wait_s} s (log: {log_path}); a large world needs longer: "
        f"raise --wait or lower --accounts"
    )


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_sandbox(pid: int) -> bool:
    """Whether `pid` is a ``finops sandbox`` process (never signal a recycled pid)."""
    if not process_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return True  # no /proc (macOS): trust the pid file
    return b"sandbox" in cmdline and any(b"finops" in part for part in cmdline)


def stop(pid_file: Path) -> int:
    pid = _read_pid(pid_file)
    if pid is None:
        print(f"finops sandbox: no pid file at {pid_file}; nothing to stop", file=sys.stderr)
        return 0
    if _is_sandbox(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # exit poll interval
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)
        print(f"finops sandbox: stopped pid {pid}", file=sys.stderr)
    else:
        print(
            f"finops sandbox: pid {pid} from {pid_file} is not running; removing stale files", file=sys.stderr
        )
    pid_file.unlink(missing_ok=True)
    env_file_for(pid_file).unlink(missing_ok=True)
    return 0


def status(pid_file: Path) -> int:
    pid = _read_pid(pid_file)
    env_file = env_file_for(pid_file)
    if pid is None or not _is_sandbox(pid) or not env_file.exists():
        print(f"finops sandbox: not running (pid file {pid_file})", file=sys.stderr)
        return 1
    url = next(
        line.split("=", 1)[1] for line in env_file.read_text().splitlines() if "AWS_ENDPOINT_URL=" in line
    )
    print(json.dumps(health(shlex.split(url)[0]), indent=2, default=str))
    return 0
