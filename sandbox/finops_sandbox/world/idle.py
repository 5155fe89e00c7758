"""Load balancers, NAT gateways and AMIs per workload-region, and which of them (and of the databases) idle.

Why: the idle-waste rules (issue #16) need resources that idle next to busy ones, with the CloudWatch
activity that tells them apart (``daily_activity``, seeded by ``moto_seed/metrics.py``), and the complete
inventory needs never-tagged ones of every listed service. Forgotten resources are the ones that idle and
lose their tags: an idle one is never tagged one time in three.

Determinism: drawn after every other resource of the workload-region, from generators of their own
(``entity_rng``), so no key, draw or ledger series of the rest of the world moves. They bill no new
ledger series: the NAT gateways are the ones whose hours the ``NatGateway-Hours`` spend already bills
(``world/spend.py``); load balancer hours and AMI snapshot storage are not in the ledger (a known gap of
the synthetic bill; the waste estimates use the list-price file, as for AWS).
"""

from __future__ import annotations

from typing import Any

from finops_sandbox import catalog as cat
from finops_sandbox.world.resources import _HOURS, Draft, _Place, tag_facts
from finops_sandbox.world.rng import entity_rng

AMI_SNAPSHOT_GB = 15.0  # moto registers every AMI with one 15 GiB root snapshot
_FORGOTTEN = 1 / 3  # share of idle resources that lost their tags


def _name(p: _Place, kind: str, index: int) -> str:
    """A load balancer name: at most 32 characters, alphanumerics and hyphens (CreateLoadBalancer)."""
    return f"{p.wl.project[:14]}-{p.wl.env[:6]}-{kind}-{index:02d}"[:32].strip("-")


def _load_balancer(p: _Place, index: int) -> Draft:
    """Busy ones serve thousands of requests a day; idle ones under Trusted Advisor's 100 a day."""
    lb_type = "network" if p.rng.random() < 0.25 else "application"
    idle = p.rng.random() < 0.3
    activity = round(p.rng.uniform(0, 60) if idle else p.rng.uniform(2e3, 5e5))
    hourly = float(cat.list_prices()["elb_hourly"][lb_type][p.region])
    columns = {
        "state": "active",
        "instance_type": lb_type,
        "monthly_cost_usd": round(hourly * _HOURS, 2),
        "idle": idle,
        "daily_activity": float(activity),
    }
    return Draft(_name(p, "alb" if lb_type == "application" else "nlb", index), columns, max_age_days=700)


def _nat_gateway(p: _Place, index: int) -> Draft:
    """Private NAT gateways (no elastic IP to allocate); idle ones move no bytes at all."""
    idle = p.rng.random() < 0.25
    hourly = cat.regional("nat_gateway_hourly", p.region)
    columns = {
        "state": "available",
        "monthly_cost_usd": round(hourly * _HOURS, 2),
        "idle": idle,
        "daily_activity": 0.0 if idle else float(round(p.rng.uniform(1e8, 5e10))),
    }
    return Draft(f"{p.base}-nat-{index:02d}", columns, max_age_days=700)


def _image(p: _Place, index: int) -> Draft:
    """Own AMIs, some recent, some years old; each keeps one root snapshot (a row of its own)."""
    price = cat.regional("ebs_snapshot_gb_month", p.region)
    columns = {
        "state": "available",
        "size_gb": AMI_SNAPSHOT_GB,
        "monthly_cost_usd": round(AMI_SNAPSHOT_GB * price, 2),
    }
    return Draft(f"{p.base}-golden-{index:02d}", columns, max_age_days=p.rng.choice((40, 400, 900)))


def _portal_function(p: _Place) -> Draft:
    """The billing portal's API: busy provisioned concurrency in the management account (no draw), so the
    central principal lists configs as it would in an organisation that runs functions there."""
    name = f"{p.base}-portal-api-{p.index('lambda:function'):02d}"
    columns = {
        "resource_id": name,
        "arn": f"arn:aws:lambda:{p.region}:{p.acct.account_id}:function:{name}",
        "monthly_cost_usd": 0.0,  # its duration is not in the ledger (a known gap, as for load balancers)
        "provisioned_concurrency": 2,
        "idle": False,
        "daily_activity": 0.6,
    }
    return Draft(name, columns, max_age_days=700)


def _forget(p: _Place, row: dict[str, Any]) -> None:
    if row.get("idle") and p.rng.random() < _FORGOTTEN:
        row.update({"tags": "{}", **tag_facts({})})


def add_idle_resources(p: _Place) -> list[dict[str, Any]]:
    """The workload-region's load balancers, NAT gateways (``p.nat_gateways``) and AMIs, after the rest."""
    first = len(p.rows)
    if p.acct.idx == 0:  # the management account: its billing portal's load balancer and API function
        kind = "elasticloadbalancing:loadbalancer"
        p.add(kind, _load_balancer(p, p.index(kind)))
        p.add("lambda:function", _portal_function(p))
        return p.rows[first:]
    lbs = p.rng.choice((0, 1, 1, 2) if p.wl.tier != "sandbox" else (0, 0, 1))
    for _ in range(lbs):
        kind = "elasticloadbalancing:loadbalancer"
        _forget(p, p.add(kind, _load_balancer(p, p.index(kind))))
    for _ in range(p.nat_gateways):
        _forget(p, p.add("ec2:natgateway", _nat_gateway(p, p.index("ec2:natgateway"))))
    for _ in range(p.rng.choice((0, 0, 1, 2))):
        image = p.add("ec2:image", _image(p, p.index("ec2:image")))
        snapshot = Draft(
            f"{image['name']}-root",
            {
                "size_gb": AMI_SNAPSHOT_GB,
                "attached_to": image["resource_key"],
                "created_at": image["created_at"],
            },
        )
        p.add("ec2:snapshot", snapshot)
    return p.rows[first:]


def mark_idle_databases(seed: int, rows: list[dict[str, Any]]) -> None:
    """One database in four has had no connection for weeks; the others peak at 3 to 120 connections."""
    for row in rows:
        if row["resource_type"] == "rds:db":
            rng = entity_rng(seed, "idle", row["resource_key"])
            idle = rng.random() < 0.25
            row["idle"] = idle
            row["daily_activity"] = 0.0 if idle else float(round(rng.uniform(3, 120)))


LAMBDA_MEMORY_MB = 128  # what moto_seed/resources.py creates every function with
PC_ALIAS = "live"  # the alias provisioned concurrency is configured on


def mark_provisioned_concurrency(seed: int, rows: list[dict[str, Any]]) -> None:
    """One function in five keeps provisioned concurrency on its ``live`` alias; half of those are
    forgotten: ``ProvisionedConcurrencyUtilization`` peaks near 0 (no invocation at all, or under 4%),
    the others peak at 30% to 95%. Drawn from a generator of its own so nothing else of the world moves."""
    for row in rows:
        if row["resource_type"] != "lambda:function":
            continue
        rng = entity_rng(seed, "provisioned-concurrency", row["resource_key"])
        if rng.random() >= 0.2:
            continue
        idle = rng.random() < 0.5
        row["provisioned_concurrency"] = rng.choice((1, 2, 5, 10, 25))
        row["idle"] = idle
        if idle:
            row["daily_activity"] = rng.choice((0.0, round(rng.uniform(0.005, 0.04), 3)))
        else:
            row["daily_activity"] = round(rng.uniform(0.3, 0.95), 3)
