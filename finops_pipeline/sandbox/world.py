"""A deterministic synthetic AWS organisation: accounts, resources, a daily cost ledger and its truth.

Why: every sandbox emulator (Cost Explorer, moto seeding) answers from this one World, so tests can
compare what the pipeline ingested with what "AWS" really billed, to the cent.

Determinism: all randomness is counter/hash based (splitmix64 of seed, entity and absolute day),
never sequential draws whose count depends on the history length. Hence a ledger value for a day
older than as_of-3 does not depend on as_of, except the month-close credit (dated on a month's last
day, present once as_of >= the 4th of the next month). Days as_of-3 .. as_of-1 are restated by a
small factor keyed by (seed, day, as_of). Structural choices that must fall inside the observed
window (late-joining accounts, the suspension date) are placed relative to `history_start` and so
only move when as_of crosses into another month.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from finops_pipeline.sandbox import catalog as cat
from finops_pipeline.sandbox.world_config import (
    ANOMALY_KINDS,
    DIRTY_ENVIRONMENT_VALUES,
    EPOCH,
    HOSTILE_TAG_VALUES,
    MANAGEMENT_ACCOUNT_ID,
    MICRO,
    OU_NAMES,
    WorldConfig,
    date_of,
    day_number,
    month_days_start,
    month_start,
)
from finops_pipeline.sandbox.world_rng import entity_rng, stable_key, stochastic_round, unit, unit_grid

__all__ = [
    "ANOMALY_KINDS",
    "ANOMALY_SCHEMA",
    "DIRTY_ENVIRONMENT_VALUES",
    "HOSTILE_TAG_VALUES",
    "MANAGEMENT_ACCOUNT_ID",
    "OU_NAMES",
    "World",
    "WorldConfig",
    "build_baseline_world",
    "build_world",
    "month_days_start",
    "tag_facts",
]

_GROWTH_REF_DAY = (dt.date(2026, 1, 1) - EPOCH).days
_ANOMALY_BLOCK_DAYS = 73
_ANOMALIES_PER_ACCOUNT_BLOCK = 0.07
_OU_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
_OU_SLUG = {"Production": "prod", "Non-Production": "nonprod", "Sandbox": "sbx", "Shared Services": "shared"}
_TEAMS = (
    "payments", "checkout", "search", "identity", "analytics", "platform", "data", "mobile",
    "catalog", "billing", "ml", "media", "logistics", "crm", "risk", "growth",
)  # fmt: skip
_PROJECTS = (
    "atlas", "orion", "zenith", "nimbus", "apollo", "phoenix", "sunbird", "vega",
    "lumen", "cobalt", "quartz", "helix", "aurora", "kepler", "sierra", "tango",
)  # fmt: skip
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
_CASE_VARIANTS = {
    "Environment": ("environment", "ENVIRONMENT"),
    "Owner": ("owner",),
    "Project": ("project",),
    "CostCenter": ("costcenter", "Costcenter"),
}

# Pattern codes of a ledger series.
_FLAT, _COMPUTE, _VARIABLE = 0, 1, 2
# Commitment coverage of a series.
_NO_COMMIT, _SP, _RI = 0, 1, 2


@dataclass
class _Account:
    idx: int  # 0 = management, members 1..n
    account_id: str
    name: str
    email: str
    ou: str | None
    joined_at: dt.datetime
    late: bool
    suspended_at: dt.date | None = None
    tags: dict[str, str] = field(default_factory=dict)
    sp: bool = False
    ri: bool = False
    discount: float = 0.0
    credit_rate: float = 0.0
    tax_rate: float = 0.0
    support: bool = False

    @property
    def start_day(self) -> int:
        return (self.joined_at.date() - EPOCH).days

    @property
    def end_day(self) -> int:
        return (self.suspended_at - EPOCH).days if self.suspended_at else 1 << 40


@dataclass
class _Workload:
    gidx: int
    workload_id: str
    account: _Account
    project: str
    team: str
    env: str
    tier: str  # prod / nonprod / sandbox: picks sizes and prices
    weekend_factor: float
    regions: list[str]
    tags: dict[str, str]


@dataclass
class _SeriesBuilder:
    """Accumulates ledger series (one per workload x service x region x usage type)."""

    index: dict[tuple[int, str, str, str], int] = field(default_factory=dict)
    cols: dict[str, list[Any]] = field(
        default_factory=lambda: {
            k: []
            for k in (
                "acct",
                "wl",
                "svc",
                "region",
                "ut",
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
        }
    )

    def add(
        self,
        wl: _Workload,
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
        commit: int = _NO_COMMIT,
        start: int | None = None,
        new_service: bool = False,
    ) -> None:
        ident = (wl.gidx, svc, region, ut)
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
            "key": stable_key(wl.workload_id, svc, region, ut),
        }
        for k, v in values.items():
            self.cols[k].append(v)


# ----------------------------------------------------------------------------------------------
# The World
# ----------------------------------------------------------------------------------------------

_DIMENSIONS = {
    "SERVICE": "service",
    "LINKED_ACCOUNT": "account_id",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RECORD_TYPE": "record_type",
}
_METRICS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
    "BlendedCost": "blended_cost",
    "UsageQuantity": "usage_quantity",
}


@dataclass(frozen=True, eq=False)
class World:
    """The generated organisation and its ground truth (see the sandbox contract for every column)."""

    config: WorldConfig
    management_account_id: str
    history_start: dt.date
    data_end: dt.date
    estimated_start: dt.date
    ous: pa.Table
    accounts: pa.Table
    ledger: pa.Table
    workload_tags: pa.Table
    anomalies: pa.Table
    resources: pa.Table
    budgets: pa.Table

    def with_resource_ids(self, mapping: Mapping[str, tuple[str, str]]) -> World:
        """A copy whose resources carry the ids/ARNs a seeder (moto) assigned; unmapped rows keep theirs."""
        keys = self.resources.column("resource_key").to_pylist()
        ids = self.resources.column("resource_id").to_pylist()
        arns = self.resources.column("arn").to_pylist()
        for i, key in enumerate(keys):
            if key in mapping:
                ids[i], arns[i] = mapping[key]
        table = self.resources
        table = table.set_column(
            table.schema.get_field_index("resource_id"), "resource_id", pa.array(ids, pa.string())
        )
        table = table.set_column(table.schema.get_field_index("arn"), "arn", pa.array(arns, pa.string()))
        return dataclasses.replace(self, resources=table)

    def truth_totals(
        self, granularity: str, group_by: Sequence[str] = (), metric: str = "UnblendedCost"
    ) -> pa.Table:
        """Ground-truth totals per period (and group) straight from the ledger.

        Columns: period_start (date), one column per group_by entry named as given (e.g. "SERVICE",
        "TAG:Environment"; untagged spend has tag value ""), and amount (decimal(18,6)).
        """
        if granularity not in ("DAILY", "MONTHLY"):
            raise ValueError(f"granularity must be DAILY or MONTHLY, not {granularity!r}")
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(_METRICS)}")
        period = "usage_date" if granularity == "DAILY" else "CAST(date_trunc('month', usage_date) AS DATE)"
        selects, joins, params = [f"{period} AS period_start"], [], []
        for i, dim in enumerate(group_by):
            alias = '"' + dim.replace('"', '""') + '"'
            if dim.startswith("TAG:"):
                joins.append(
                    f"LEFT JOIN (SELECT workload_id, value FROM workload_tags WHERE key = ?) t{i} "
                    f"ON t{i}.workload_id = l.workload_id"
                )
                params.append(dim[4:])
                selects.append(f"coalesce(t{i}.value, '') AS {alias}")
            elif dim in _DIMENSIONS:
                selects.append(f"l.{_DIMENSIONS[dim]} AS {alias}")
            else:
                raise ValueError(f"unsupported group_by {dim!r}")
        sql = (
            f"SELECT {', '.join(selects)}, CAST(sum(l.{_METRICS[metric]}) AS DECIMAL(18, 6)) AS amount "
            f"FROM ledger l {' '.join(joins)} GROUP BY ALL ORDER BY ALL"
        )
        con = duckdb.connect()
        try:
            con.register("ledger", self.ledger)
            con.register("workload_tags", self.workload_tags)
            return con.sql(sql, params=params).to_arrow_table()
        finally:
            con.close()


def build_world(config: WorldConfig) -> World:
    """Generate the World for `config` (deterministic)."""
    return _Builder(config, inject_anomalies=True).build()


def build_baseline_world(config: WorldConfig) -> World:
    """The same World without injected anomalies: what spend would have been (used to verify impacts)."""
    return _Builder(config, inject_anomalies=False).build()


# ----------------------------------------------------------------------------------------------
# Builder
# ----------------------------------------------------------------------------------------------


def _decimal_array(micros: np.ndarray) -> pa.Array:
    """decimal128(18, 6) from int64 micro-units without a Python loop (little-endian 128-bit words)."""
    lo = np.ascontiguousarray(micros, dtype=np.int64)
    words = np.empty(lo.size * 2, dtype=np.int64)
    words[0::2] = lo
    words[1::2] = np.where(lo < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, 6), lo.size, [None, pa.py_buffer(words)])


def _string_array(codes: np.ndarray, values: Sequence[str]) -> pa.Array:
    """Decode integer codes (-1 = null) into a plain string array."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string())).cast(pa.string())


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


