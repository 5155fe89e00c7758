"""Which reservable offer each EC2 instance and RDS database of the World runs, and the twin offers.

An offer is a usage-type code (tenancy, deployment option) and an operation (platform, engine, edition,
licence); `sandbox.offers` decodes both and prices them. A resource's offer is drawn from its own key
(`unit`), never from its workload-region's generator, so every other draw of `world_resources` stays put.

The twins are the near-duplicate offers of `offers.TWIN_*`, run by one workload (`twin_workload`) in its
primary region: one instance type and one database class billed as offers that differ in one attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finops_sandbox import catalog as cat
from finops_sandbox import offers
from finops_sandbox.world.rng import unit

if TYPE_CHECKING:
    from finops_sandbox.world.workloads import Workload

_HOURS = 730.0  # as world_resources: the monthly_cost_usd of an always-on resource
# RDS operations and their share of databases.
_ENGINE_WEIGHTS = (
    ("CreateDBInstance:0002", 0.45),  # MySQL
    ("CreateDBInstance:0014", 0.35),  # PostgreSQL
    ("CreateDBInstance:0018", 0.08),  # MariaDB
    ("CreateDBInstance:0019", 0.06),  # Oracle SE2, bring your own licence
    ("CreateDBInstance:0020", 0.06),  # Oracle SE2, licence included
)


def ec2_offer(seed: int, resource_key: str) -> tuple[str, str]:
    """(operation, usage-type code) of an instance: mostly Linux on shared tenancy, some Windows,
    some Dedicated Instances."""
    windows = unit(seed, "platform", resource_key) < 0.15
    dedicated = unit(seed, "tenancy", resource_key) < 0.08
    return (
        "RunInstances:0002" if windows else offers.EC2_DEFAULT_OPERATION,
        "DedicatedUsage:" if dedicated else "BoxUsage:",
    )


def rds_offer(seed: int, resource_key: str, tier: str) -> tuple[str, str]:
    """(operation, usage-type code) of a database: engine, edition and licence, and Multi-AZ for about
    half of production (a tenth elsewhere)."""
    u = unit(seed, "engine", resource_key)
    op = _ENGINE_WEIGHTS[-1][0]
    for candidate, weight in _ENGINE_WEIGHTS:
        if u < weight:
            op = candidate
            break
        u -= weight
    multi_az = unit(seed, "multi-az", resource_key) < (0.5 if tier == "prod" else 0.1)
    return op, "Multi-AZUsage:" if multi_az else "InstanceUsage:"


def twin_workload(workloads: Sequence[Workload]) -> int:
    """The workload (gidx) that runs the twins, -1 if none: the first one of a member account that has
    been there all along and buys no commitments (its usage stays on demand, so AWS would recommend)."""
    return next(
        (
            wl.gidx
            for wl in workloads
            if wl.account.idx
            and not (wl.account.sp or wl.account.ri or wl.account.late)
            and wl.account.suspended_at is None
        ),
        -1,
    )


@dataclass(frozen=True)
class Twin:
    """One twin resource: its row's type, name and columns, and the one flat series it bills."""

    resource_type: str
    name: str
    columns: dict[str, Any]
    svc: str
    code: str  # usage-type code; the region prefix is added
    price: float
    op: str


def offer_twins(region: str, account_id: str, base: str, itype: str, db_class: str) -> list[Twin]:
    """`offers.TWIN_COPIES` of each twin offer of `itype` and `db_class`, instances first."""
    twins = []
    vcpu = cat.ec2_shape(itype)[0]
    for code, op in offers.TWIN_EC2_OFFERS:
        price = offers.ec2_price(cat.ec2_hourly(itype, region), vcpu, op, code == "DedicatedUsage:")
        columns = {
            "state": "running",
            "instance_type": itype,
            "usage_type": cat.usage_type(region, f"{code}{itype}"),
            "operation": op,
            "monthly_cost_usd": round(price * _HOURS, 2),
            "cpu_utilization_p95": 60.0,
        }
        for _ in range(offers.TWIN_COPIES):
            twins.append(
                Twin("ec2:instance", f"{base}-fleet", columns, cat.SVC_EC2, f"{code}{itype}", price, op)
            )
    for n, (code, op) in enumerate(offers.TWIN_RDS_OFFERS):
        price = offers.rds_price(cat.rds_hourly(db_class, region), op, code == "Multi-AZUsage:")
        for copy in range(offers.TWIN_COPIES):
            ident = f"{base}-twin-{n}{copy}"
            columns = {
                "instance_type": db_class,
                "usage_type": cat.usage_type(region, f"{code}{db_class}"),
                "operation": op,
                "size_gb": 20.0,
                "monthly_cost_usd": round(price * _HOURS, 2),
                "resource_id": ident,
                "arn": f"arn:aws:rds:{region}:{account_id}:db:{ident}",
            }
            twins.append(Twin("rds:db", ident, columns, cat.SVC_RDS, f"{code}{db_class}", price, op))
    return twins
