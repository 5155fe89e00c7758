"""Family C: a third, independently written labelled world of daily AWS cost series.

Written from what Cost Explorer shows of real bills (UTC days, one series per linked account and
service) so that a detector tuned elsewhere meets patterns it was not shaped around: ~200 series over
~25 accounts (``group``), the anomalies injected (``labels``) and each series' most salient recurring,
not anomalous, pattern (``traps``) with the day from which *all* its patterns are learnable.

Shapes and noise, and why real bills have them:
- levels log-uniform $2-$5,000/day (a sandbox Lambda and a prod EKS fleet share one bill); prod serves
  customers all week (weekends 85-102 %), staging/data follow business days (45-80 %), dev/test run an
  instance scheduler in *local* office hours (weekends near zero, hours split across UTC days by time
  zone); storage and fees accrue 24/7;
- gamma/log-normal noise (CV 2-25 %), wandering AR(1) levels (organic traffic), integer instance counts
  (a 2-30 instance autoscaling group moves in steps), spot prices (mean-reverting, capacity crunches),
  sparse tiny services (a crawler that skips days: cost 0), heavy-tailed days (a big export), exactly
  flat Savings Plan fees (an hourly commitment);
- data transfer, NAT and CloudWatch follow a compute series of their account (bytes and log lines scale
  with the fleet; log exports land a day late); late-starting series ramp up (new workloads).

Traps; each varies in size per series and in size, length and day per occurrence:
- month_start_fee: Support (AWS's tiered % of spend, min $100), tax (GST/VAT/JCT) and per-month fees
  (hosted zones, WorkSpaces) post on the 1st; marketplace_renewal: SaaS contracts renew on their own
  day; annual_renewal: an all-upfront RI lands on its anniversary; monthly_credit: promotional, EDP or
  MAP credits posted one day a month cut that day's net cost;
- weekly_batch, biweekly_job, monthly_bday_job (nth business day), nth_weekday_job (first Monday, last
  Friday, Patch Tuesday), month_end_close (last 2-3 business days), semi_monthly_payroll (15th and month
  end, moved off weekends), quarterly_job (DR tests): jobs rerun a day late or run a day longer;
- holiday_shutdown: orgs observing holidays idle office and business workloads on their region's (US,
  EU, India with Diwali and Holi, Japan with Golden Week and Obon, Australia), some over year end;
  dst_shift: a local schedule crossing UTC midnight (Sydney) moves hours between UTC days with DST;
- month_length: GB-month storage is prorated by the month's hours, so a 2 %-CV EBS series steps +10.7 %
  on 1 February; storage_sawtooth: log buckets grow through the month until the expiry job runs;
- growth (1-5 %/month compound); planned_migration (a workload moves to another, often new, service of
  the account: one falls as the other rises); commitment_purchase (a Savings Plan fee steps up as its
  compute line's price steps down); scheduled_scaleup (Black Friday, Diwali, New Year, Boxing Day).
A naive detector flags credit, holiday and sawtooth drops, the month-length step, renewals,
nth-weekday jobs drifting across dates and a flat fee's step.

Anomalies (~35-45 % of series, a quarter twice, never in a series' first 45 days, mostly after its
patterns are learnable; end_date = last affected day): runaway_resource (x1.6-5, 5-30 days),
subtle_overspend (+30-60 %, 5-21 days), forgotten_test_env (24/7: fills the weekend dip), crypto_mining
(+$300-5,000/day, 1-3 days), autoscaling_runaway (climbs over 4-10 days), nat_transfer_surge,
pipeline_outage (<10 %, 1-5 days), lost_discount (RI/SP coverage lost: price x1.3-1.7),
logging_explosion, retry_storm, duplicate_commitment (a Savings Plan bought twice, soon returned); on
traps: doubled_monthly_charge, job_size_blowup (3-8x), batch_runs_daily (a cron firing daily),
missing_credit, storage_not_expired. Followers inherit their driver's usage anomalies.
Imports datetime, numpy, polars and ``labelled`` only (nothing else of the project).
"""

import datetime as dt

import numpy as np
import polars as pl

from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries
from finops_sandbox.anomaly_worlds.realistic_calendar import DIWALI, TZ, nth_weekday
from finops_sandbox.anomaly_worlds.realistic_calendar import Calendar as _Cal

_SALT = 0x7EA1_15C0
_DAY = dt.timedelta(days=1)