class _Builder:
    def __init__(self, config: WorldConfig, *, inject_anomalies: bool) -> None:
        if config.accounts < 1:
            raise ValueError("accounts must be >= 1")
        unknown = [r for r in config.regions if r not in cat.REGION_PREFIX]
        if unknown:
            raise ValueError(f"unsupported regions: {unknown}")
        self.cfg = config
        self.seed = config.seed
        self.inject = inject_anomalies
        self.history_start = month_start(config.as_of, config.history_months)
        self.data_end = config.as_of
        self.estimated_start = config.as_of - dt.timedelta(days=3)
        self.d0, self.d1 = day_number(self.history_start), day_number(self.data_end)
        # Nominal history length: placements keyed to it must not move when as_of moves within a month.
        self.span = int(config.history_months * 30.4)
        self.accounts: list[_Account] = []
        self.workloads: list[_Workload] = []
        self.resources: list[dict[str, Any]] = []
        self.series = _SeriesBuilder()

    # -- organisation ---------------------------------------------------------------------------

    def _build_accounts(self) -> None:
        seed, n = self.seed, self.cfg.accounts
        mgmt = _Account(
            idx=0,
            account_id=MANAGEMENT_ACCOUNT_ID,
            name="finops-management",
            email="aws-management@example.com",
            ou=None,
            joined_at=dt.datetime(2016, 3, 1, 9, 0, tzinfo=dt.UTC),
            late=False,
            tags={"Environment": "prod", "Owner": "cloud-finance@example.com", "CostCenter": "CC-1000"},
            support=True,
        )
        self.accounts.append(mgmt)
        used = {MANAGEMENT_ACCOUNT_ID}
        for i in range(1, n + 1):
            rng = entity_rng(seed, "account", i)
            attempt = 0
            while True:
                account_id = str(
                    100_000_000_000 + stable_key(seed, "account-id", i, attempt) % 899_999_999_999
                )
                if account_id not in used:
                    break
                attempt += 1
            used.add(account_id)
            ou = rng.choices(OU_NAMES, weights=_OU_WEIGHTS)[0]
            team = rng.choice(_TEAMS)
            name = f"{_OU_SLUG[ou]}-{team}-{i:04d}"
            late = rng.random() < 0.15
            if late:
                join_day = self.d0 + 45 + rng.randrange(max(1, self.span - 120))
            else:
                join_day = day_number(dt.date(2017, 1, 1)) + rng.randrange(2000)
            joined_at = dt.datetime.combine(
                date_of(join_day), dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC
            )
            env = {"Production": "prod", "Non-Production": "staging", "Sandbox": "sandbox"}.get(ou, "prod")
            acct = _Account(
                idx=i,
                account_id=account_id,
                name=name,
                email=f"aws+{name}@example.com",
                ou=ou,
                joined_at=joined_at,
                late=late,
                tags={"Environment": env, "Owner": f"{team}@example.com", "CostCenter": f"CC-{2000 + i}"},
            )
            steady = not late
            acct.sp = steady and ou in ("Production", "Shared Services") and rng.random() < 0.7
            acct.ri = steady and ou in ("Production", "Shared Services") and rng.random() < 0.5
            acct.discount = rng.choice((0.03, 0.05, 0.07, 0.10)) if rng.random() < 0.35 else 0.0
            acct.credit_rate = rng.uniform(0.02, 0.12) if (ou == "Sandbox" or rng.random() < 0.15) else 0.0
            acct.tax_rate = rng.choices((0.0, 0.0625, 0.0825, 0.20), weights=(0.5, 0.2, 0.2, 0.1))[0]
            acct.support = ou in ("Production", "Shared Services")
            self.accounts.append(acct)
        members = self.accounts[1:]
        # Exactly one member is suspended: prefer a steady account without commitments.
        candidates = [a for a in members if not a.late and not a.sp and not a.ri] or members
        susp = candidates[stable_key(seed, "suspended") % len(candidates)]
        susp.sp = susp.ri = False
        susp_day = self.d0 + int(self.span * (0.55 + 0.2 * unit(seed, "suspended-at")))
        susp_day = min(max(susp_day, susp.start_day + 30), self.d1 - 5)
        susp.suspended_at = date_of(susp_day)
        # Make sure every feature the tests and emulators rely on exists at least once.
        steady = [a for a in members if not a.late and a.suspended_at is None]
        steady.sort(key=lambda a: a.ou not in ("Production", "Shared Services"))
        for flag in ("sp", "ri"):
            if steady and not any(getattr(a, flag) for a in members):
                setattr(steady[0], flag, True)
        if not any(a.discount for a in members):
            members[-1].discount = 0.05
        if not any(a.credit_rate for a in members):
            members[-1].credit_rate = 0.05

    def _build_workloads(self) -> None:
        regions = list(self.cfg.regions)
        gidx, dirty_ordinal = 0, 0
        for acct in self.accounts:
            rng = entity_rng(self.seed, "workloads", acct.account_id)
            if acct.idx == 0:
                n_wl = 1
            else:
                n_wl = 2 + (rng.random() < 0.5) + (acct.ou == "Production" and rng.random() < 0.5)
            wls: list[_Workload] = []
            for j in range(n_wl):
                team = rng.choice(_TEAMS)
                project = rng.choice(_PROJECTS)
                if acct.ou is None:
                    env, tier, team, project = "prod", "prod", "finance", "billing"
                elif acct.ou == "Non-Production":
                    env, tier = rng.choice(("staging", "dev", "test")), "nonprod"
                elif acct.ou == "Sandbox":
                    env, tier = "sandbox", "sandbox"
                else:
                    env, tier = "prod", "prod"
                primary = regions[0] if rng.random() < 0.5 else rng.choice(regions)
                wl_regions = [primary]
                if rng.random() < 0.2:
                    other = rng.choice(regions)
                    if other != primary:
                        wl_regions.append(other)
                clean = {
                    "Environment": env,
                    "Owner": f"{team}@example.com",
                    "Project": f"{project}-{team}",
                    "CostCenter": f"CC-{4000 + stable_key(self.seed, acct.account_id, j) % 900}",
                    "Application": project,
                }
                if acct.idx == 0:
                    tags = clean
                else:
                    tags = self._dirty_tags(clean, rng, dirty_ordinal)
                    dirty_ordinal += 1
                wls.append(
                    _Workload(
                        gidx=gidx,
                        workload_id=f"wl-{acct.account_id}-{j:02d}",
                        account=acct,
                        project=project,
                        team=team,
                        env=env,
                        tier=tier,
                        weekend_factor={"prod": 0.9, "staging": 0.7}.get(env, 0.55),
                        regions=wl_regions,
                        tags=tags,
                    )
                )
                gidx += 1
            if acct.idx != 0:
                for region in regions:  # every member account has something in every region
                    if not any(region in w.regions for w in wls):
                        wls[stable_key(self.seed, acct.account_id, region) % len(wls)].regions.append(region)
            self.workloads.extend(wls)

    @staticmethod
    def _dirty_tags(clean: dict[str, str], rng: random.Random, ordinal: int) -> dict[str, str]:
        """Real-world tag dirt; every 4th workload carries one hostile value (cycling the list)."""
        hostile = ordinal % 4 == 3
        if not hostile and rng.random() < 0.10:
            return {}
        tags = dict(clean)
        if rng.random() < 0.25:
            for key in rng.sample(cat.REQUIRED_TAG_KEYS, 2 if rng.random() < 0.3 else 1):
                tags.pop(key, None)
        if "Environment" in tags and rng.random() < 0.18:
            tags["Environment"] = rng.choice(DIRTY_ENVIRONMENT_VALUES)
        if rng.random() < 0.12:
            present = [k for k in cat.REQUIRED_TAG_KEYS if k in tags]
            if present:
                key = rng.choice(present)
                tags[rng.choice(_CASE_VARIANTS[key])] = tags.pop(key)
        if hostile:
            value = HOSTILE_TAG_VALUES[(ordinal // 4) % len(HOSTILE_TAG_VALUES)]
            tags[("Owner", "Project", "CostCenter", "Application")[(ordinal // 4) % 4]] = value
        return tags

    # -- resources and the series they drive ----------------------------------------------------

    def _build_resources(self) -> None:
        as_of_dt = dt.datetime.combine(self.cfg.as_of, dt.time(0), dt.UTC)
        per_region = float(self.cfg.resources_per_account_region)
        by_account: dict[int, list[_Workload]] = {}
        for wl in self.workloads:
            by_account.setdefault(wl.account.idx, []).append(wl)
        for acct in self.accounts:
            wls = by_account[acct.idx]
            emit = acct.suspended_at is None  # the suspended account keeps its history, not its resources
            for region in self.cfg.regions:
                present = [w for w in wls if region in w.regions]
                if not present:
                    continue
                counters: dict[str, int] = {}
                scale = 0.3 if acct.idx == 0 else 1.0
                for wl in present:
                    rng = entity_rng(self.seed, "resources", wl.workload_id, region)
                    target = per_region * scale * rng.uniform(0.6, 1.4) / len(present)
                    rows = self._workload_region_resources(acct, wl, region, rng, target, as_of_dt, counters)
                    if emit:
                        self.resources.extend(rows)

    def _workload_region_resources(
        self,
        acct: _Account,
        wl: _Workload,
        region: str,
        rng: random.Random,
        target: float,
        as_of_dt: dt.datetime,
        counters: dict[str, int],
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        series = self.series
        prices = cat.list_prices()
        tier = wl.tier
        oldest = max(acct.joined_at, as_of_dt - dt.timedelta(days=900))

        def created(key: str, max_age_days: int | None = None) -> dt.datetime:
            # A private generator per resource: dates depend on as_of, the ledger must not.
            rng = entity_rng(self.seed, "created", key)
            if max_age_days is not None:
                when = as_of_dt - dt.timedelta(days=rng.randrange(1, max_age_days), hours=rng.randrange(24))
                return max(when, acct.joined_at)
            if acct.late:
                return acct.joined_at + dt.timedelta(days=rng.randrange(0, 5), hours=rng.randrange(24))
            span = max(1, (as_of_dt - oldest).days // 3)
            return oldest + dt.timedelta(days=rng.randrange(span), hours=rng.randrange(24))

        def add(resource_type: str, name: str, **extra: Any) -> dict[str, Any]:
            n = counters.get(resource_type, 0)
            counters[resource_type] = n + 1
            tags: dict[str, str] = dict(wl.tags)
            if tags and resource_type.startswith("ec2:") and resource_type != "ec2:elastic-ip":
                tags["Name"] = name
            if tags and acct.idx != 0 and rng.random() < 0.06:
                tags = {}
            row = {
                "resource_key": f"{acct.account_id}/{region}/{resource_type}/{n:04d}",
                "account_id": acct.account_id,
                "region": region,
                "service": resource_type.split(":")[0],
                "resource_type": resource_type,
                "name": name,
                "workload_id": wl.workload_id,
                "tags": json.dumps(tags, ensure_ascii=False, sort_keys=True),
                "state": None,
                "instance_type": None,
                "volume_type": None,
                "size_gb": None,
                "created_at": created(
                    f"{acct.account_id}/{region}/{resource_type}/{n:04d}", extra.pop("max_age", None)
                ),
                "attached_to": None,
                "monthly_cost_usd": 0.0,
                "cpu_utilization_p95": None,
                "resource_id": None,
                "arn": None,
                **tag_facts(tags),
            }
            row.update(extra)
            rows.append(row)
            return row

        base = f"{wl.project}-{wl.env}"
        hours = 730.0
        if acct.idx == 0:
            bucket = f"{wl.project}-cur-{acct.account_id}-{region}"
            size = 800.0
            add(
                "s3:bucket",
                bucket,
                size_gb=size,
                monthly_cost_usd=round(size * cat.regional("s3_standard_gb_month", region), 2),
                resource_id=bucket,
                arn=f"arn:aws:s3:::{bucket}",
            )
            series.add(
                wl,
                cat.SVC_S3,
                region,
                cat.usage_type(region, "TimedStorage-ByteHrs"),
                cat.regional("s3_standard_gb_month", region),
                size,
                pattern=_FLAT,
                per_month=True,
                growth=0.2,
            )
            series.add(
                wl,
                cat.SVC_CLOUDWATCH,
                region,
                cat.usage_type(region, "DataProcessing-Bytes"),
                cat.regional("cloudwatch_logs_ingest_gb", region),
                2.0,
                pattern=_VARIABLE,
                growth=0.1,
                sigma=0.1,
            )
            return rows

        # EC2 instances (one or two types per workload-region) with their root volumes.
        types = _INSTANCE_TYPES[tier]
        main_type, alt_type = rng.choice(types), rng.choice(types)
        if "g5.xlarge" in (main_type, alt_type) and rng.random() < 0.7:
            main_type = alt_type = "t3.medium"
        instances = []
        for _ in range(max(1, stochastic_round(rng, 0.22 * target))):
            itype = main_type if rng.random() < 0.7 else alt_type
            stopped = rng.random() < (0.1 if tier == "prod" else 0.25)
            over = rng.random() < 0.2
            price = cat.ec2_hourly(itype, region)
            k = counters.get("ec2:instance", 0)
            inst = add(
                "ec2:instance",
                f"{base}-app-{k:02d}",
                state="stopped" if stopped else "running",
                instance_type=itype,
                monthly_cost_usd=0.0 if stopped else round(price * hours, 2),
                cpu_utilization_p95=None
                if stopped
                else round(rng.uniform(4, 22) if over else rng.uniform(38, 92), 1),
            )
            instances.append(inst)
            if not stopped:
                series.add(
                    wl,
                    cat.SVC_EC2,
                    region,
                    cat.usage_type(region, f"BoxUsage:{itype}"),
                    price,
                    24.0,
                    pattern=_COMPUTE,
                    sigma=0.03,
                    commit=_SP if acct.sp else _NO_COMMIT,
                )
            vtype = "gp3" if rng.random() < 0.7 else "gp2"
            self._volume(
                add,
                series,
                wl,
                region,
                f"{inst['name']}-root",
                vtype,
                float(rng.choice((8, 20, 30, 50, 100, 200))),
                attached=inst,
            )
        running = [i for i in instances if i["state"] == "running"]
        for _ in range(stochastic_round(rng, 0.06 * target)):
            vtype = rng.choice(("gp2", "gp3", "st1", "io1"))
            self._volume(
                add,
                series,
                wl,
                region,
                f"{base}-data",
                vtype,
                float(rng.randrange(50, 1000, 50)),
                attached=None,
            )
        for _ in range(stochastic_round(rng, 0.12 * target)):
            size = float(rng.choice((8, 20, 50, 100, 250, 500)))
            age = rng.choice((60, 300, 1200))
            price = cat.regional("ebs_snapshot_gb_month", region)
            add(
                "ec2:snapshot",
                f"{base}-backup",
                size_gb=size,
                monthly_cost_usd=round(size * price, 2),
                max_age=age,
            )
            series.add(
                wl,
                cat.SVC_EC2_OTHER,
                region,
                cat.usage_type(region, "EBS:SnapshotUsage"),
                price,
                size,
                pattern=_FLAT,
                per_month=True,
            )
        ipv4 = prices["public_ipv4_hourly"]
        for _ in range(stochastic_round(rng, 0.07 * target)):
            assoc = running[rng.randrange(len(running))] if running and rng.random() < 0.65 else None
            add(
                "ec2:elastic-ip",
                f"{base}-eip",
                state="associated" if assoc else "unassociated",
                attached_to=assoc["resource_key"] if assoc else None,
                monthly_cost_usd=round(ipv4["idle" if assoc is None else "in_use"][region] * hours, 2),
            )
            code = "PublicIPv4:InUseAddress" if assoc else "PublicIPv4:IdleAddress"
            series.add(
                wl,
                cat.SVC_VPC,
                region,
                cat.usage_type(region, code),
                float(ipv4["idle" if assoc is None else "in_use"][region]),
                24.0,
                pattern=_FLAT,
            )
        # S3: one bucket per workload-region, globally unique DNS-safe name containing the account id.
        bucket = f"{wl.project}-{wl.workload_id[-2:]}-{wl.env}-{acct.account_id}-{region}"
        size = round(math.exp(rng.uniform(math.log(20), math.log(8000))), 1)
        s3_price = cat.regional("s3_standard_gb_month", region)
        add(
            "s3:bucket",
            bucket,
            size_gb=size,
            monthly_cost_usd=round(size * s3_price, 2),
            resource_id=bucket,
            arn=f"arn:aws:s3:::{bucket}",
        )
        series.add(
            wl,
            cat.SVC_S3,
            region,
            cat.usage_type(region, "TimedStorage-ByteHrs"),
            s3_price,
            size,
            pattern=_FLAT,
            per_month=True,
            growth=rng.uniform(0.05, 0.4),
            sigma=0.005,
        )
        n_db = stochastic_round(rng, 0.06 * target)
        if acct.ri and region == wl.regions[0]:
            n_db = max(n_db, 1)  # an RI account reserves the databases it runs
        for _ in range(n_db):
            db_class = rng.choice(_DB_CLASSES[tier])
            k = counters.get("rds:db", 0)
            ident = f"{base}-db-{k:02d}"
            price = cat.rds_hourly(db_class, region)
            storage = float(rng.choice((20, 50, 100, 250, 500)))
            st_price = float(prices["rds_storage_gb_month"]["gp3"][region])
            add(
                "rds:db",
                ident,
                instance_type=db_class,
                size_gb=storage,
                monthly_cost_usd=round(price * hours + storage * st_price, 2),
                resource_id=ident,
                arn=f"arn:aws:rds:{region}:{acct.account_id}:db:{ident}",
            )
            series.add(
                wl,
                cat.SVC_RDS,
                region,
                cat.usage_type(region, f"InstanceUsage:{db_class}"),
                price,
                24.0,
                pattern=_FLAT,
                commit=_RI if acct.ri else _NO_COMMIT,
            )
            series.add(
                wl,
                cat.SVC_RDS,
                region,
                cat.usage_type(region, "RDS:GP3-Storage"),
                st_price,
                storage,
                pattern=_FLAT,
                per_month=True,
            )
        gbs_price = cat.regional("lambda_gb_second", region)
        for _ in range(stochastic_round(rng, 0.12 * target)):
            k = counters.get("lambda:function", 0)
            fname = f"{base}-{rng.choice(_LAMBDA_NAMES)}-{k:02d}"
            gb_seconds = math.exp(rng.uniform(math.log(1e3), math.log(3e5)))
            add(
                "lambda:function",
                fname,
                monthly_cost_usd=round(gb_seconds * gbs_price * 30.4, 2),
                resource_id=fname,
                arn=f"arn:aws:lambda:{region}:{acct.account_id}:function:{fname}",
            )
            series.add(
                wl,
                cat.SVC_LAMBDA,
                region,
                cat.usage_type(region, "Lambda-GB-Second"),
                gbs_price,
                gb_seconds,
                pattern=_VARIABLE,
                growth=rng.uniform(-0.1, 0.5),
                sigma=0.12,
            )
        ddb = prices["dynamodb"]
        for _ in range(stochastic_round(rng, 0.05 * target)):
            k = counters.get("dynamodb:table", 0)
            tname = f"{base}-{rng.choice(_TABLE_NAMES)}-{k:02d}"
            writes = math.exp(rng.uniform(math.log(5e4), math.log(5e6)))
            size = float(rng.randrange(1, 200))
            w_price = ddb["write_per_million"][region] / 1e6
            add(
                "dynamodb:table",
                tname,
                size_gb=size,
                resource_id=tname,
                monthly_cost_usd=round(writes * w_price * 30.4 + size * ddb["storage_gb_month"][region], 2),
                arn=f"arn:aws:dynamodb:{region}:{acct.account_id}:table/{tname}",
            )
            series.add(
                wl,
                cat.SVC_DYNAMODB,
                region,
                cat.usage_type(region, "WriteRequestUnits"),
                w_price,
                writes,
                pattern=_VARIABLE,
                growth=rng.uniform(0.0, 0.3),
                sigma=0.1,
            )
            series.add(
                wl,
                cat.SVC_DYNAMODB,
                region,
                cat.usage_type(region, "TimedStorage-ByteHrs"),
                float(ddb["storage_gb_month"][region]),
                size,
                pattern=_FLAT,
                per_month=True,
            )
        # Spend without a resource of its own: data transfer, logs, NAT.
        n_run = max(1, len(running))
        series.add(
            wl,
            cat.SVC_EC2_OTHER,
            region,
            cat.usage_type(region, "DataTransfer-Out-Bytes"),
            cat.regional("data_transfer_out_gb", region),
            n_run * rng.uniform(2, 30),
            pattern=_VARIABLE,
            growth=rng.uniform(0.0, 0.35),
            sigma=0.15,
        )
        series.add(
            wl,
            cat.SVC_CLOUDWATCH,
            region,
            cat.usage_type(region, "DataProcessing-Bytes"),
            cat.regional("cloudwatch_logs_ingest_gb", region),
            n_run * rng.uniform(0.2, 4),
            pattern=_VARIABLE,
            growth=rng.uniform(0.0, 0.3),
            sigma=0.1,
        )
        if tier == "prod":
            series.add(
                wl,
                cat.SVC_EC2_OTHER,
                region,
                cat.usage_type(region, "NatGateway-Hours"),
                cat.regional("nat_gateway_hourly", region),
                24.0 * rng.choice((1, 2, 3)),
                pattern=_FLAT,
            )
        return rows

    @staticmethod
    def _volume(
        add: Callable[..., dict[str, Any]],
        series: _SeriesBuilder,
        wl: _Workload,
        region: str,
        name: str,
        vtype: str,
        size: float,
        attached: dict[str, Any] | None,
    ) -> None:
        price = cat.ebs_gb_month(vtype, region)
        add(
            "ec2:volume",
            name,
            state="in-use" if attached else "available",
            volume_type=vtype,
            size_gb=size,
            attached_to=attached["resource_key"] if attached else None,
            monthly_cost_usd=round(size * price, 2),
        )
        series.add(
            wl,
            cat.SVC_EC2_OTHER,
            region,
            cat.usage_type(region, f"EBS:VolumeUsage.{vtype}"),
            price,
            size,
            pattern=_FLAT,
            per_month=True,
        )

    # -- anomalies --------------------------------------------------------------------------------

    def _plan_anomalies(self) -> list[dict[str, Any]]:
        """Place labelled anomalies in absolute time blocks (so labels do not move with as_of)."""
        members = self.accounts[1:]
        per_block = max(1, math.ceil(len(members) * _ANOMALIES_PER_ACCOUNT_BLOCK))
        first_block, last_block = self.d0 // _ANOMALY_BLOCK_DAYS, (self.d1 - 1) // _ANOMALY_BLOCK_DAYS
        wl_by_acct: dict[int, list[_Workload]] = {}
        for wl in self.workloads:
            wl_by_acct.setdefault(wl.account.idx, []).append(wl)
        cols = self.series.cols
        eligible: dict[int, list[int]] = {}
        for s, (acct, pattern, commit) in enumerate(
            zip(cols["acct"], cols["pattern"], cols["commit"], strict=True)
        ):
            daily = cols["qty"][s] * cols["price"][s]
            if pattern != _FLAT and commit == _NO_COMMIT and daily >= 1.0 and acct != 0:
                eligible.setdefault(acct, []).append(s)
        plans = []
        for kind in ANOMALY_KINDS:
            for block in range(first_block, last_block + 1):
                for j in range(per_block):
                    h = stable_key(self.seed, "anomaly", kind, block, j)
                    acct = members[h % len(members)]
                    rng = entity_rng(self.seed, "anomaly-shape", kind, block, j)
                    duration = {
                        "spike": 1,
                        "level_shift": rng.randint(4, 12),
                        "new_service": 14,
                        "drift": rng.randint(21, 35),
                        "drop": rng.randint(1, 3),
                    }[kind]
                    start = block * _ANOMALY_BLOCK_DAYS + rng.randrange(_ANOMALY_BLOCK_DAYS - duration - 2)
                    end = start + duration - 1
                    if start < self.d0 or start >= self.d1 or start < acct.start_day or end >= acct.end_day:
                        continue
                    plan = {
                        "kind": kind,
                        "acct": acct,
                        "start": start,
                        "planned_end": end,  # fixes the shape, so a later as_of only reveals more of it
                        "end": min(end, self.d1 - 1),
                        "rng": rng,
                    }
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

    def _register_anomalies(self, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add new-service series, drop overlaps, and fix each anomaly's multiplier profile."""
        cols = self.series.cols
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
                if not self.inject:
                    spans.append((plan["start"], 1 << 40))
                    continue
                price = float(cat.list_prices()["sagemaker_hosting_hourly"]["ml.g5.xlarge"][plan["region"]])
                self.series.add(
                    plan["workload"],
                    cat.SVC_SAGEMAKER,
                    plan["region"],
                    ident[3],
                    price,
                    24.0 * rng.randint(1, 2),
                    pattern=_VARIABLE,
                    sigma=0.05,
                    start=plan["start"],
                    new_service=True,
                )
                plan["series"] = len(cols["acct"]) - 1
                spans.append((plan["start"], 1 << 40))
            else:
                spans.append((plan["start"], plan["planned_end"]))
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
                plan["profile"] = profile[:n]
            plan["ident"] = ident
            kept.append(plan)
        return kept

    # -- ledger -------------------------------------------------------------------------------------

    def build(self) -> World:
        self._build_accounts()
        self._build_workloads()
        self._build_resources()
        plans = self._register_anomalies(self._plan_anomalies())
        ledger_cols, anomalies = self._build_ledger(plans)
        return _assemble(self, ledger_cols, anomalies)

    def _build_ledger(
        self, plans: list[dict[str, Any]]
    ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
        cfg, cols = self.cfg, self.series.cols
        days = np.arange(self.d0, self.d1, dtype=np.int64)
        n_days, n_series = days.size, len(cols["acct"])
        dates = days.astype("datetime64[D]")
        month_of = dates.astype("datetime64[M]")
        dim = ((month_of + 1).astype("datetime64[D]") - month_of.astype("datetime64[D]")).astype(np.float64)
        weekend = ((days + 3) % 7) >= 5  # 1970-01-01 was a Thursday; Monday = 0
        first_of_month = dates == month_of.astype("datetime64[D]")

        acct = np.array(cols["acct"], dtype=np.int64)
        price = np.array(cols["price"], dtype=np.float64)
        qty0 = np.array(cols["qty"], dtype=np.float64)
        pattern = np.array(cols["pattern"], dtype=np.int64)
        per_month = np.array(cols["per_month"], dtype=bool)
        growth = np.array(cols["growth"], dtype=np.float64)
        sigma = np.array(cols["sigma"], dtype=np.float64)
        start = np.array(cols["start"], dtype=np.int64)
        end = np.array(cols["end"], dtype=np.int64)
        commit = np.array(cols["commit"], dtype=np.int64)
        wkd = np.array(cols["weekend"], dtype=np.float64)
        new_service = np.array(cols["new_service"], dtype=bool)
        skey = np.array(cols["key"], dtype=np.uint64) ^ np.uint64(stable_key(self.seed))

        # Shape: (day, series). Seasonality, growth (bounded around a fixed reference), noise.
        is_weekend = weekend[:, None]
        season = np.where(is_weekend & (pattern == _COMPUTE)[None, :], wkd[None, :], 1.0)
        season = np.where(is_weekend & (pattern == _VARIABLE)[None, :], 0.85, season)
        years = np.clip((days - _GROWTH_REF_DAY) / 365.25, -3.0, 2.0)
        trend = np.exp(growth[None, :] * years[:, None])
        u1, u2 = unit_grid(skey, 1, days), unit_grid(skey, 2, days)
        noise = 1.0 + sigma[None, :] * (u1 + u2 - 1.0) * 1.7
        qty = qty0[None, :] * season * trend * noise
        qty = np.where(per_month[None, :], qty / dim[:, None], qty)
        del season, trend, noise, u1, u2

        # Injected anomalies: a multiplier grid (new services simply have no baseline).
        mult = np.ones((n_days, n_series))
        for plan in plans:
            if plan["kind"] != "new_service":
                rows = np.arange(plan["start"], plan["end"] + 1) - self.d0
                mult[rows, plan["series"]] = np.asarray(plan["profile"]) if self.inject else 1.0
        restate = np.ones(n_days)
        est = days >= day_number(self.estimated_start)
        as_of_day = day_number(cfg.as_of)
        restate[est] = [
            1.0 + 0.03 * (2.0 * unit(self.seed, "restate", int(d), as_of_day) - 1.0) for d in days[est]
        ]
        active = (days[:, None] >= start[None, :]) & (days[:, None] < end[None, :])
        q_base = qty * restate[:, None]
        q_act = qty * mult * restate[:, None]
        del qty, mult
        cost_base = np.where(active & ~new_service[None, :], q_base * price[None, :], 0.0)
        cost = np.where(active, q_act * price[None, :], 0.0)
        q_act = np.where(active, q_act, 0.0)
        micro = np.rint(cost * MICRO).astype(np.int64)
        base_micro = np.rint(cost_base * MICRO).astype(np.int64)
        del cost_base, q_base

        anomalies = []
        for plan in plans if self.inject else ():  # a baseline world has no anomalies to label
            s = plan["series"]
            rows = np.arange(plan["start"], plan["end"] + 1) - self.d0
            impact = int(micro[rows, s].sum() - base_micro[rows, s].sum())
            a, svc, region, ut = plan["ident"]
            anomalies.append(
                {
                    "anomaly_id": _anomaly_id(self.seed, plan["kind"], a, svc, region, ut, plan["start"]),
                    "account_id": self.accounts[a].account_id,
                    "service": svc,
                    "region": region,
                    "usage_type": ut,
                    "kind": plan["kind"],
                    "start_date": date_of(plan["start"]),
                    "end_date": date_of(plan["end"]),
                    "impact_usd": Decimal(impact).scaleb(-6),
                }
            )
        del base_micro

        out = _RowSink(self)
        day_idx = np.broadcast_to(np.arange(n_days)[:, None], (n_days, n_series))
        ser_idx = np.broadcast_to(np.arange(n_series)[None, :], (n_days, n_series))
        disc = np.array([a.discount for a in self.accounts])

        # Savings Plans: each SP account commits ~60% of its lowest (weekend) on-demand compute.
        sp_series = commit == _SP
        covered_od = np.zeros((n_days, n_series))
        sp_accounts = sorted({int(a) for a in acct[sp_series]})
        sp_cap = {}
        for a in sp_accounts:
            mask = sp_series & (acct == a)
            floor_od = float((qty0[mask] * price[mask] * wkd[mask]).sum())
            sp_cap[a] = round(0.6 * floor_od / 24.0 * cat.COMPUTE_SP_RATE, 3) * 24.0 / cat.COMPUTE_SP_RATE
        if sp_accounts:
            od = np.where(sp_series[None, :], cost, 0.0)
            for a in sp_accounts:
                mask = sp_series & (acct == a)
                total = od[:, mask].sum(axis=1)
                frac = np.where(total > 0, np.minimum(1.0, sp_cap[a] / np.where(total > 0, total, 1.0)), 0.0)
                covered_od[:, mask] = od[:, mask] * frac[:, None]
        cov_micro = np.rint(covered_od * MICRO).astype(np.int64)
        frac_cov = np.divide(covered_od, cost, out=np.zeros_like(cost), where=cost > 0)
        # Reserved Instances: RI accounts reserve about half of each RDS series (flat usage: fully used).
        ri_series = commit == _RI
        n_inst = np.maximum(1.0, np.round(qty0 / 24.0))
        ri_frac = np.where(ri_series, np.ceil(n_inst / 2.0) / n_inst, 0.0)
        frac_cov = np.where(ri_series[None, :], ri_frac[None, :], frac_cov)

        # Usage rows (the on-demand part).
        usage_unb = np.where(sp_series[None, :], micro - cov_micro, micro)
        ri_cov_micro = np.rint(cost * ri_frac[None, :] * MICRO).astype(np.int64)
        usage_unb = np.where(ri_series[None, :], micro - ri_cov_micro, usage_unb)
        usage_qty = q_act * (1.0 - frac_cov)
        keep = active & ((usage_unb != 0) | (usage_qty > 0))
        out.grid_rows(keep, day_idx, ser_idx, cat.RT_USAGE, usage_unb, usage_unb, usage_unb, usage_qty, disc)
        # SP covered usage and its negation.
        sp_keep = active & (cov_micro > 0)
        amort = np.rint(covered_od * cat.COMPUTE_SP_RATE * MICRO).astype(np.int64)
        out.grid_rows(
            sp_keep, day_idx, ser_idx, cat.RT_SP_COVERED, cov_micro, amort, cov_micro, q_act * frac_cov, disc
        )
        out.grid_rows(
            sp_keep,
            day_idx,
            ser_idx,
            cat.RT_SP_NEGATION,
            -cov_micro,
            np.zeros_like(cov_micro),
            -cov_micro,
            np.zeros_like(q_act),
            disc,
        )
        # RI discounted usage: unblended 0, amortized = effective rate; blended follows the effective rate.
        ri_keep = active & ri_series[None, :] & (ri_cov_micro > 0)
        ri_amort = np.rint(cost * ri_frac[None, :] * cat.RDS_RI_RATE * MICRO).astype(np.int64)
        zeros = np.zeros_like(micro)
        out.grid_rows(
            ri_keep, day_idx, ser_idx, cat.RT_RI_USAGE, zeros, ri_amort, ri_amort, q_act * frac_cov, disc
        )
        sp_used = {a: covered_od[:, sp_series & (acct == a)].sum(axis=1) for a in sp_accounts}
        del usage_unb, usage_qty, keep, sp_keep, ri_keep, amort, ri_amort, zeros, ri_cov_micro, cov_micro
        del frac_cov, q_act, micro, cost, active, covered_od

        # Account-level charges.
        month_days = np.flatnonzero(first_of_month)
        sp_rate = cat.COMPUTE_SP_RATE
        for a in sp_accounts:
            daily_commit = sp_cap[a] * sp_rate
            used = sp_used[a] * sp_rate
            unused = np.rint(np.maximum(0.0, daily_commit - used) * MICRO).astype(np.int64)
            fee = np.where(first_of_month, np.rint(daily_commit * dim * MICRO).astype(np.int64), 0)
            rows = np.flatnonzero((fee != 0) | (unused > 0))
            out.account_rows(
                rows,
                a,
                cat.SVC_SAVINGS_PLANS,
                cat.GLOBAL_REGION,
                cat.UT_COMPUTE_SP,
                cat.RT_SP_FEE,
                fee[rows],
                unused[rows],
                fee[rows],
                np.where(first_of_month, 24.0 * dim, 0.0)[rows],
                disc,
            )
        ri_groups: dict[tuple[int, str, str], tuple[float, float]] = {}
        for s in np.flatnonzero(ri_series):
            ident = (int(acct[s]), cols["region"][s], cols["ut"][s].replace("InstanceUsage:", "HeavyUsage:"))
            cost_d, hours_d = ri_groups.get(ident, (0.0, 0.0))
            reserved = float(np.ceil(n_inst[s] / 2.0))
            ri_groups[ident] = (cost_d + reserved * 24.0 * price[s], hours_d + reserved * 24.0)
        for (a, region, ut), (daily, hours) in sorted(ri_groups.items()):
            fee = np.rint(daily * cat.RDS_RI_RATE * dim[month_days] * MICRO).astype(np.int64)
            zero = np.zeros_like(fee)
            out.account_rows(
                month_days,
                a,
                cat.SVC_RDS,
                region,
                ut,
                cat.RT_RI_FEE,
                fee,
                zero,
                zero,
                hours * dim[month_days],
                disc,
            )

        # Expected monthly usage per account from the series parameters (drives support fee and tax).
        typical = qty0 * price * np.where(per_month, 1.0 / 30.4, 1.0)
        acct_days = np.zeros((n_days, len(self.accounts)))
        per_day = typical[None, :] * np.exp(growth[None, :] * years[:, None])
        for d in range(n_days):
            acct_days[d] = np.bincount(acct, weights=per_day[d], minlength=len(self.accounts))
        del per_day
        fifteenth = (days - month_days_start(days)) == 14
        for account in self.accounts:
            a = account.idx
            live = (days >= account.start_day) & (days < account.end_day)
            rows = np.flatnonzero(first_of_month & live)
            if rows.size == 0:
                continue
            monthly = acct_days[rows, a] * dim[rows]
            if account.support:
                fee = np.maximum(100.0, _support_fee(monthly))
                m = np.rint(fee * MICRO).astype(np.int64)
                out.account_rows(
                    rows,
                    a,
                    cat.SVC_SUPPORT,
                    cat.GLOBAL_REGION,
                    cat.UT_SUPPORT,
                    cat.RT_RECURRING,
                    m,
                    m,
                    m,
                    np.zeros(rows.size),
                    None,
                )
            if account.tax_rate:
                m = np.rint(monthly * account.tax_rate * MICRO).astype(np.int64)
                out.account_rows(
                    rows,
                    a,
                    cat.SVC_TAX,
                    cat.GLOBAL_REGION,
                    cat.UT_TAX,
                    cat.RT_TAX,
                    m,
                    m,
                    m,
                    np.zeros(rows.size),
                    None,
                )
            # Occasional refunds on the 15th, keyed by (account, month).
            mid = np.flatnonzero(fifteenth & live)
            mid = mid[[unit(self.seed, "refund", account.account_id, int(days[r])) < 0.08 for r in mid]]
            if mid.size:
                amount = -np.rint(acct_days[mid, a] * 0.5 * MICRO).astype(np.int64)
                out.account_rows(
                    mid,
                    a,
                    cat.SVC_EC2,
                    cat.GLOBAL_REGION,
                    cat.UT_REFUND,
                    cat.RT_REFUND,
                    amount,
                    amount,
                    amount,
                    np.zeros(mid.size),
                    None,
                )

        # Month-close credits (spread over the services they apply to): once as_of >= the 4th of M+1.
        credit_accts = {a.idx: a for a in self.accounts if a.credit_rate}
        if credit_accts:
            usage = out.usage_by_account_service_month(month_of)
            svc_names = list(out.strings["svc"])
            for (a, svc, month), total in sorted(usage.items()):
                account = credit_accts.get(a)
                first = np.datetime64(month, "M").astype("datetime64[D]").astype(dt.date)
                nxt = month_start(first, -1)
                if account is None or total <= 0 or cfg.as_of < nxt.replace(day=4):
                    continue
                credit = np.array([-round(total * account.credit_rate)], dtype=np.int64)
                out.account_rows(
                    np.array([day_number(nxt) - 1 - self.d0]),
                    a,
                    svc_names[svc],
                    cat.GLOBAL_REGION,
                    cat.UT_CREDIT,
                    cat.RT_CREDIT,
                    credit,
                    credit,
                    credit,
                    np.zeros(1),
                    None,
                )
        return out.finish(days), anomalies


def _anomaly_id(*parts: int | str) -> str:
    return f"anom-{stable_key(*parts):016x}"


def _support_fee(monthly_usage: np.ndarray) -> np.ndarray:
    """AWS Business support tiers: 10% of the first $10K, 7% to $80K, 5% to $250K, 3% above."""
    tiers = ((10_000.0, 0.10), (80_000.0, 0.07), (250_000.0, 0.05), (math.inf, 0.03))
    fee, lower = np.zeros_like(monthly_usage), 0.0
    for upper, rate in tiers:
        fee += np.clip(monthly_usage - lower, 0.0, upper - lower) * rate
        lower = upper
    return fee


class _RowSink:
    """Collects ledger rows as column blocks of integer codes and micro-dollars, then stacks them."""

    _FIELDS = ("day", "acct", "svc", "region", "ut", "rec", "wl", "unb", "amo", "net", "bl", "qty")

    def __init__(self, builder: _Builder) -> None:
        cols = builder.series.cols
        self.strings: dict[str, dict[str, int]] = {"svc": {}, "region": {}, "ut": {}, "rec": {}}
        self.s_acct = np.array(cols["acct"], dtype=np.int32)
        self.s_wl = np.array(cols["wl"], dtype=np.int32)
        self.s_svc = np.array([self.code("svc", v) for v in cols["svc"]], dtype=np.int32)
        self.s_region = np.array([self.code("region", v) for v in cols["region"]], dtype=np.int32)
        self.s_ut = np.array([self.code("ut", v) for v in cols["ut"]], dtype=np.int32)
        self.blocks: list[dict[str, np.ndarray]] = []

    def code(self, kind: str, value: str) -> int:
        table = self.strings[kind]
        return table.setdefault(value, len(table))

    @staticmethod
    def _net(unb: np.ndarray, acct: np.ndarray, disc: np.ndarray | None) -> np.ndarray:
        if disc is None:
            return unb
        return np.rint(unb * (1.0 - disc[acct])).astype(np.int64)

    def grid_rows(
        self,
        keep: np.ndarray,
        day_idx: np.ndarray,
        ser_idx: np.ndarray,
        rec: str,
        unb: np.ndarray,
        amo: np.ndarray,
        bl: np.ndarray,
        qty: np.ndarray,
        disc: np.ndarray | None,
    ) -> None:
        """Rows for the (day, series) cells selected by `keep`; net applies the account's discount."""
        s = ser_idx[keep]
        acct = self.s_acct[s]
        u = unb[keep]
        self.blocks.append(
            {
                "day": day_idx[keep].astype(np.int32),
                "acct": acct,
                "svc": self.s_svc[s],
                "region": self.s_region[s],
                "ut": self.s_ut[s],
                "rec": np.full(s.size, self.code("rec", rec), dtype=np.int32),
                "wl": self.s_wl[s],
                "unb": u,
                "amo": amo[keep],
                "net": self._net(u, acct, disc),
                "bl": bl[keep],
                "qty": np.rint(qty[keep] * MICRO).astype(np.int64),
            }
        )

    def account_rows(
        self,
        rows: np.ndarray,
        acct: int,
        svc: str,
        region: str,
        ut: str,
        rec: str,
        unb: np.ndarray,
        amo: np.ndarray,
        bl: np.ndarray,
        qty: np.ndarray,
        disc: np.ndarray | None,
    ) -> None:
        """Account-level rows (no workload) on the given day indices."""
        n = len(rows)
        if n == 0:
            return
        accts = np.full(n, acct, dtype=np.int32)
        unb = np.asarray(unb, dtype=np.int64)

        def const(kind: str, value: str) -> np.ndarray:
            return np.full(n, self.code(kind, value), dtype=np.int32)

        self.blocks.append(
            {
                "day": np.asarray(rows, dtype=np.int32),
                "acct": accts,
                "svc": const("svc", svc),
                "region": const("region", region),
                "ut": const("ut", ut),
                "rec": const("rec", rec),
                "wl": np.full(n, -1, dtype=np.int32),
                "unb": unb,
                "amo": np.asarray(amo, dtype=np.int64),
                "net": self._net(unb, accts, disc),
                "bl": np.asarray(bl, dtype=np.int64),
                "qty": np.rint(np.asarray(qty, dtype=np.float64) * MICRO).astype(np.int64),
            }
        )

    def usage_by_account_service_month(self, month_of: np.ndarray) -> dict[tuple[int, int, int], int]:
        """Unblended micro-dollars of Usage rows per (account index, service code, month) so far."""
        usage_code = self.strings["rec"].get(cat.RT_USAGE)
        totals: dict[tuple[int, int, int], int] = {}
        months = month_of.astype(np.int64)
        for block in self.blocks:
            if block["rec"].size == 0 or block["rec"][0] != usage_code:
                continue
            key = (block["acct"].astype(np.int64) * 1_000 + block["svc"]) * 100_000 + months[block["day"]]
            uniq, inv = np.unique(key, return_inverse=True)
            sums = np.zeros(uniq.size, dtype=np.int64)
            np.add.at(sums, inv, block["unb"])
            for k, v in zip(uniq.tolist(), sums.tolist(), strict=True):
                ident = (k // 100_000_000, (k // 100_000) % 1_000, k % 100_000)
                totals[ident] = totals.get(ident, 0) + v
        return totals

    def finish(self, days: np.ndarray) -> dict[str, Any]:
        """Stack the blocks ordered by (day, account), one field at a time to bound peak memory."""
        day = np.concatenate([b["day"] for b in self.blocks])
        acct = np.concatenate([b["acct"] for b in self.blocks])
        order = np.argsort(day.astype(np.int64) * 1_000_000 + acct, kind="stable")
        out: dict[str, Any] = {"day": days[day[order]], "acct": acct[order]}
        del day, acct
        for f in self._FIELDS[2:]:
            out[f] = np.concatenate([b.pop(f) for b in self.blocks])[order]
        self.blocks.clear()
        out["strings"] = {k: list(v) for k, v in self.strings.items()}
        return out


def _json_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(tags), ensure_ascii=False, sort_keys=True)


def _assemble(b: _Builder, lc: dict[str, Any], anomalies: list[dict[str, Any]]) -> World:
    """Turn the builder's state into the contract's pyarrow tables."""
    cfg = b.cfg
    strings = lc["strings"]
    budgets = _budgets(b, lc)
    n_rows = lc["day"].size
    ledger = pa.table(
        {
            "usage_date": pa.Array.from_buffers(
                pa.date32(), n_rows, [None, pa.py_buffer(lc.pop("day").astype(np.int32))]
            ),
            "account_id": _string_array(lc.pop("acct"), [a.account_id for a in b.accounts]),
            "service": _string_array(lc.pop("svc"), strings["svc"]),
            "region": _string_array(lc.pop("region"), strings["region"]),
            "usage_type": _string_array(lc.pop("ut"), strings["ut"]),
            "record_type": _string_array(lc.pop("rec"), strings["rec"]),
            "workload_id": _string_array(lc.pop("wl"), [w.workload_id for w in b.workloads]),
            "unblended_cost": _decimal_array(lc.pop("unb")),
            "amortized_cost": _decimal_array(lc.pop("amo")),
            "net_unblended_cost": _decimal_array(lc.pop("net")),
            "blended_cost": _decimal_array(lc.pop("bl")),
            "usage_quantity": _decimal_array(lc.pop("qty")),
        }
    )
    ou_ids = {
        ou: f"ou-{stable_key(cfg.seed, 'root') % 36**4:04x}-{stable_key(cfg.seed, 'ou', ou) % 16**8:08x}"
        for ou in OU_NAMES
    }
    ous = pa.table({"ou_id": list(ou_ids.values()), "name": list(ou_ids)})
    accounts = pa.table(
        {
            "account_id": [a.account_id for a in b.accounts],
            "account_name": [a.name for a in b.accounts],
            "email": [a.email for a in b.accounts],
            "status": ["SUSPENDED" if a.suspended_at else "ACTIVE" for a in b.accounts],
            "ou_name": pa.array([a.ou for a in b.accounts], pa.string()),
            "joined_at": pa.array([a.joined_at for a in b.accounts], pa.timestamp("us", tz="UTC")),
            "suspended_at": pa.array([a.suspended_at for a in b.accounts], pa.date32()),
            "tags": [_json_tags(a.tags) for a in b.accounts],
        }
    )
    tag_rows = [(w.workload_id, k, v) for w in b.workloads for k, v in sorted(w.tags.items())]
    workload_tags = pa.table(
        {
            "workload_id": pa.array([r[0] for r in tag_rows], pa.string()),
            "key": pa.array([r[1] for r in tag_rows], pa.string()),
            "value": pa.array([r[2] for r in tag_rows], pa.string()),
        }
    )
    anomaly_table = pa.Table.from_pylist(
        sorted(anomalies, key=lambda r: (r["start_date"], r["account_id"], r["kind"])), schema=ANOMALY_SCHEMA
    )
    resources = pa.Table.from_pylist(b.resources, schema=_RESOURCE_SCHEMA)
    return World(
        config=cfg,
        management_account_id=MANAGEMENT_ACCOUNT_ID,
        history_start=b.history_start,
        data_end=b.data_end,
        estimated_start=b.estimated_start,
        ous=ous,
        accounts=accounts,
        ledger=ledger,
        workload_tags=workload_tags,
        anomalies=anomaly_table,
        resources=resources,
        budgets=budgets,
    )


def _budgets(b: _Builder, lc: dict[str, Any]) -> pa.Table:
    """Monthly COST budgets for a few accounts, some below last month's actual spend (so alerts fire)."""
    last_month = month_start(b.cfg.as_of, 1)
    lo, hi = day_number(last_month), day_number(month_start(b.cfg.as_of))
    in_month = (lc["day"] >= lo) & (lc["day"] < hi)
    spend = np.zeros(len(b.accounts), dtype=np.int64)
    np.add.at(spend, lc["acct"][in_month], lc["unb"][in_month])
    members = [a for a in b.accounts[1:] if a.suspended_at is None and spend[a.idx] > 0]
    members.sort(key=lambda a: stable_key(b.seed, "budget", a.account_id))
    chosen = members[: max(2, len(members) // 8)]
    factors = (0.85, 1.3, 1.6, 0.95)
    rows = []
    for i, a in enumerate(chosen):
        limit = max(10, round(spend[a.idx] / MICRO * factors[i % len(factors)]))
        rows.append(
            {"account_id": a.account_id, "budget_name": f"{a.name}-monthly-cost", "limit_usd": Decimal(limit)}
        )
    return pa.Table.from_pylist(rows, schema=_BUDGET_SCHEMA)


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
_RESOURCE_SCHEMA = pa.schema(
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
        ("volume_type", pa.string()),
        ("size_gb", pa.float64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
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
    ]
)
_BUDGET_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("budget_name", pa.string()), ("limit_usd", pa.decimal128(18, 2))]
)
