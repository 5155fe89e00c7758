"""Resources per workload and region, and the ledger series they bill, as a table of per-service specs.

Each `ResourceSpec` says how many of a resource a workload-region holds and how one is drawn; one
generic walk (`_walk`) adds the resource row, then its series. Spend without a resource of its own
(data transfer, logs, NAT) is the `SpendSpec` tables of `world/spend.py`. Draw order matters for
determinism: one generator per workload-region is shared, in table order, by the counts, the specs'
draws, the spend quantities and the tag dirt in `add`.
Instances and databases bill their offer (usage-type code and operation, `world_offers`), drawn from
their own key. One workload's primary region also runs the twin offers, numbered after every other
resource of its account and region so that no other resource's key moves.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from finops_sandbox import catalog as cat
from finops_sandbox import offers
from finops_sandbox.world.config import HOSTILE_TAG_VALUES, Window
from finops_sandbox.world.offers import ec2_offer, offer_twins, rds_offer, twin_workload
from finops_sandbox.world.org import Account
from finops_sandbox.world.rng import entity_rng, stochastic_round
from finops_sandbox.world.series import COMPUTE, FLAT, NO_COMMIT, RI, SP, VARIABLE, SeriesBuilder
from finops_sandbox.world.spend import MANAGEMENT_SPEND, MEMBER_SPEND
from finops_sandbox.world.workloads import Workload

_HOURS = 730.0  # hours in an average month: the monthly_cost_usd of an always-on resource
_INSTANCE_TYPES = {
    "prod": ("m5.large", "m5.xlarge", "m5.2xlarge", "c5.xlarge", "c5.2xlarge", "r5.large", "r5.xlarge",
             "m6i.xlarge", "c6i.large", "m5.4xlarge"),
    "nonprod": ("t3.medium", "t3.large", "t3.xlarge", "m5.large", "c5.large", "m6i.large"),
    "sandbox": ("t3.micro", "t3.small", "t3.medium", "t3.large", "g5.xlarge"),
}  # fmt: skip
_DB_CLASSES = {
    "prod": ("db.m5.large", "db.m5.xlarge", "db.r5.large"),
    "nonprod": ("db.t3.medium", "db.t3.large", "db.m5.large"),
    "sandbox": ("db.t3.medium",),
}
_LAMBDA_NAMES = ("ingest", "api", "worker", "cron", "resize", "notify", "etl", "webhook")
_TABLE_NAMES = ("sessions", "orders", "events", "profiles", "jobs", "locks")


def tag_facts(tags: Mapping[str, str]) -> dict[str, Any]:
    """Truth columns for one resource's tags, against the required keys and allowed Environment values."""
    required_lower = {k.lower(): k for k in cat.REQUIRED_TAG_KEYS}
    case_variants = [k for k in tags if k.lower() in required_lower and k not in cat.REQUIRED_TAG_KEYS]
    invalid = [
        f"{k}={v}"
        for k, v in tags.items()
        if k.lower() == "environment" and v not in cat.ALLOWED_ENVIRONMENTS
    ]
    return {
        "never_tagged": not tags,
        "missing_keys": [k for k in cat.REQUIRED_TAG_KEYS if k not in tags],
        "case_variant_keys": case_variants,
        "invalid_values": invalid,
        "hostile": any(v in HOSTILE_TAG_VALUES for v in tags.values()),
    }