_TAX = {"us": 0.07, "eu": 0.2, "in": 0.18, "jp": 0.10, "au": 0.10}
_SERVICES = {
    "compute": "AmazonEC2 AmazonEKS AmazonECS EC2-Other AmazonLightsail",
    "database": "AmazonRDS AmazonDynamoDB AmazonElastiCache AmazonRedshift AmazonOpenSearch",
    "storage": "AmazonS3 EBS AWSBackup AmazonEFS AmazonS3-Logs",
    "transfer": "AWSDataTransfer NATGateway AmazonCloudFront AWSDirectConnect",
    "observability": "AmazonCloudWatch CloudWatchLogs AWSCloudTrail AWSConfig",
    "serverless": "AWSLambda AmazonSQS AmazonAPIGateway AWSStepFunctions AmazonSNS",
    "analytics": "AWSGlue AmazonEMR AmazonAthena AmazonSageMaker AmazonKinesis",
}
_ARCHETYPES = {  # account kind: weekday profile, weight, the service categories it draws from
    "prod": ("prod", 0.3, "compute compute database database storage storage transfer transfer serverless "
             "serverless observability analytics"),
    "data": ("business", 0.15, "analytics analytics analytics storage storage compute database transfer"),
    "dev": ("office", 0.25, "compute compute database storage serverless observability transfer analytics"),
    "staging": ("business", 0.12, "compute database storage serverless transfer observability compute"),
    "shared": ("prod", 0.1, "observability observability storage storage transfer compute serverless"),
    "ml": ("business", 0.08, "analytics analytics compute compute storage transfer database"),
}  # fmt: skip
_NOISE = {  # noise models, their weights and the CV range
    "compute": ("instances spot gamma wander", (0.4, 0.2, 0.2, 0.2), (0.03, 0.12)),
    "database": ("gamma wander", (0.5, 0.5), (0.02, 0.06)),
    "storage": ("lognormal", (1.0,), (0.01, 0.03)),
    "transfer": ("gamma", (1.0,), (0.06, 0.2)),
    "observability": ("lognormal wander", (0.6, 0.4), (0.04, 0.12)),
    "serverless": ("heavy gamma wander", (0.4, 0.4, 0.2), (0.08, 0.25)),
    "analytics": ("heavy gamma", (0.5, 0.5), (0.1, 0.25)),
}
_JOBS = ("weekly_batch", "biweekly_job", "monthly_bday_job", "nth_weekday_job", "month_end_close",
         "semi_monthly_payroll", "quarterly_job")  # fmt: skip
_FEES = ("month_start_fee", "marketplace_renewal", "annual_renewal")
_EXPLICIT = {  # share of series with an explicit recurring pattern, and the patterns that fit the service
    "compute": (0.33, "weekly_batch biweekly_job nth_weekday_job monthly_bday_job annual_renewal "
                "month_start_fee monthly_credit scheduled_scaleup"),
    "database": (0.3, "weekly_batch month_end_close monthly_bday_job annual_renewal quarterly_job "
                 "monthly_credit"),
    "storage": (0.25, "storage_sawtooth weekly_batch"),
    "observability": (0.25, "storage_sawtooth month_start_fee weekly_batch"),
    "transfer": (0.25, "weekly_batch biweekly_job scheduled_scaleup"),
    "serverless": (0.33, "semi_monthly_payroll biweekly_job month_end_close weekly_batch scheduled_scaleup "
                   "nth_weekday_job month_start_fee"),
    "analytics": (0.55, " ".join(_JOBS)),
}  # fmt: skip
_GENERIC = {  # anomalies that fit a service whatever its patterns
    "compute": "runaway_resource crypto_mining autoscaling_runaway lost_discount subtle_overspend "
    "forgotten_test_env pipeline_outage",
    "database": "runaway_resource subtle_overspend lost_discount forgotten_test_env",
    "storage": "runaway_resource subtle_overspend logging_explosion",
    "transfer": "nat_transfer_surge subtle_overspend",
    "observability": "logging_explosion subtle_overspend runaway_resource",
    "serverless": "retry_storm pipeline_outage runaway_resource subtle_overspend",
    "analytics": "runaway_resource pipeline_outage forgotten_test_env subtle_overspend",
    "fees": "",
}
_ANOMALY = {  # days an anomaly lasts [lo, hi), and the range of its factor on usage (or price, or level)
    "runaway_resource": (5, 31, 1.6, 5.0), "subtle_overspend": (5, 22, 1.3, 1.6),
    "forgotten_test_env": (10, 41, 0.4, 3.0), "crypto_mining": (1, 4, 3.0, 10.0),
    "autoscaling_runaway": (6, 16, 2.0, 4.0), "nat_transfer_surge": (2, 11, 2.0, 8.0),
    "pipeline_outage": (1, 6, 0.0, 0.1), "lost_discount": (10, 32, 1.3, 1.7),
    "logging_explosion": (3, 21, 2.0, 7.0), "retry_storm": (1, 5, 3.0, 15.0),
    "duplicate_commitment": (3, 8, 1.5, 2.0),
}  # fmt: skip
_SIZE = {  # one occurrence's size: x the series' level for jobs and fees, a fraction for the others
    "weekly_batch": (0.2, 1.5), "quarterly_job": (1.0, 5.0), "month_start_fee": (0.5, 5.0),
    "marketplace_renewal": (5.0, 40.0), "annual_renewal": (30.0, 150.0), "monthly_credit": (0.3, 0.9),
    "scheduled_scaleup": (0.15, 1.5), "storage_sawtooth": (0.15, 0.6),
}  # fmt: skip
_RIDES = {  # anomalies on one occurrence of the series' own pattern, and the patterns they ride on
    "job_size_blowup": _JOBS, "batch_runs_daily": _JOBS, "missing_credit": ("monthly_credit",),
    "doubled_monthly_charge": ("month_start_fee", "marketplace_renewal"),
    "storage_not_expired": ("storage_sawtooth",),
}  # fmt: skip
_USAGE_KINDS = {"runaway_resource", "subtle_overspend", "forgotten_test_env", "crypto_mining", "retry_storm",
                "autoscaling_runaway", "pipeline_outage", "job_size_blowup", "batch_runs_daily"}  # fmt: skip
