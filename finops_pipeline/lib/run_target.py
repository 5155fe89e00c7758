"""Which AWS a run talks to (its *target*), and the rule that one warehouse file holds one target's data.

A target is the kind of endpoint plus the caller's account: ``aws:123456789012`` for AWS itself,
``sandbox:210987654321`` for an emulator on loopback (the local sandbox: its port changes at every start,
its world does not), ``endpoint:<host>:<account>`` for any other endpoint. Every run that calls AWS
records it (run tag ``finops/target``), and the first one claims the warehouse file for it
(``meta.warehouse_target``): a later run against another target refuses before it writes, since its
rows would be summed with the other target's into totals that match neither bill.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any
from urllib.parse import urlsplit

TARGET_TAG = "finops/target"
AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
CLAIM_SQL = """
INSERT INTO meta.warehouse_target (target, endpoint, account_id, first_run_id, claimed_at)
SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM meta.warehouse_target)
"""


class TargetMismatchError(RuntimeError):
    """The run's target is not the one whose data the warehouse file holds."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def target_name(endpoint_url: str, account_id: str) -> str:
    """The target of a client whose endpoint is ``endpoint_url``, called as ``account_id``."""
    host = (urlsplit(endpoint_url).hostname or "").lower()
    if _is_loopback(host):
        return f"sandbox:{account_id}"
    if host.endswith(AWS_SUFFIXES):
        return f"aws:{account_id}"
    return f"endpoint:{host}:{account_id}"


def claim_warehouse(
    conn: Any, database: str, target: str, endpoint: str, account_id: str, run_id: str, now: dt.datetime
) -> None:
    """Record ``target`` as the warehouse's if it has none yet; refuse (before any write) if it differs."""
    conn.execute(CLAIM_SQL, [target, endpoint, account_id, run_id, now])
    held, first_run, since = conn.execute(
        "SELECT target, first_run_id, claimed_at FROM meta.warehouse_target LIMIT 1"
    ).fetchone()
    if held != target:
        again = (
            " (`make ui` runs against the sandbox unless UI_TARGET=aws)"
            if held.startswith("sandbox:")
            else ""
        )
        raise TargetMismatchError(
            f"The warehouse {database} holds data from {held} (since run {first_run}, {since:%Y-%m-%d}); "
            f"this run's target is {target} (endpoint {endpoint}). Its rows would be mixed with the other "
            f"target's into totals that match neither bill, so nothing was written. Fix: point "
            f"FINOPS_DUCKDB_PATH at another file for {target}; or run against {held} again{again}; or move "
            "the file away to start it over."
        )