# ----------------------------------------------------------------------------------------------
# The vocabulary of the spec tables
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One ledger series a resource bills; a (low, high) growth is drawn once the resource exists."""

    svc: str
    code: str  # usage-type code; the region prefix is added
    price: float
    qty: float
    pattern: int
    per_month: bool = False
    growth: float | tuple[float, float] = 0.0
    sigma: float = 0.0
    commit: int = NO_COMMIT
    op: str | None = None  # CE's OPERATION, for instances and databases


@dataclass(frozen=True)
class Draft:
    """A drawn resource: its name, the row columns it sets and the series it bills."""

    name: str
    columns: dict[str, Any]
    lines: tuple[Line, ...] = ()
    max_age_days: int | None = None  # created within this many days of as_of (else over the account's life)


@dataclass(frozen=True)
class ResourceSpec:
    """How many of one resource type a workload-region holds, and how one is drawn.

    `draw(place, given)` gets what `prepare` returned, or for an attached spec the parent row.
    """

    resource_type: str
    draw: Callable[[_Place, Any], Draft]
    per_target: float | None = None  # expected count per unit of the region's target; None: exactly one
    minimum: int = 0
    reserved_by_ri: bool = False  # an RI account reserves the databases it runs: one at least, in the primary
    prepare: Callable[[_Place], Any] | None = None  # drawn once per workload-region, before the count
    attached: ResourceSpec | None = None  # one per resource, drawn right after it (a root volume)


@dataclass
class _Place:
    """One workload in one region while its resources are drawn."""

    seed: int
    acct: Account
    wl: Workload
    region: str
    rng: random.Random
    target: float
    as_of_dt: dt.datetime
    counters: dict[str, int]  # per account and region: resource keys and names count across workloads
    series: SeriesBuilder
    rows: list[dict[str, Any]] = field(default_factory=list)
    nat_gateways: int = 0  # the NAT gateways whose hours the workload-region's NatGateway-Hours spend bills

    @property
    def base(self) -> str:
        return f"{self.wl.project}-{self.wl.env}"

    @property
    def running(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["resource_type"] == "ec2:instance" and r["state"] == "running"]

    def index(self, resource_type: str) -> int:
        """The number the next resource of this type gets."""
        return self.counters.get(resource_type, 0)

    def key(self, resource_type: str) -> str:
        """The resource key the next resource of this type gets."""
        return f"{self.acct.account_id}/{self.region}/{resource_type}/{self.index(resource_type):04d}"

    def created(self, key: str, max_age_days: int | None) -> dt.datetime:
        # A private generator per resource: dates depend on as_of, the ledger must not.
        rng = entity_rng(self.seed, "created", key)
        acct, as_of_dt = self.acct, self.as_of_dt
        if max_age_days is not None:
            when = as_of_dt - dt.timedelta(days=rng.randrange(1, max_age_days), hours=rng.randrange(24))
            return max(when, acct.joined_at)
        if acct.late:
            return acct.joined_at + dt.timedelta(days=rng.randrange(0, 5), hours=rng.randrange(24))
        oldest = max(acct.joined_at, as_of_dt - dt.timedelta(days=900))
        span = max(1, (as_of_dt - oldest).days // 3)
        return oldest + dt.timedelta(days=rng.randrange(span), hours=rng.randrange(24))

    def add(self, resource_type: str, draft: Draft) -> dict[str, Any]:
        """The resource's row, with the workload's tags (sometimes lost: 6% of member resources)."""
        acct, region = self.acct, self.region
        key = self.key(resource_type)
        self.counters[resource_type] = self.index(resource_type) + 1
        tags: dict[str, str] = dict(self.wl.tags)
        if tags and resource_type.startswith("ec2:") and resource_type != "ec2:elastic-ip":
            tags["Name"] = draft.name
        if tags and acct.idx != 0 and self.rng.random() < 0.06:
            tags = {}
        row = {
            "resource_key": key,
            "account_id": acct.account_id,
            "region": region,
            "service": resource_type.split(":")[0],
            "resource_type": resource_type,
            "name": draft.name,
            "workload_id": self.wl.workload_id,
            "tags": json.dumps(tags, ensure_ascii=False, sort_keys=True),
            "state": None,
            "instance_type": None,
            "usage_type": None,
            "operation": None,
            "volume_type": None,
            "size_gb": None,
            "created_at": self.created(key, draft.max_age_days),
            "attached_to": None,
            "monthly_cost_usd": 0.0,
            "cpu_utilization_p95": None,
            "resource_id": None,
            "arn": None,
            **tag_facts(tags),
            **draft.columns,
        }
        self.rows.append(row)
        return row

    def bill(self, line: Line) -> None:
        growth = self.rng.uniform(*line.growth) if isinstance(line.growth, tuple) else line.growth
        self.series.add(
            self.wl,
            line.svc,
            self.region,
            cat.usage_type(self.region, line.code),
            line.price,
            line.qty,
            pattern=line.pattern,
            per_month=line.per_month,
            growth=growth,
            sigma=line.sigma,
            commit=line.commit,
            op=line.op,
        )


# ----------------------------------------------------------------------------------------------
# Per-service draws
# ----------------------------------------------------------------------------------------------


def _instance_types(p: _Place) -> tuple[str, str]:
    """One or two instance types per workload-region (GPU sandboxes mostly fall back to t3.medium)."""
    types = _INSTANCE_TYPES[p.wl.tier]
    main_type, alt_type = p.rng.choice(types), p.rng.choice(types)
    if "g5.xlarge" in (main_type, alt_type) and p.rng.random() < 0.7:
        main_type = alt_type = "t3.medium"
    return main_type, alt_type


def _instance(p: _Place, types: tuple[str, str]) -> Draft:
    """Some stopped (no compute cost), one in five over-provisioned (a low CPU p95)."""
    itype = types[0] if p.rng.random() < 0.7 else types[1]
    stopped = p.rng.random() < (0.1 if p.wl.tier == "prod" else 0.25)
    over = p.rng.random() < 0.2
    op, code = ec2_offer(p.seed, p.key("ec2:instance"))
    price = offers.ec2_price(
        cat.ec2_hourly(itype, p.region), cat.ec2_shape(itype)[0], op, code == "DedicatedUsage:"
    )
    name = f"{p.base}-app-{p.index('ec2:instance'):02d}"
    offer = {
        "instance_type": itype,
        "usage_type": cat.usage_type(p.region, f"{code}{itype}"),
        "operation": op,
    }
    if stopped:
        return Draft(name, {"state": "stopped", **offer})
    columns = {
        "state": "running",
        **offer,
        "monthly_cost_usd": round(price * _HOURS, 2),
        "cpu_utilization_p95": round(p.rng.uniform(4, 22) if over else p.rng.uniform(38, 92), 1),
    }
    commit = SP if p.acct.sp else NO_COMMIT
    line = Line(cat.SVC_EC2, f"{code}{itype}", price, 24.0, COMPUTE, sigma=0.03, commit=commit, op=op)
    return Draft(name, columns, (line,))


def _volume(p: _Place, name: str, vtype: str, size: float, attached: dict[str, Any] | None) -> Draft:
    price = cat.ebs_gb_month(vtype, p.region)
    columns = {
        "state": "in-use" if attached else "available",
        "volume_type": vtype,
        "size_gb": size,
        "attached_to": attached["resource_key"] if attached else None,
        "monthly_cost_usd": round(size * price, 2),
    }
    return Draft(
        name,
        columns,
        (Line(cat.SVC_EC2_OTHER, f"EBS:VolumeUsage.{vtype}", price, size, FLAT, per_month=True),),
    )


def _root_volume(p: _Place, instance: dict[str, Any]) -> Draft:
    vtype = "gp3" if p.rng.random() < 0.7 else "gp2"
    return _volume(
        p, f"{instance['name']}-root", vtype, float(p.rng.choice((8, 20, 30, 50, 100, 200))), instance
    )


def _data_volume(p: _Place, _: None) -> Draft:
    """Detached (available) volumes: idle storage that still bills."""
    vtype = p.rng.choice(("gp2", "gp3", "st1", "io1"))
    return _volume(p, f"{p.base}-data", vtype, float(p.rng.randrange(50, 1000, 50)), None)


def _snapshot(p: _Place, _: None) -> Draft:
    size = float(p.rng.choice((8, 20, 50, 100, 250, 500)))
    age = p.rng.choice((60, 300, 1200))
    price = cat.regional("ebs_snapshot_gb_month", p.region)
    line = Line(cat.SVC_EC2_OTHER, "EBS:SnapshotUsage", price, size, FLAT, per_month=True)
    return Draft(
        f"{p.base}-backup", {"size_gb": size, "monthly_cost_usd": round(size * price, 2)}, (line,), age
    )


def _elastic_ip(p: _Place, _: None) -> Draft:
    """Associated with a running instance, or idle (public IPv4 bills either way, idle at its own rate)."""
    running = p.running
    assoc = running[p.rng.randrange(len(running))] if running and p.rng.random() < 0.65 else None
    hourly = cat.list_prices()["public_ipv4_hourly"]["idle" if assoc is None else "in_use"][p.region]
    columns = {
        "state": "associated" if assoc else "unassociated",
        "attached_to": assoc["resource_key"] if assoc else None,
        "monthly_cost_usd": round(hourly * _HOURS, 2),
    }
    code = "PublicIPv4:InUseAddress" if assoc else "PublicIPv4:IdleAddress"
    return Draft(f"{p.base}-eip", columns, (Line(cat.SVC_VPC, code, float(hourly), 24.0, FLAT),))


def _bucket_columns(bucket: str, size: float, price: float) -> dict[str, Any]:
    return {
        "size_gb": size,
        "monthly_cost_usd": round(size * price, 2),
        "resource_id": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
    }


def _bucket(p: _Place, _: None) -> Draft:
    """One bucket per workload-region: a globally unique DNS-safe name containing the account id."""
    bucket = f"{p.wl.project}-{p.wl.workload_id[-2:]}-{p.wl.env}-{p.acct.account_id}-{p.region}"
    size = round(math.exp(p.rng.uniform(math.log(20), math.log(8000))), 1)
    price = cat.regional("s3_standard_gb_month", p.region)
    line = Line(
        cat.SVC_S3, "TimedStorage-ByteHrs", price, size, FLAT, per_month=True, growth=(0.05, 0.4), sigma=0.005
    )
    return Draft(bucket, _bucket_columns(bucket, size, price), (line,))


def _report_bucket(p: _Place, _: None) -> Draft:
    """The management account's billing-report bucket: large and steadily growing."""
    bucket = f"{p.wl.project}-cur-{p.acct.account_id}-{p.region}"
    size = 800.0
    price = cat.regional("s3_standard_gb_month", p.region)
    line = Line(cat.SVC_S3, "TimedStorage-ByteHrs", price, size, FLAT, per_month=True, growth=0.2)
    return Draft(bucket, _bucket_columns(bucket, size, price), (line,))