_USAGE_TRAPS = {*_JOBS, "scheduled_scaleup", "holiday_shutdown", "dst_shift", "growth", "planned_migration"}
_PRIORITY = (*_JOBS, *_FEES, "monthly_credit", "storage_sawtooth", "scheduled_scaleup", "planned_migration",
             "commitment_purchase", "holiday_shutdown", "month_length", "dst_shift", "growth")  # fmt: skip


class _Spec:
    """One series under construction: its base shape and the arrays that patterns and anomalies edit.

    usage = level * prof * mult * noise + uadd * jitter is what followers track (additive usage: jobs,
    forgotten resources, does not follow the instance count or a sparse service's idle days); the cost
    also carries the unit price (spot, discounts), posted fees and credits.
    """

    def __init__(self, service: str, cat: str, level: float, home: tuple) -> None:
        """`home`: the account's id, archetype, region, holiday observance, shutdown, business days."""
        self.account, self.arche, self.region, self.observes, self.shutdown, self.bday = home
        self.sid, self.cat, self.level, n = f"{self.account}/{service}", cat, level, self.bday.size
        self.first, self.wf, self.lag, self.ratio, self.growing = 0, 1.0, 0, 0.0, False
        self.prof, self.mult, self.noise, self.price, self.credit = (np.ones(n) for _ in range(5))
        self.uadd, self.fadd, self.jitter = np.zeros(n), np.zeros(n), np.ones(n)
        self.driver: _Spec | None = None
        self.hol: list[int] = []  # weekday holidays on which the series idles
        self.shifts: list[int] = []  # DST changes that move its office hours across UTC days
        self.events: dict[str, list[tuple[int, int, float]]] = {}
        self.patterns: list[tuple[str, int]] = []
        self.labels: list[tuple[str, int, int]] = []
        self.busy: list[tuple[int, int]] = []

    def usage(self) -> np.ndarray:
        return self.level * self.prof * self.mult * self.noise + self.uadd * self.jitter

    def cost(self) -> np.ndarray:
        return np.maximum((self.usage() * self.price + self.fadd) * self.credit, 0.0)


