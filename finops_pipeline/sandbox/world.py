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
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    Window,
    WorldConfig,
    date_of,
    day_number,
    month_days_start,
    month_start,
)
from finops_pipeline.sandbox.world_org import Account, accounts_table, build_accounts, ous_table
from finops_pipeline.sandbox.world_resources import build_resources, resources_table, tag_facts
from finops_pipeline.sandbox.world_rng import entity_rng, stable_key, unit, unit_grid
from finops_pipeline.sandbox.world_series import COMPUTE, FLAT, NO_COMMIT, RI, SP, VARIABLE, SeriesBuilder
from finops_pipeline.sandbox.world_workloads import Workload, build_workloads, workload_tags_table

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


class _Builder:
    def __init__(self, config: WorldConfig, *, inject_anomalies: bool) -> None:
        self.window = Window.of(config)
        self.cfg = config
        self.seed = config.seed
        self.inject = inject_anomalies
        self.history_start = self.window.history_start
        self.data_end = self.window.data_end
        self.estimated_start = self.window.estimated_start
        self.d0, self.d1 = self.window.d0, self.window.d1
        self.accounts: list[Account] = []
        self.workloads: list[Workload] = []
        self.resources: list[dict[str, Any]] = []
        self.series = SeriesBuilder()

    # -- anomalies --------------------------------------------------------------------------------

    def _plan_anomalies(self) -> list[dict[str, Any]]:
        """Place labelled anomalies in absolute time blocks (so labels do not move with as_of)."""
        members = self.accounts[1:]
        per_block = max(1, math.ceil(len(members) * _ANOMALIES_PER_ACCOUNT_BLOCK))
        first_block, last_block = self.d0 // _ANOMALY_BLOCK_DAYS, (self.d1 - 1) // _ANOMALY_BLOCK_DAYS
        wl_by_acct: dict[int, list[Workload]] = {}
        for wl in self.workloads:
            wl_by_acct.setdefault(wl.account.idx, []).append(wl)
        cols = self.series.cols
        eligible: dict[int, list[int]] = {}
        for s, (acct, pattern, commit) in enumerate(
            zip(cols["acct"], cols["pattern"], cols["commit"], strict=True)
        ):
            daily = cols["qty"][s] * cols["price"][s]
            if pattern != FLAT and commit == NO_COMMIT and daily >= 1.0 and acct != 0:
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
                    pattern=VARIABLE,
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
        self.accounts = build_accounts(self.window)
        self.workloads = build_workloads(self.window, self.accounts)
        self.resources = build_resources(self.window, self.accounts, self.workloads, self.series)
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
        season = np.where(is_weekend & (pattern == COMPUTE)[None, :], wkd[None, :], 1.0)
        season = np.where(is_weekend & (pattern == VARIABLE)[None, :], 0.85, season)
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
        sp_series = commit == SP
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
        ri_series = commit == RI
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
    anomaly_table = pa.Table.from_pylist(
        sorted(anomalies, key=lambda r: (r["start_date"], r["account_id"], r["kind"])), schema=ANOMALY_SCHEMA
    )
    return World(
        config=cfg,
        management_account_id=MANAGEMENT_ACCOUNT_ID,
        history_start=b.history_start,
        data_end=b.data_end,
        estimated_start=b.estimated_start,
        ous=ous_table(cfg.seed),
        accounts=accounts_table(b.accounts),
        ledger=ledger,
        workload_tags=workload_tags_table(b.workloads),
        anomalies=anomaly_table,
        resources=resources_table(b.resources),
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
_BUDGET_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("budget_name", pa.string()), ("limit_usd", pa.decimal128(18, 2))]
)