def _database(p: _Place, _: None) -> Draft:
    db_class = p.rng.choice(_DB_CLASSES[p.wl.tier])
    ident = f"{p.base}-db-{p.index('rds:db'):02d}"
    op, code = rds_offer(p.seed, p.key("rds:db"), p.wl.tier)
    price = offers.rds_price(cat.rds_hourly(db_class, p.region), op, code == "Multi-AZUsage:")
    storage = float(p.rng.choice((20, 50, 100, 250, 500)))
    st_price = float(cat.list_prices()["rds_storage_gb_month"]["gp3"][p.region])
    columns = {
        "instance_type": db_class,
        "usage_type": cat.usage_type(p.region, f"{code}{db_class}"),
        "operation": op,
        "size_gb": storage,
        "monthly_cost_usd": round(price * _HOURS + storage * st_price, 2),
        "resource_id": ident,
        "arn": f"arn:aws:rds:{p.region}:{p.acct.account_id}:db:{ident}",
    }
    commit = RI if p.acct.ri else NO_COMMIT
    lines = (
        Line(cat.SVC_RDS, f"{code}{db_class}", price, 24.0, FLAT, commit=commit, op=op),
        Line(cat.SVC_RDS, "RDS:GP3-Storage", st_price, storage, FLAT, per_month=True),
    )
    return Draft(ident, columns, lines)