def _ar1(n: int, phi: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """An AR(1) path from 0: levels that wander and come back, as organic traffic does."""
    return np.convolve(rng.normal(0.0, sigma, n), phi ** np.arange(n))[:n]


def _office_hours(cal: _Cal, s: _Spec, h0: int, h1: int) -> tuple[np.ndarray, list[int]]:
    """Share of a local Mon-Fri h0-h1 schedule landing in each UTC day, and the DST changes moving it."""
    offs, hol = cal.offsets[s.region], cal.holidays(s.region, s.shutdown)[0] if s.observes else set()
    hours = np.zeros(cal.n + 4)
    for j in range(-1, cal.n + 1):
        day = cal.start + _DAY * j
        if day.weekday() >= 5 or day in hol:
            continue
        t = 24.0 * (j + 2) + h0 - offs[j + 1]  # hours since the start of UTC day -2
        k = int(t // 24)
        part = min(t + h1 - h0, 24.0 * (k + 1)) - t
        hours[k : k + 2] += (part, h1 - h0 - part)
    prof = s.wf + (1 - s.wf) * hours[2 : cal.n + 2] / (h1 - h0)
    crosses = any((h0 - o) // 24 != (h1 - o - 0.01) // 24 for o in set(offs.tolist()))
    return prof, [i for i in range(1, cal.n) if offs[i + 1] != offs[i]] if crosses else []


def _profile(cal: _Cal, s: _Spec, kind: str, rng: np.random.Generator) -> None:
    """Weekday shape: flat (storage, fees), prod, business days, or local office hours; holidays idle
    the last two only where the org observes them."""
    if kind == "flat":
        return
    if kind == "office":
        s.wf = rng.uniform(0.02, 0.2)
        s.prof, s.shifts = _office_hours(cal, s, int(rng.integers(6, 10)), int(rng.integers(17, 23)))
    else:
        s.wf = rng.uniform(0.85, 1.02) if kind == "prod" else rng.uniform(0.45, 0.8)
        s.prof = np.r_[1 + rng.normal(0, 0.02, 5), s.wf, s.wf * rng.uniform(0.95, 1.05)][cal.dow]
        if kind == "business" and s.observes:
            s.prof = np.where(~s.bday, s.wf, s.prof)
    if kind != "prod" and s.observes:
        s.hol = np.flatnonzero(~s.bday & (cal.dow < 5)).tolist()


def _noise(kind: str, cv: float, prof: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative usage noise and a unit-price path (only spot prices move) for one series."""
    n, price = prof.size, np.ones(prof.size)
    if kind == "gamma":
        return rng.gamma(1 / cv**2, cv**2, n), price
    z = np.exp(rng.normal(-(cv**2) / 2, cv, n))
    if kind == "heavy":
        hit = rng.random(n) < 0.012
        z[hit] *= np.minimum(1 + rng.pareto(2.5, int(hit.sum())), 2.2)
    elif kind == "wander":
        z *= np.exp(_ar1(n, rng.uniform(0.95, 0.99), cv * rng.uniform(0.15, 0.4), rng))
    elif kind == "instances":
        n0 = int(rng.integers(2, 31))
        count = np.maximum(np.round(n0 * prof * np.exp(_ar1(n, 0.9, 0.05, rng))), prof > 0.5)
        z = count / np.maximum(n0 * prof, 1e-9) * np.exp(rng.normal(0, 0.01, n))
    elif kind == "spot":
        price = np.exp(_ar1(n, 0.9, rng.uniform(0.02, 0.05), rng))
        for d in np.flatnonzero(rng.random(n) < 0.01):
            price[d : d + 7] *= 1 + rng.uniform(0.2, 0.6) * np.exp(-np.arange(min(7, n - d)) / 2)
    elif kind == "sparse":
        p = rng.uniform(0.3, 0.8)
        z = np.where(rng.random(n) < p, rng.gamma(2.0, 0.5, n) / p, 0.0)
    return z, price


def _base(cal: _Cal, s: _Spec, rng: np.random.Generator) -> None:
    """Profile, trend (growth, month-length proration), noise model and a possible late start."""
    n = cal.n
    shape = "flat" if s.cat in ("storage", "fees") else _ARCHETYPES[s.arche][0]
    if shape == "office" and s.cat == "database" and rng.random() < 0.5:
        shape = "business"  # a dev RDS is often left out of the scheduler
    _profile(cal, s, shape, rng)
    if s.driver is None:
        s.growing = rng.random() < 0.12
        g = rng.uniform(0.01, 0.05) if s.growing else rng.uniform(-0.004, 0.008)
        s.mult = (1 + g) ** (np.arange(n) / 30.44) * (30.44 / cal.dim if s.cat == "storage" else 1.0)
    kinds, weights, (lo, hi) = _NOISE["transfer" if s.driver is not None else s.cat]
    kind = str(rng.choice(kinds.split(), p=weights))
    if s.level < 15 and s.cat in ("serverless", "analytics") and rng.random() < 0.6:
        kind = "sparse"
    s.noise, s.price = _noise(kind, rng.uniform(lo, hi), s.prof, rng)
    s.jitter = np.exp(rng.normal(0, 0.05, n))
    if s.driver is None and rng.random() < 0.1 and n > 120:
        s.first, ramp = int(rng.integers(20, int(0.6 * n))), int(rng.integers(3, 22))
        s.mult[s.first : s.first + ramp] *= np.linspace(0.15, 1, ramp)[: n - s.first]


def _monthly(cal: _Cal, bday: np.ndarray, rule: tuple, months: tuple = ()) -> list[int]:
    """One day per calendar month: ('dom', day, shift), ('bday', nth) or ('wday', weekday, nth).

    Counting from a month's start (end) needs that start (end) inside the window; a dom rule clips to
    the month's length and, with shift +1/-1, moves off weekends and holidays.
    """
    out = []
    for idx in (i for i in cal.months if not months or cal.month[i[0]] in months):
        if rule[0] == "dom":
            want = min(rule[1], cal.dim[idx[0]]) if rule[1] > 0 else cal.dim[idx[0]]
            hit = idx[cal.dom[idx] == want]
            i = int(hit[0]) if hit.size else -1
            while rule[2] and 0 <= i < cal.n and not bday[i]:
                i += rule[2]
            out += [i] if hit.size and 0 <= i < cal.n else []
            continue
        nth = rule[-1]
        whole = cal.dom[idx[0]] == 1 if nth > 0 else cal.dom[idx[-1]] == cal.dim[idx[-1]]
        pool = idx[bday[idx]] if rule[0] == "bday" else idx[cal.dow[idx] == rule[1]]
        out += [int(pool[nth - 1 if nth > 0 else nth])] if whole and pool.size >= abs(nth) else []
    return out


def _peak_days(cal: _Cal, region: str) -> list[int]:
    """Known annual peaks: Thanksgiving to Cyber Monday (us, eu), Diwali sales, New Year (jp), Boxing Day."""
    out = []
    for y in range(cal.start.year, cal.dates[-1].year + 1):
        day = {"in": dt.date(y, *DIWALI.get(y, (10, 28))) - 4 * _DAY, "jp": dt.date(y, 1, 1),
               "au": dt.date(y, 12, 26)}.get(region, nth_weekday(y, 11, 3, 4))  # fmt: skip
        out += [(day - cal.start).days] if 0 <= (day - cal.start).days < cal.n else []
    return out


def _schedule(name: str, cal: _Cal, s: _Spec, rng: np.random.Generator) -> tuple[list[int], int, int]:
    """Days of a recurring pattern, occurrences needed before it is learnable, and its usual length."""
    r, b, n, nth = rng.integers, s.bday, cal.n, int(rng.choice([1, 1, 2, 3, -1]))
    wd, k, dom, bd, anchor = int(r(0, 7)), int(r(2, 4)), int(r(2, 29)), int(r(1, 6)), int(r(0, 14))
    a = cal.dates[int(r(0, max(1, n - 366)))]
    rules = {
        "weekly_batch": lambda: (np.flatnonzero(cal.dow == wd).tolist(), 2, 1),
        "biweekly_job": lambda: (list(range(anchor, n, 14)), 2, k - 1),
        "monthly_bday_job": lambda: (_monthly(cal, b, ("bday", bd)), 2, k - 1),
        "nth_weekday_job": lambda: (_monthly(cal, b, ("wday", wd % 5, nth)), 2, 1),
        "month_end_close": lambda: (_monthly(cal, b, ("bday", -k)), 2, k),
        "semi_monthly_payroll": lambda: (
            sorted(_monthly(cal, b, ("dom", 15, -1)) + _monthly(cal, b, ("dom", -1, -1))), 4, 1),
        "quarterly_job": lambda: (_monthly(cal, b, ("bday", bd), (1, 4, 7, 10)), 1, k),
        "month_start_fee": lambda: (_monthly(cal, b, ("dom", 1, 0)), 2, 1),
        "marketplace_renewal": lambda: (_monthly(cal, b, ("dom", dom, 0)), 2, 1),
        "monthly_credit": lambda: (_monthly(cal, b, ("dom", -1 if dom < 18 else dom, 0)), 2, 1),
        "annual_renewal": lambda: (
            [i for i, x in enumerate(cal.dates) if (x.month, x.day) == (a.month, a.day)], 1, 1),
        "scheduled_scaleup": lambda: (_peak_days(cal, s.region), 1, 3 if s.region in ("jp", "au") else 5),
        "storage_sawtooth": lambda: ([i for i in np.flatnonzero(cal.dom == 1).tolist() if i > s.first], 2, 1),
    }  # fmt: skip
    return rules[name]()


def _recurring(name: str, cal: _Cal, s: _Spec, rng: np.random.Generator, base: float = 0.0) -> None:
    """Add a recurring pattern with a per-series size and per-occurrence jitter (size, length, a rerun
    the next day), and record its events and the day after the occurrence that makes it learnable."""
    days, need, dur = _schedule(name, cal, s, rng)
    if not base:
        lo, hi = _SIZE.get(name, (0.3, 4.0))
        base = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) * (s.level if name in _JOBS + _FEES else 1)
    jitter, n, a = rng.uniform(0.05, 0.3), cal.n, base
    if name == "storage_sawtooth":  # grows through the month until the expiry job cuts it on the 1st
        s.mult *= 1 - a / 2 + a * (cal.dom - 1) / (cal.dim - 1)
    events = []
    for d in (d for d in days if d >= s.first):
        dd = dur
        if name in _JOBS:
            d += int(rng.random() < 0.12)
            dd = max(1, dur + (int(rng.integers(-1, 2)) if rng.random() < 0.25 else 0))
        amt = a if name == "storage_sawtooth" else base * float(rng.lognormal(0.0, jitter))
        if d >= n:
            continue
        if name == "monthly_credit":
            s.credit[d] = 1 - min(amt, 0.95)
        elif name == "scheduled_scaleup":
            s.mult[max(d - 1, 0)] *= 1 + amt / 2  # pre-scaled the day before
            s.mult[d : d + dd] *= 1 + amt
        elif name in _FEES:
            s.fadd[d] += amt
        elif name in _JOBS:
            s.uadd[d : d + dd] += amt
        events.append((d, dd, amt))
    if events:
        s.events[name] = events
        learnable = events[need - 1][0] + events[need - 1][1] if len(events) >= need else n - 1
        s.patterns.append((name, min(learnable, n - 1)))


def _account(cal: _Cal, rng: np.random.Generator) -> list[_Spec]:
    """One linked account: an archetype, a home region with its holidays, 5-8 services and its fees."""
    arche = str(rng.choice(list(_ARCHETYPES), p=[v[1] for v in _ARCHETYPES.values()]))
    region = str(rng.choice(list(TZ), p=[0.35, 0.25, 0.15, 0.12, 0.13]))
    shutdown = arche != "prod" and rng.random() < 0.3
    observes = shutdown or rng.random() < 0.3
    acct = str(rng.integers(10**11, 10**12))
    home = (acct, arche, region, observes, shutdown, cal.holidays(region, shutdown)[1])
    pool = _ARCHETYPES[arche][2].split()
    cats = rng.choice(pool, size=min(len(pool), int(rng.integers(5, 9))), replace=False).tolist()
    specs: list[_Spec] = []
    for cat in sorted(cats, key=lambda c: c in ("transfer", "observability")):  # drivers first
        used = {x.sid for x in specs}
        service = next((x for x in rng.permutation(_SERVICES[cat].split()) if f"{acct}/{x}" not in used), cat)
        s = _Spec(service, cat, float(np.exp(rng.uniform(np.log(2), np.log(5000)))), home)
        drivers = [x for x in specs if x.cat in ("compute", "serverless")]
        if drivers and (cat == "transfer" or (cat == "observability" and rng.random() < 0.5)):
            s.driver = drivers[int(rng.integers(len(drivers)))]
            s.ratio, s.lag = rng.uniform(0.03, 0.4), int(cat == "observability" and rng.random() < 0.5)
        _base(cal, s, rng)
        specs.append(s)
    movable = [s for s in specs if s.cat in ("compute", "database") and s.driver is None and s.first == 0]
    if len(movable) >= 2 and cal.n >= 150 and rng.random() < 0.25:
        _migration(cal, *(movable[i] for i in rng.choice(len(movable), 2, replace=False)), rng)
    return specs + _fees(cal, specs, home, rng)


def _fees(cal: _Cal, usage: list[_Spec], home: tuple, rng: np.random.Generator) -> list[_Spec]:
    """Support and tax posted on the 1st (sized on the account's spend), Marketplace, Savings Plans."""
    monthly = 30.44 * sum(s.level for s in usage)
    support, rest = 0.0, monthly
    for width, rate in ((10_000, 0.10), (70_000, 0.07), (170_000, 0.05), (np.inf, 0.03)):  # Business tiers
        support, rest = support + rate * min(rest, width), rest - min(rest, width)
    out = []
    wanted = {"AWSSupport": 0.35, "Tax": 0.35, "AWSMarketplace": 0.2, "SavingsPlans": 0.3}
    for service in (k for k, p in wanted.items() if rng.random() < p):
        if service == "SavingsPlans" and not any(s.cat == "compute" for s in usage):
            continue
        s = _Spec(service, "fees", 1.0, home)
        if service in ("AWSSupport", "Tax"):
            fee = max(100.0, support) if service == "AWSSupport" else _TAX[s.region] * monthly
            s.mult[:], s.level = 0.0, fee / 30.44
            _recurring("month_start_fee", cal, s, rng, base=fee)
        elif service == "AWSMarketplace":
            s.level, s.noise = rng.uniform(2, 40), rng.gamma(100.0, 0.01, cal.n)
            _recurring("marketplace_renewal", cal, s, rng, base=rng.uniform(100, 4000))
        else:
            s.level = rng.uniform(0.15, 0.5) * sum(x.level for x in usage if x.cat == "compute")
            compute = [x for x in usage if x.cat == "compute" and x.first == 0]
            if compute and cal.n >= 150 and rng.random() < 0.6:  # a purchase: fee up, compute price down
                c, m = compute[int(rng.integers(len(compute)))], int(rng.integers(50, cal.n - 50))
                f = rng.uniform(0.15, 0.5)
                c.price[m:] *= 1 - f
                s.mult[m:] += f * (1 - rng.uniform(0.2, 0.45)) * c.level / s.level
                _mark("commitment_purchase", m, min(m + 7, cal.n - 1), c, s)
        out.append(s)
    return out


def _mark(name: str, day: int, learnable: int, *specs: _Spec) -> None:
    """Record a one-off planned change on the series it moves, and keep anomalies clear of it."""
    for s in specs:
        s.patterns.append((name, learnable))
        s.busy.append((day - 10, learnable + 7))


def _migration(cal: _Cal, a: _Spec, b: _Spec, rng: np.random.Generator) -> None:
    """A planned migration of a workload from a to b (often a new service: a short pilot, then the
    cut-over over 1-5 days): one falls as the other rises, at a 0.6-1.1 price ratio."""
    n, m, ramp = cal.n, int(rng.integers(60, cal.n - 60)), int(rng.integers(1, 6))
    f = min(rng.uniform(0.5, 1.1), 0.98)
    old, moved = b.level, a.level * f * rng.uniform(0.6, 1.1)
    if rng.random() < 0.4:
        b.first, old = m - int(rng.integers(3, 21)), b.level * 0.05
    t = np.clip((np.arange(n) - m + 1) / ramp, 0, 1)
    b.level = old + moved  # b's level is its level after the cut-over, so later anomalies scale all of it
    b.mult *= (old + moved * t) / b.level
    a.mult *= 1 - f * t
    _mark("planned_migration", m, min(m + ramp + 7, n - 1), a, b)


def _own_patterns(cal: _Cal, s: _Spec, rng: np.random.Generator) -> None:
    """Calendar patterns built into the shape (holidays, DST, month length, growth) and explicit ones."""
    n, starts = cal.n, [i for i in np.flatnonzero(cal.dom == 1).tolist() if i > s.first]
    hol = [d for d in s.hol if d >= s.first]
    if hol:
        end = hol[0]
        while end < n - 1 and not s.bday[end]:
            end += 1
        s.patterns.append(("holiday_shutdown", end))
    shifts = [d for d in s.shifts if d > s.first]
    if shifts:
        s.patterns.append(("dst_shift", min(shifts[min(1, len(shifts) - 1)] + 1, n - 1)))
    if s.cat == "storage" and starts:
        s.patterns.append(("month_length", starts[1] + 1 if len(starts) > 1 else n - 1))
    if s.growing:
        s.patterns.append(("growth", min(s.first + 60, n - 1)))
    share, options = _EXPLICIT[s.cat]
    options = [o for o in options.split() if o != "scheduled_scaleup" or s.arche == "prod"]
    picked = rng.choice(options, size=2, replace=False)[
        : int(rng.random() < share) + int(rng.random() < 0.15)
    ]
    for name in picked.tolist():
        _recurring(name, cal, s, rng)


def _sparse(cal: _Cal, s: _Spec) -> bool:
    """Whether the series idles on many weekdays (a sparse service, or one following it)."""
    return bool(np.mean((s.prof * s.noise)[(cal.dow < 5) & (np.arange(cal.n) >= s.first)] <= 0) > 0.1)


def _generic(kind: str, cal: _Cal, s: _Spec, lo: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """Inject an anomaly that needs none of the series' patterns, clear of its busy spans."""
    lo_days, hi_days, f_lo, f_hi = _ANOMALY[kind]
    length, d, f = int(rng.integers(lo_days, hi_days)), -1, rng.uniform(f_lo, f_hi)
    for _ in range(30 if lo < cal.n - 3 else 0):
        d = int(rng.integers(lo, cal.n - 3))
        clash = any(d <= b and d + length - 1 >= a for a, b in s.busy)
        if not clash and (kind != "pipeline_outage" or s.bday[d]):
            break
        d = -1
    if d < 0:
        return None
    e = min(d + length, cal.n)
    sl, k = slice(d, e), np.arange(1, e - d + 1)
    if kind == "forgotten_test_env":  # on 24/7, whatever the weekday profile
        s.uadd[sl] += s.level * f
    elif kind == "crypto_mining":  # GPU fleets cost the same in a sandbox as in prod
        s.uadd[sl] += rng.uniform(300, 5000) + s.level * f
    elif kind == "lost_discount":
        s.price[sl] *= f
    elif kind == "nat_transfer_surge":
        s.mult[sl] *= f * rng.lognormal(0, 0.3, e - d)
    else:  # a step, ramped for a misconfigured autoscaling group and for logging
        ramp = {"autoscaling_runaway": rng.uniform(4, 10), "logging_explosion": 2.0}.get(kind, 1.0)
        step = 1 + (f - 1) * np.minimum(1, k / ramp)
        if _sparse(cal, s) and f > 1:  # an idle-most-days service: the runaway runs every day
            s.uadd[sl] += s.level * (step - 1)
        else:
            s.mult[sl] *= step
    return d, e - 1


def _ride(kind: str, cal: _Cal, s: _Spec, lo: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """Inject an anomaly on one occurrence (at or after lo) of the series' own recurring pattern."""
    n = cal.n
    events = [ev for h in _RIDES[kind] for ev in s.events.get(h, []) if lo <= ev[0] < n - 1]
    events = [ev for ev in events if not any(ev[0] <= b and ev[0] + 25 >= a for a, b in s.busy)]
    if not events:
        return None
    d, dur, amt = events[int(rng.integers(len(events)))]
    k = int(rng.integers(5, 21))
    if kind == "missing_credit":
        s.credit[d] = 1.0
    elif kind == "doubled_monthly_charge":
        d += int(rng.random() < 0.5)  # charged twice the same day, or again the next day
        s.fadd[d] += amt
    elif kind == "job_size_blowup":
        s.uadd[d : d + dur] += amt * rng.uniform(2, 7)
        return d, min(d + dur, n) - 1
    elif kind == "batch_runs_daily":
        d += dur
        s.uadd[d : d + k] += amt * rng.lognormal(0, 0.1, len(range(d, min(d + k, n))))
        return (d, min(d + k, n) - 1) if d < n else None
    else:  # storage_not_expired: the month's data keeps accumulating until the job is fixed
        for j in range(min(k, n - d)):
            now = 1 - amt / 2 + amt * (cal.dom[d + j] - 1) / (cal.dim[d + j] - 1)
            s.mult[d + j] *= (1 + amt / 2 + amt * (j + 1) / 30) / now
        return d, min(d + k, n) - 1
    return d, d


def _anomalies(cal: _Cal, s: _Spec, rng: np.random.Generator) -> None:
    """One anomaly (a quarter of the time two) of kinds that fit the service and ride on its patterns."""
    nonprod, steady = s.arche not in ("prod", "shared"), s.wf >= 0.5 and not _sparse(cal, s)
    generic = [k for k in _GENERIC[s.cat].split() if (k != "forgotten_test_env" or nonprod)]
    generic = [k for k in generic if k != "pipeline_outage" or steady]  # an outage must show
    generic = ["duplicate_commitment"] if s.sid.endswith("/SavingsPlans") else generic
    riding = [k for k, hosts in _RIDES.items() if set(hosts) & set(s.events)]
    learnable = max((p[1] for p in s.patterns), default=0)
    lo = max(45, s.first + 45)
    lo = max(lo, learnable) if learnable < cal.n - 40 and rng.random() < 0.8 else lo
    want = len(s.labels) + 1 + int(rng.random() < 0.25)
    for _ in range(8):
        used = {lab[0] for lab in s.labels}
        generic, riding = [k for k in generic if k not in used], [k for k in riding if k not in used]
        if len(s.labels) >= want or not (generic or riding):
            break
        kind = str(rng.choice(riding if riding and (rng.random() < 0.45 or not generic) else generic))
        span = _ride(kind, cal, s, lo, rng) if kind in _RIDES else _generic(kind, cal, s, lo, rng)
        if span:
            s.labels.append((kind, *span))
            s.busy.append((span[0] - 10, span[1] + 10))


def _follow(cal: _Cal, s: _Spec) -> None:
    """A transfer or log series takes its driver's usage, with its usage patterns and anomalies."""
    drv, n = s.driver, cal.n
    assert drv is not None
    u = drv.usage()
    u = np.r_[u[: s.lag], u[:-1]] if s.lag else u
    s.first, s.prof, s.level = drv.first, u / drv.level, s.ratio * drv.level
    s.patterns += [(p, min(lu + s.lag, n - 1)) for p, lu in drv.patterns if p in _USAGE_TRAPS]
    for kind, a, b in (lab for lab in drv.labels if lab[0] in _USAGE_KINDS):
        s.labels.append((kind, a + s.lag, min(b + s.lag, n - 1)))
        s.busy.append((a - 10, b + s.lag + 10))


def _frames(cal: _Cal, specs: list[_Spec]) -> LabelledSeries:
    """The series, label and trap frames (one trap row per series: its most salient pattern)."""
    dates = np.datetime64(cal.start, "D") + np.arange(cal.n)
    costs = [np.round(s.cost()[s.first :], 4) for s in specs]
    lengths = [c.size for c in costs]
    series = pl.DataFrame({
        "series_id": np.repeat([s.sid for s in specs], lengths),
        "group": np.repeat([s.account for s in specs], lengths),
        "date": np.concatenate([dates[s.first :] for s in specs]),
        "cost": np.concatenate(costs).astype(np.float64),
    })  # fmt: skip
    labels, traps = [], []
    for s in specs:
        labels += [(s.sid, k, cal.dates[a], cal.dates[b]) for k, a, b in sorted(s.labels, key=lambda x: x[1])]
        if s.patterns:
            name = min(s.patterns, key=lambda p: _PRIORITY.index(p[0]))[0]
            traps.append((s.sid, name, cal.dates[max(p[1] for p in s.patterns)]))
    return LabelledSeries(
        series=series,
        labels=pl.DataFrame(labels, schema=LABEL_SCHEMA, orient="row"),
        traps=pl.DataFrame(traps, schema=TRAP_SCHEMA, orient="row"),
    )


def realistic_family(seed: int, start: dt.date, n_days: int) -> LabelledSeries:
    """Family C for one seed: ~200 labelled series over ~25 accounts from `start` for `n_days` days.

    Deterministic per seed (numpy's generator seeded with the seed and this family's salt). About
    35-45 % of series carry labelled anomalies and over 60 % a trap.
    """
    if n_days < 1:
        raise ValueError("n_days must be positive")
    rng = np.random.default_rng([_SALT, int(seed) % 2**63])
    cal = _Cal(start, n_days)
    specs = [s for _ in range(int(rng.integers(25, 28))) for s in _account(cal, rng)]
    for s in specs:
        if s.driver is None and s.cat != "fees":
            _own_patterns(cal, s, rng)
    eligible = [i for i, s in enumerate(specs) if not s.sid.endswith("/Tax") and s.first + 50 < n_days]
    chosen = set(rng.choice(eligible, size=round(0.3 * len(eligible)), replace=False).tolist())
    for i in sorted(range(len(specs)), key=lambda i: specs[i].driver is not None):  # drivers first
        if specs[i].driver is not None:
            _follow(cal, specs[i])
        if i in chosen:
            _anomalies(cal, specs[i], rng)
    # top up to 37-41 % labelled series, on series nobody follows (their followers are done)
    drivers, target = {id(s.driver) for s in specs}, rng.uniform(0.37, 0.41) * len(specs)
    for i in rng.permutation(eligible).tolist() if eligible else []:
        if sum(bool(s.labels) for s in specs) >= target:
            break
        if not specs[i].labels and id(specs[i]) not in drivers:
            _anomalies(cal, specs[i], rng)
    return _frames(cal, specs)
