"""Labelled cost anomalies: where they fall, what they multiply, and the truth rows that label them.

Anomalies are placed in absolute time blocks of 73 days, keyed by (seed, kind, block, slot), so a
label does not move when as_of moves; a later as_of only reveals more of an anomaly still running.
A baseline world (no injection) plans the same anomalies, so it stays comparable, but applies none.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from finops_sandbox import catalog as cat
from finops_sandbox.world.config import ANOMALY_KINDS, Window, date_of
from finops_sandbox.world.org import Account
from finops_sandbox.world.rng import entity_rng, stable_key
from finops_sandbox.world.series import FLAT, NO_COMMIT, VARIABLE, SeriesBuilder
from finops_sandbox.world.workloads import Workload

_ANOMALY_BLOCK_DAYS = 73
_ANOMALIES_PER_ACCOUNT_BLOCK = 0.07

# Public: the Cost Explorer tests' hand-built world builds its anomalies table to the same contract.
ANOMALY_SCHEMA = pa.schema(
    [
        ("anomaly_id", pa.string()),
        ("account_id", pa.string()),
        ("service", pa.string()),
        ("region", pa.string()),
        ("usage_type", pa.string()),
        ("kind", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("impact_usd", pa.decimal128(18, 6)),
    ]
)


def plan_anomalies(
    window: Window, accounts: list[Account], workloads: list[Workload], series: SeriesBuilder
) -> list[dict[str, Any]]:
    """Place labelled anomalies in absolute time blocks (so labels do not move with as_of)."""
    members = accounts[1:]
    per_block = max(1, math.ceil(len(members) * _ANOMALIES_PER_ACCOUNT_BLOCK))
    first_block, last_block = window.d0 // _ANOMALY_BLOCK_DAYS, (window.d1 - 1) // _ANOMALY_BLOCK_DAYS
    wl_by_acct: dict[int, list[Workload]] = {}
    for wl in workloads:
        wl_by_acct.setdefault(wl.account.idx, []).append(wl)
    eligible = _eligible_series(series.cols)
    plans = []
    for kind in ANOMALY_KINDS:
        for block in range(first_block, last_block + 1):
            for j in range(per_block):
                plan = _plan(window, members, kind, block, j)
                if plan is None:
                    continue
                rng, acct = plan["rng"], plan["acct"]
                if kind == "new_service":
                    wl = rng.choice(wl_by_acct[acct.idx])
                    plan["workload"] = wl
                    plan["region"] = wl.regions[0]
                else:
                    options = eligible.get(acct.idx)
                    if not options:
                        continue
                    plan["series"] = options[rng.randrange(len(options))]
                plans.append(plan)
    return plans


def _eligible_series(cols: dict[str, list[Any]]) -> dict[int, list[int]]:
    """Per member account, the series an anomaly may hit: varying, uncommitted, at least $1 a day."""
    eligible: dict[int, list[int]] = {}
    for s, (acct, pattern, commit) in enumerate(
        zip(cols["acct"], cols["pattern"], cols["commit"], strict=True)
    ):
        daily = cols["qty"][s] * cols["price"][s]
        if pattern != FLAT and commit == NO_COMMIT and daily >= 1.0 and acct != 0:
            eligible.setdefault(acct, []).append(s)
    return eligible


def _plan(window: Window, members: list[Account], kind: str, block: int, j: int) -> dict[str, Any] | None:
    """Slot j of a block: its account and days, or None when they fall outside what is observed."""
    h = stable_key(window.seed, "anomaly", kind, block, j)
    acct = members[h % len(members)]
    rng = entity_rng(window.seed, "anomaly-shape", kind, block, j)
    # Every random duration is drawn whatever the kind, so each kind's later draws stay put.
    duration = {
        "spike": 1,
        "level_shift": rng.randint(4, 12),
        "new_service": 14,
        "drift": rng.randint(21, 35),
        "drop": rng.randint(1, 3),
    }[kind]
    start = block * _ANOMALY_BLOCK_DAYS + rng.randrange(_ANOMALY_BLOCK_DAYS - duration - 2)
    end = start + duration - 1
    if start < window.d0 or start >= window.d1 or start < acct.start_day or end >= acct.end_day:
        return None
    return {
        "kind": kind,
        "acct": acct,
        "start": start,
        "planned_end": end,  # fixes the shape, so a later as_of only reveals more of it
        "end": min(end, window.d1 - 1),
        "rng": rng,
    }


def register_anomalies(
    plans: list[dict[str, Any]], series: SeriesBuilder, *, inject: bool
) -> list[dict[str, Any]]:
    """Add new-service series, drop overlaps, and fix each anomaly's multiplier profile."""
    cols = series.cols
    taken: dict[tuple[int, str, str, str], list[tuple[int, int]]] = {}
    kept = []
    for plan in sorted(plans, key=lambda p: (p["start"], ANOMALY_KINDS.index(p["kind"]), p["acct"].idx)):
        rng = plan["rng"]
        if plan["kind"] == "new_service":
            region = plan["region"]
            ut = cat.usage_type(region, "Host:ml.g5.xlarge")
            ident = (plan["acct"].idx, cat.SVC_SAGEMAKER, region, ut)
        else:
            s = plan["series"]
            ident = (cols["acct"][s], cols["svc"][s], cols["region"][s], cols["ut"][s])
        spans = taken.setdefault(ident, [])
        lo, hi = plan["start"] - 3, plan["planned_end"] + 3
        if any(lo <= b and a <= hi for a, b in spans):
            continue
        if plan["kind"] == "new_service":
            spans.append((plan["start"], 1 << 40))
            if not inject:
                continue
            price = float(cat.list_prices()["sagemaker_hosting_hourly"]["ml.g5.xlarge"][plan["region"]])
            series.add(
                plan["workload"],
                cat.SVC_SAGEMAKER,
                plan["region"],
                ident[3],
                price,
                24.0 * rng.randint(1, 2),
                pattern=VARIABLE,
                sigma=0.05,
                start=plan["start"],
                new_service=True,
            )
            plan["series"] = len(cols["acct"]) - 1
        else:
            spans.append((plan["start"], plan["planned_end"]))
            plan["profile"] = _profile(plan, rng)
        plan["ident"] = ident
        kept.append(plan)
    return kept