def _function(p: _Place, _: None) -> Draft:
    k = p.index("lambda:function")
    fname = f"{p.base}-{p.rng.choice(_LAMBDA_NAMES)}-{k:02d}"
    gb_seconds = math.exp(p.rng.uniform(math.log(1e3), math.log(3e5)))
    price = cat.regional("lambda_gb_second", p.region)
    columns = {
        "monthly_cost_usd": round(gb_seconds * price * 30.4, 2),
        "resource_id": fname,
        "arn": f"arn:aws:lambda:{p.region}:{p.acct.account_id}:function:{fname}",
    }
    line = Line(
        cat.SVC_LAMBDA, "Lambda-GB-Second", price, gb_seconds, VARIABLE, growth=(-0.1, 0.5), sigma=0.12
    )
    return Draft(fname, columns, (line,))


def _table(p: _Place, _: None) -> Draft:
    k = p.index("dynamodb:table")
    tname = f"{p.base}-{p.rng.choice(_TABLE_NAMES)}-{k:02d}"
    writes = math.exp(p.rng.uniform(math.log(5e4), math.log(5e6)))
    size = float(p.rng.randrange(1, 200))
    ddb = cat.list_prices()["dynamodb"]
    w_price = ddb["write_per_million"][p.region] / 1e6
    columns = {
        "size_gb": size,
        "resource_id": tname,
        "monthly_cost_usd": round(writes * w_price * 30.4 + size * ddb["storage_gb_month"][p.region], 2),
        "arn": f"arn:aws:dynamodb:{p.region}:{p.acct.account_id}:table/{tname}",
    }
    storage = float(ddb["storage_gb_month"][p.region])
    lines = (
        Line(cat.SVC_DYNAMODB, "WriteRequestUnits", w_price, writes, VARIABLE, growth=(0.0, 0.3), sigma=0.1),
        Line(cat.SVC_DYNAMODB, "TimedStorage-ByteHrs", storage, size, FLAT, per_month=True),
    )
    return Draft(tname, columns, lines)


