"""Ledger series: the parameters of one cost line per workload x service x region x usage type x operation.

Resources and anomalies add series while they are drawn; the ledger then evaluates every series on
every day at once (see `world_ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from finops_sandbox import offers
from finops_sandbox.world.rng import stable_key

if TYPE_CHECKING:
    from finops_sandbox.world.workloads import Workload

# Pattern codes of a ledger series.
FLAT, COMPUTE, VARIABLE = 0, 1, 2
# Commitment coverage of a series.
NO_COMMIT, SP, RI = 0, 1, 2
# Operations a series may carry without changing its noise key (see SeriesBuilder.add).
_DEFAULT_OPS = (None, offers.EC2_DEFAULT_OPERATION, offers.RDS_DEFAULT_OPERATION)

_COLUMNS = (
    "acct",
    "wl",
    "svc",
    "region",
    "ut",
    "op",
    "price",
    "qty",
    "pattern",
    "per_month",
    "growth",
    "sigma",
    "start",
    "end",
    "commit",
    "weekend",
    "new_service",
    "key",
)


@dataclass
class SeriesBuilder:
    """Accumulates ledger series (one per workload x service x region x usage type x operation)."""

    index: dict[tuple[int, str, str, str, str | None], int] = field(default_factory=dict)
    cols: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in _COLUMNS})

    def add(
        self,
        wl: Workload,
        svc: str,
        region: str,
        ut: str,
        price: float,
        qty: float,
        *,
        pattern: int,
        per_month: bool = False,
        growth: float = 0.0,
        sigma: float = 0.0,
        commit: int = NO_COMMIT,
        start: int | None = None,
        new_service: bool = False,
        op: str | None = None,
    ) -> None:
        """`op` is CE's OPERATION where it tells reservable offers apart (EC2 instances, RDS databases)."""
        ident = (wl.gidx, svc, region, ut, op)
        if ident in self.index:
            self.cols["qty"][self.index[ident]] += qty
            return
        self.index[ident] = len(self.cols["acct"])
        acct = wl.account
        values = {
            "acct": acct.idx,
            "wl": wl.gidx,
            "svc": svc,
            "region": region,
            "ut": ut,
            "op": op,
            "price": price,
            "qty": qty,
            "pattern": pattern,
            "per_month": per_month,
            "growth": growth,
            "sigma": sigma,
            "start": max(acct.start_day, start if start is not None else acct.start_day),
            "end": acct.end_day,
            "commit": commit,
            "weekend": wl.weekend_factor,
            "new_service": new_service,
            # Default operations keep the key (and so the noise) a series had before operations existed.
            "key": stable_key(wl.workload_id, svc, region, ut, *([op] if op not in _DEFAULT_OPS else [])),
        }
        for k, v in values.items():
            self.cols[k].append(v)