def _profile(plan: dict[str, Any], rng: random.Random) -> list[float]:
    """The daily multipliers over the observed days of the anomaly (a drift ramps up to its peak)."""
    n = plan["end"] - plan["start"] + 1
    if plan["kind"] == "spike":
        profile = [rng.uniform(3.0, 7.0)]
    elif plan["kind"] == "level_shift":
        profile = [rng.uniform(1.6, 2.5)] * n
    elif plan["kind"] == "drop":
        profile = [rng.uniform(0.05, 0.3)] * n
    else:
        duration = plan["planned_end"] - plan["start"] + 1
        peak = rng.uniform(0.6, 1.4)
        profile = [1.0 + peak * (t + 1) / duration for t in range(n)]
    return profile[:n]


def anomaly_labels(
    window: Window,
    accounts: list[Account],
    plans: list[dict[str, Any]],
    micro: np.ndarray,
    base_micro: np.ndarray,
) -> list[dict[str, Any]]:
    """One truth row per injected anomaly; impact is the cost over the baseline on its days, to the cent."""
    labels = []
    for plan in plans:
        s = plan["series"]
        rows = np.arange(plan["start"], plan["end"] + 1) - window.d0
        impact = int(micro[rows, s].sum() - base_micro[rows, s].sum())
        a, svc, region, ut = plan["ident"]
        labels.append(
            {
                "anomaly_id": _anomaly_id(window.seed, plan["kind"], a, svc, region, ut, plan["start"]),
                "account_id": accounts[a].account_id,
                "service": svc,
                "region": region,
                "usage_type": ut,
                "kind": plan["kind"],
                "start_date": date_of(plan["start"]),
                "end_date": date_of(plan["end"]),
                "impact_usd": Decimal(impact).scaleb(-6),
            }
        )
    return labels


def _anomaly_id(*parts: int | str) -> str:
    return f"anom-{stable_key(*parts):016x}"


def anomalies_table(labels: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(
        sorted(labels, key=lambda r: (r["start_date"], r["account_id"], r["kind"])), schema=ANOMALY_SCHEMA
    )