# ----------------------------------------------------------------------------------------------
# The tables: what a member workload-region and the management account hold, in draw order
# ----------------------------------------------------------------------------------------------

_MEMBER_RESOURCES: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        "ec2:instance",
        _instance,
        per_target=0.22,
        minimum=1,
        prepare=_instance_types,
        attached=ResourceSpec("ec2:volume", _root_volume),
    ),
    ResourceSpec("ec2:volume", _data_volume, per_target=0.06),
    ResourceSpec("ec2:snapshot", _snapshot, per_target=0.12),
    ResourceSpec("ec2:elastic-ip", _elastic_ip, per_target=0.07),
    ResourceSpec("s3:bucket", _bucket),
    ResourceSpec("rds:db", _database, per_target=0.06, reserved_by_ri=True),
    ResourceSpec("lambda:function", _function, per_target=0.12),
    ResourceSpec("dynamodb:table", _table, per_target=0.05),
)


_MANAGEMENT_RESOURCES: tuple[ResourceSpec, ...] = (ResourceSpec("s3:bucket", _report_bucket),)
# ----------------------------------------------------------------------------------------------
# The walk
# ----------------------------------------------------------------------------------------------


def _count(p: _Place, spec: ResourceSpec) -> int:
    if spec.per_target is None:
        return 1
    n = max(spec.minimum, stochastic_round(p.rng, spec.per_target * p.target))
    if spec.reserved_by_ri and p.acct.ri and p.region == p.wl.regions[0]:
        n = max(n, 1)
    return n


def _walk(p: _Place, spec: ResourceSpec, given: Any = None) -> None:
    prepared = spec.prepare(p) if spec.prepare else given
    for _ in range(_count(p, spec)):
        draft = spec.draw(p, prepared)
        row = p.add(spec.resource_type, draft)
        for line in draft.lines:
            p.bill(line)
        if spec.attached:
            _walk(p, spec.attached, row)


def _workload_region(p: _Place) -> list[dict[str, Any]]:
    """Walk the resource table, then the resource-less spend, for one workload in one region."""
    management = p.acct.idx == 0
    for spec in _MANAGEMENT_RESOURCES if management else _MEMBER_RESOURCES:
        _walk(p, spec)
    for spend in MANAGEMENT_SPEND if management else MEMBER_SPEND:
        if spend.tiers is None or p.wl.tier in spend.tiers:
            qty = spend.qty(p)
            if spend.code == "NatGateway-Hours":
                p.nat_gateways = round(qty / 24)
            price = cat.regional(spend.price_key, p.region)
            p.bill(
                Line(spend.svc, spend.code, price, qty, spend.pattern, growth=spend.growth, sigma=spend.sigma)
            )
    return p.rows


def _offer_twins(p: _Place) -> list[dict[str, Any]]:
    """The twin offers of the tier's first instance type and database class: steady and on demand.

    Drawn after every workload of the account and region: their keys come after every other resource's,
    and the generator (private to this workload-region, done with its own draws) only gives `add` its
    tag dirt, so nothing drawn before them moves.
    """
    itype, db_class = _INSTANCE_TYPES[p.wl.tier][0], _DB_CLASSES[p.wl.tier][0]
    first = len(p.rows)
    for twin in offer_twins(p.region, p.acct.account_id, p.base, itype, db_class):
        p.add(twin.resource_type, Draft(twin.name, twin.columns))
        p.bill(Line(twin.svc, twin.code, twin.price, 24.0, FLAT, op=twin.op))
    return p.rows[first:]


