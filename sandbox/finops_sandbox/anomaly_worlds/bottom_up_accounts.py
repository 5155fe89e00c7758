"""Units of the bottom-up family: one workload of an account, its parameters and planned behaviour.

A unit is a renderer of ``bottom_up_workloads`` with drawn parameters; it records the trap patterns its
series shows (recurring or planned, not anomalous: ``learn_until`` comes from them) and the anomaly
kinds that can plausibly hit that kind of workload. ``Planner`` draws the units of one account;
``bottom_up_profiles`` says which units each kind of account runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from finops_sandbox.anomaly_worlds.bottom_up_calendar import Calendar, christmas_lull, cron_days, nth_weekday
from finops_sandbox.anomaly_worlds.bottom_up_items import Params, anchor_date

CADENCE_REPEATS = {"weekly": 2, "biweekly": 2, "monthly": 2, "quarterly": 1, "annual": 1}
FLEET_KINDS = (
    "fleet_stuck_at_peak",
    "instance_type_upsized",
    "scraper_traffic_surge",
    "region_outage_drop",
    "load_test_left_running",
)


@dataclass(frozen=True)
class Pattern:
    """A recurring or planned (not anomalous) behaviour and the day windows it shows up in."""

    trap: str
    cadence: str  # weekly, biweekly, monthly, quarterly, annual or oneoff
    windows: tuple[tuple[int, int], ...]
    per_cycle: int = 1  # occurrences per cycle (2 for "15th and last day")

    def learn_until(self) -> int | None:
        """Day from which the behaviour is known: after its 2nd weekly/biweekly/monthly occurrence,
        its 1st quarterly/annual one, 7 days after a one-off change completes."""
        if not self.windows:
            return None
        if self.cadence == "oneoff":
            return self.windows[0][1] + 7
        k = CADENCE_REPEATS[self.cadence] * self.per_cycle - 1
        return self.windows[min(k, len(self.windows) - 1)][1] + 1


@dataclass
class Unit:
    """One workload of an account: a renderer, its parameters, and the series it bills."""

    account: str
    service: str
    item: str
    kind: str
    p: Params
    seed: int
    patterns: list[Pattern] = field(default_factory=list)
    kinds: tuple[str, ...] = ()
    first_day: int = 0
    mods: Params = field(default_factory=dict)

    def sid(self, out: str = "main") -> str:
        """Series id: account/service/item; a Savings Plan fee bills on its own service line."""
        if out == "sp_fee":
            return f"{self.account}/SavingsPlans/{self.item}-commitment"
        return f"{self.account}/{self.service}/{self.item}"

    @property
    def outputs(self) -> tuple[str, ...]:
        """The series the unit bills: its service, and its Savings Plan fee if it bought one."""
        return ("main", "sp_fee") if self.p.get("sp_cover") else ("main",)


@dataclass(frozen=True)
class Account:
    name: str
    country: str
    support: str  # "business", "developer" or ""
    tax: float  # rate on the previous month's charges, 0 if not taxed


def day_windows(mask: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Maximal runs of consecutive True days."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return ()
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts, ends = np.r_[idx[0], idx[breaks + 1]], np.r_[idx[breaks], idx[-1]]
    return tuple((int(s), int(e)) for s, e in zip(starts, ends, strict=True))


def event_windows(cal: Calendar, event: str) -> tuple[tuple[int, int], ...]:
    """Yearly shopping-peak windows whose peak day falls in the range."""
    out = []
    for y in range(int(cal.year.min()), int(cal.year.max()) + 1):
        if event == "black_friday":
            anchor, lo, hi = nth_weekday(y, 11, 3, 4), -7, 6
            peak = cal.index(anchor) + 1
        else:
            anchor, lo, hi = anchor_date(y, 11, 11), -10, 1
            peak = cal.index(anchor)
        if 0 <= peak < cal.n:
            out.append((max(0, cal.index(anchor) + lo), min(cal.n - 1, cal.index(anchor) + hi)))
    return tuple(out)


def lu(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Log-uniform draw: cloud spend spans orders of magnitude."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


class Planner:
    """Draws the units of one account."""

    def __init__(self, rng: np.random.Generator, cal: Calendar, account: str, country: str) -> None:
        self.rng, self.cal, self.account, self.country = rng, cal, account, country
        self.units: list[Unit] = []

    def unit(self, service: str, item: str, kind: str, p: Params, kinds: tuple[str, ...] = ()) -> Unit:
        """Register a unit of this account with its own seed and the patterns its parameters carry."""
        p.setdefault("env", np.ones(self.cal.n))
        u = Unit(self.account, service, item, kind, p, int(self.rng.integers(2**62)), kinds=kinds)
        u.patterns.extend(p.pop("_patterns", []))
        self.units.append(u)
        return u

    def traffic(self, curve: str, event: str = "", holiday_trap: bool = True) -> Params:
        """Demand parameters of a market: weekly shape, holidays and the Christmas lull for office
        users, a yearly shopping peak for shoppers, growth and noise."""
        r = self.rng
        p: Params = {"country": self.country, "curve": curve, "noise": r.uniform(0.03, 0.08)}
        p |= {"growth": r.uniform(-0.05, 0.35), "_patterns": []}
        if curve == "business":
            wk = r.uniform(0.35, 0.7)
            p |= {"weekend": wk, "holiday": wk, "lull": r.uniform(0.55, 0.8), "floor": r.uniform(0.2, 0.4)}
            if holiday_trap and self.country in ("US", "GB", "DE"):
                mask = self.cal.holidays[self.country] | christmas_lull(self.cal)
                p["_patterns"].append(Pattern("regional_holidays", "annual", day_windows(mask)))
        else:
            p |= {"weekend": r.uniform(1.02, 1.2), "floor": r.uniform(0.25, 0.45)}
        if event:
            p |= {"event": event, "event_size": r.uniform(2.5, 4.5)}
            trap = "black_friday_cyber_monday" if event == "black_friday" else event
            p["_patterns"].append(Pattern(trap, "annual", event_windows(self.cal, event)))
        return p

    def fleet(
        self, item: str, curve: str, peak: float, price: float, event: str = "", service: str = ""
    ) -> Unit:
        """An auto-scaled fleet; `peak` instance-units of demand at the busiest hour."""
        r = self.rng
        p = self.traffic(curve, event)
        p |= {"peak": peak, "price": price, "util": r.uniform(0.65, 0.75), "cooldown": int(r.integers(2, 6))}
        p |= {"min": max(1.0, round(peak * r.uniform(0.08, 0.2))), "max": peak * 5}
        return self.unit(service or "AmazonEC2", item, "fleet", p, FLEET_KINDS)

    def lambda_fn(self, item: str, curve: str, req: float, event: str = "", free: bool = False) -> Unit:
        """Lambda functions serving the market's traffic, on the monthly free tier if `free`."""
        r = self.rng
        p = self.traffic(curve, event)
        p |= {"req": req, "dur": lu(r, 0.05, 1.5), "mem": float(r.choice([0.128, 0.256, 0.512, 1.0, 2.0]))}
        p["free_tier"] = free
        if free:
            starts = day_windows(self.cal.dom == 1)
            p["_patterns"].append(Pattern("monthly_free_tier_allowance", "monthly", starts))
        kinds = (
            "runaway_lambda_recursion",
            "lambda_timeout_regression",
            "scraper_traffic_surge",
            "region_outage_drop",
        )
        return self.unit("AWSLambda", item, "lambda", p, kinds)

    def cdn(self, item: str, curve: str, gb: float, event: str = "") -> Unit:
        """A CloudFront distribution; big ones cross volume tiers every month (a monthly sawtooth)."""
        p = self.traffic(curve, event)
        p |= {"gb": gb, "req_per_gb": lu(self.rng, 2_000, 20_000)}
        if gb > 2_500:
            p["_patterns"].append(Pattern("monthly_volume_tiers", "monthly", day_windows(self.cal.dom == 1)))
        return self.unit("AmazonCloudFront", item, "cdn", p, ("ddos_traffic_surge", "region_outage_drop"))

    def nat(self, item: str, curve: str) -> Unit:
        """NAT gateways of a VPC: hourly fee per gateway plus per-GB processing of egress traffic."""
        p = self.traffic(curve, holiday_trap=False)
        p |= {"gb": lu(self.rng, 30, 3_000), "gateways": int(self.rng.integers(1, 5))}
        return self.unit("AmazonVPC", item, "nat", p, ("nat_traffic_misrouted",))

    def metered(self, service: str, item: str, curve: str, qty: float, unit_price: float, kind: str) -> Unit:
        """A metered service driven by activity (logs, Config items, API requests), with its fault kind."""
        p = self.traffic(curve)
        p |= {"qty": qty, "unit_price": unit_price, "tiers": "apigw" if service == "AmazonApiGateway" else ""}
        return self.unit(service, item, "metered", p, (kind,))

    def rds(self, item: str, curve: str, price: float) -> Unit:
        """A database: flat instance-hours, storage growing in autoscaling steps, traffic-driven I/O."""
        r = self.rng
        p = self.traffic(curve, holiday_trap=False)
        p |= {
            "inst": int(r.integers(1, 4)),
            "price": price,
            "gb": lu(r, 100, 20_000),
            "gb_growth": r.uniform(0.05, 0.6),
        }
        p["io"] = lu(r, 1e6, 3e9)
        return self.unit("AmazonRDS", item, "rds", p, ("db_left_upsized", "read_replica_left_running"))

    def s3_lake(self, item: str, ingest: float) -> Unit:
        """An S3 bucket with a lifecycle rule: 30 days STANDARD, then IA, expired after 60-150 days."""
        r = self.rng
        p: Params = {"ingest": ingest, "transition": 30, "expire": int(r.integers(60, 150))}
        p |= {"weekend": r.uniform(0.4, 1.0), "growth": r.uniform(0.0, 0.4), "p_std": 0.023, "p_ia": 0.0125}
        p["puts_per_gb"] = lu(r, 50, 2_000)
        return self.unit("AmazonS3", item, "s3_lake", p, ("lifecycle_rule_deleted",))

    def backups(self, item: str, cycle: str, logs: bool = False) -> Unit:
        """Backup chains (or log objects) in S3 pruned after each weekly or monthly full: a sawtooth."""
        r = self.rng
        weekly = cycle == "weekly"
        p: Params = {
            "cycle": cycle,
            "full": lu(r, 200, 40_000) / (20 if logs else 1),
            "growth": r.uniform(0.0, 0.3),
        }
        p["incr"] = 1.0 if logs else r.uniform(0.12, 0.25) if weekly else r.uniform(0.04, 0.08)
        p["retain"] = int(r.integers(21, 43)) if weekly else int(r.integers(40, 75))
        p["price"] = float(r.choice([0.023, 0.0125]))
        mask = (self.cal.dow == 6) if weekly else (self.cal.dom == 1)
        p["_patterns"] = [
            Pattern(f"{cycle}_{'log' if logs else 'backup'}_sawtooth", cycle, day_windows(mask))
        ]
        return self.unit(
            "AmazonS3", item, "backups", p, ("backup_pruning_stopped", "backup_full_daily_misconfig")
        )

    def snapshots(self, item: str) -> Unit:
        """Daily EBS snapshots under a retention policy: flat while deletion keeps pace with creation."""
        r = self.rng
        p: Params = {
            "vol": lu(r, 500, 150_000),
            "churn": r.uniform(0.015, 0.05),
            "retain": int(r.integers(7, 22)),
        }
        p["growth"] = r.uniform(0.0, 0.3)
        return self.unit("EC2-Other", item, "snapshots", p, ("snapshot_cleanup_broken",))

    def jobs(
        self,
        service: str,
        item: str,
        price: float,
        schedules: list[Params],
        traps: list[tuple[str, str, int]],
        spot: float = 0.0,
    ) -> Unit:
        """Scheduled jobs; `traps` are (name, cadence, schedule index) of the recurring shapes they bill."""
        p: Params = {
            "price": price,
            "schedules": schedules,
            "growth": self.rng.uniform(0.0, 0.3),
            "spot": spot,
        }
        kinds = ["job_hang", "job_runs_longer"]
        if schedules[0]["cron"].split()[2:4] == ["*", "*"]:
            kinds.append("cron_hourly_misconfig")
        kinds += ["spot_fallback_on_demand"] if spot else []
        kinds += ["emr_cluster_left_running"] if service == "AmazonEMR" else []
        u = self.unit(service, item, "jobs", p, tuple(kinds))
        u.patterns.extend(self._schedule_patterns(schedules, traps))
        return u

    def _schedule_patterns(self, schedules: list[Params], traps: list[tuple[str, str, int]]) -> list[Pattern]:
        """Trap patterns of a job unit: its schedules' shapes, and the DST shift of a DST-naive cron."""
        out = []
        for name, cadence, i in traps:
            s = schedules[i]
            days, _ = cron_days(self.cal, s["cron"], s["tz"], s.get("anchor", 0), s.get("hour", 3.0))
            if cadence == "weekly":
                windows = day_windows(~np.isin(np.arange(self.cal.n), days))
            else:
                windows = tuple((int(d), int(d) + 1) for d in np.unique(days))
            out.append(Pattern(name, cadence, windows, 2 if name == "mid_and_month_end_runs" else 1))
        for sched in schedules:
            if sched.get("naive"):
                spring, fall = self.cal.dst_days[sched["tz"]]
                out += [
                    Pattern("dst_cron_shift", "annual", tuple((int(i), int(i) + 1) for i in ds))
                    for ds in (spring, fall)
                ]
        return out

    def dev_fleet(self, item: str) -> Unit:
        """Developer instances on an office-hours scheduler: weekends and holidays cost only the EBS."""
        r = self.rng
        p: Params = {
            "country": self.country,
            "n": int(lu(r, 5, 60)),
            "price": lu(r, 0.05, 0.8),
            "gb": lu(r, 50, 200),
        }
        p |= {"on": int(r.integers(6, 9)), "off": int(r.integers(18, 21)), "always_on": int(r.integers(0, 3))}
        off = (self.cal.dow >= 5) | self.cal.holidays[self.country]
        p["_patterns"] = [Pattern("office_hours_schedule", "weekly", day_windows(off))]
        return self.unit(
            "AmazonEC2", item, "dev_fleet", p, ("dev_scheduler_disabled", "instance_type_upsized")
        )

    def launch(self, u: Unit) -> None:
        """A new workload: no cost before its launch day, then usage ramps up over weeks."""
        n, r = self.cal.n, self.rng
        if n < 260:
            return
        day, ramp = int(r.integers(50, n - 180)), int(r.integers(14, 46))
        u.p["env"] = np.clip((np.arange(n) - day + 1) / ramp, 0.0, 1.0)
        u.first_day = day
        u.patterns.append(Pattern("launch_ramp", "oneoff", ((day, day + ramp),)))

    def decommission(self, u: Unit) -> None:
        """An old workload wound down over a few days and deleted: its cost goes to zero and stays."""
        n, r = self.cal.n, self.rng
        if n < 140:
            return
        day, k = int(r.integers(90, n - 30)), int(r.integers(1, 6))
        u.p["env"] = np.clip(1.0 - (np.arange(n) - day + 1) / k, 0.0, 1.0)
        u.patterns.append(Pattern("decommissioned", "oneoff", ((day, day + k),)))
        u.kinds = ()

    def month_start(self, lo: int, hi: int) -> int | None:
        """A 1st of the month in [lo, hi): prices and free tiers change on the 1st."""
        days = np.flatnonzero(self.cal.dom == 1)
        days = days[(days >= lo) & (days < hi)]
        return int(self.rng.choice(days)) if days.size else None
