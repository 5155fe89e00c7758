"""Spend without a resource of its own, per workload-region: data transfer, CloudWatch logs, NAT gateways.

Data, not logic: each `SpendSpec` names a service, a usage-type code, a regional price and how the
quantity is drawn; `resources._workload_region` bills them after the resources, in table order (draw
order matters for determinism: the quantities share the workload-region's generator).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from finops_sandbox import catalog as cat
from finops_sandbox.world.series import FLAT, VARIABLE

if TYPE_CHECKING:
    from finops_sandbox.world.resources import _Place


@dataclass(frozen=True)
class SpendSpec:
    """Spend without a resource of its own, per workload-region (qty is drawn before growth)."""

    svc: str
    code: str
    price_key: str  # a `cat.regional` price
    qty: Callable[[_Place], float]
    pattern: int
    growth: float | tuple[float, float] = 0.0
    sigma: float = 0.0
    tiers: tuple[str, ...] | None = None  # only workloads of these tiers; None: all


def _per_running(low: float, high: float) -> Callable[[_Place], float]:
    """A quantity per running instance (one at least): traffic and logs grow with the compute."""
    return lambda p: max(1, len(p.running)) * p.rng.uniform(low, high)


MEMBER_SPEND: tuple[SpendSpec, ...] = (
    SpendSpec(
        cat.SVC_EC2_OTHER,
        "DataTransfer-Out-Bytes",
        "data_transfer_out_gb",
        _per_running(2, 30),
        VARIABLE,
        growth=(0.0, 0.35),
        sigma=0.15,
    ),
    SpendSpec(
        cat.SVC_CLOUDWATCH,
        "DataProcessing-Bytes",
        "cloudwatch_logs_ingest_gb",
        _per_running(0.2, 4),
        VARIABLE,
        growth=(0.0, 0.3),
        sigma=0.1,
    ),
    SpendSpec(
        cat.SVC_EC2_OTHER,
        "NatGateway-Hours",
        "nat_gateway_hourly",
        lambda p: 24.0 * p.rng.choice((1, 2, 3)),
        FLAT,
        tiers=("prod",),
    ),
)
MANAGEMENT_SPEND: tuple[SpendSpec, ...] = (
    SpendSpec(
        cat.SVC_CLOUDWATCH,
        "DataProcessing-Bytes",
        "cloudwatch_logs_ingest_gb",
        lambda p: 2.0,
        VARIABLE,
        growth=0.1,
        sigma=0.1,
    ),
)