def _idle_places(seed: int, places: list[_Place]) -> list[dict[str, Any]]:
    """Each workload-region's idle-prone resources, after every other resource of its account and region,
    from a generator of their own (``world/idle.py``); and which of its databases idle."""
    from finops_sandbox.world.idle import (
        add_idle_resources,
        mark_idle_databases,
        mark_provisioned_concurrency,
    )

    rows: list[dict[str, Any]] = []
    for p in places:
        mark_idle_databases(seed, p.rows)
        mark_provisioned_concurrency(seed, p.rows)
        rng = entity_rng(seed, "idle-resources", p.wl.workload_id, p.region)
        idle = _Place(seed, p.acct, p.wl, p.region, rng, p.target, p.as_of_dt, p.counters, p.series)
        idle.nat_gateways = p.nat_gateways
        rows.extend(add_idle_resources(idle))
    return rows


def build_resources(
    window: Window, accounts: list[Account], workloads: list[Workload], series: SeriesBuilder
) -> list[dict[str, Any]]:
    """Every account's resources (rows of `RESOURCE_SCHEMA`), adding the series they bill to `series`."""
    cfg = window.config
    as_of_dt = dt.datetime.combine(cfg.as_of, dt.time(0), dt.UTC)
    per_region = float(cfg.resources_per_account_region)
    twin = twin_workload(workloads)
    by_account: dict[int, list[Workload]] = {}
    for wl in workloads:
        by_account.setdefault(wl.account.idx, []).append(wl)
    resources: list[dict[str, Any]] = []
    for acct in accounts:
        wls = by_account[acct.idx]
        emit = acct.suspended_at is None  # the suspended account keeps its history, not its resources
        for region in cfg.regions:
            present = [w for w in wls if region in w.regions]
            if not present:
                continue
            counters: dict[str, int] = {}
            scale = 0.3 if acct.idx == 0 else 1.0
            twin_place = None
            places = []
            for wl in present:
                rng = entity_rng(window.seed, "resources", wl.workload_id, region)
                target = per_region * scale * rng.uniform(0.6, 1.4) / len(present)
                place = _Place(window.seed, acct, wl, region, rng, target, as_of_dt, counters, series)
                rows = _workload_region(place)
                places.append(place)
                if emit:
                    resources.extend(rows)
                if wl.gidx == twin and region == wl.regions[0]:
                    twin_place = place
            if twin_place is not None:
                rows = _offer_twins(twin_place)
                if emit:
                    resources.extend(rows)
            if emit:
                resources.extend(_idle_places(window.seed, places))
    return resources


def resources_table(resources: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(resources, schema=RESOURCE_SCHEMA)


RESOURCE_SCHEMA = pa.schema(
    [
        ("resource_key", pa.string()),
        ("account_id", pa.string()),
        ("region", pa.string()),
        ("service", pa.string()),
        ("resource_type", pa.string()),
        ("name", pa.string()),
        ("workload_id", pa.string()),
        ("tags", pa.string()),
        ("state", pa.string()),
        ("instance_type", pa.string()),
        ("usage_type", pa.string()),  # what the ledger bills it as (EC2 instances and RDS databases)
        ("operation", pa.string()),
        ("volume_type", pa.string()),
        ("size_gb", pa.float64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("stopped_at", pa.timestamp("us", tz="UTC")),  # stopped instances: see `world_stops`
        ("attached_to", pa.string()),
        ("monthly_cost_usd", pa.float64()),
        ("cpu_utilization_p95", pa.float64()),
        ("never_tagged", pa.bool_()),
        ("missing_keys", pa.list_(pa.string())),
        ("case_variant_keys", pa.list_(pa.string())),
        ("invalid_values", pa.list_(pa.string())),
        ("hostile", pa.bool_()),
        ("resource_id", pa.string()),
        ("arn", pa.string()),
        ("idle", pa.bool_()),  # the CloudWatch activity the sandbox seeds is idle (world/idle.py)
        ("daily_activity", pa.float64()),  # that activity per day: requests, bytes out, peak connections
        ("provisioned_concurrency", pa.int64()),  # Lambda: allocated provisioned concurrency of alias "live"
    ]
)
