"""The accounts of the bottom-up family: what each kind of account runs, and the changes planned in it.

An organisation's accounts differ by what they run, and so do their bills: a storefront's follows
shoppers (evenings, Black Friday or Singles' Day), a B2B SaaS one office hours and holidays, a data
platform's its schedules, a dev account its instance scheduler, a startup's its credits, a legacy
one its expiring reservations and decommissions, a sandbox its free tier. ``plan_world`` draws
accounts of these profiles until the organisation has about 200 series.
"""

from __future__ import annotations

import numpy as np

from finops_sandbox.anomaly_worlds.bottom_up_accounts import Account, Pattern, Planner, Unit, day_windows, lu
from finops_sandbox.anomaly_worlds.bottom_up_calendar import Calendar
from finops_sandbox.anomaly_worlds.bottom_up_items import Params, anchor_date

PROFILES = ("shop", "apac_shop", "saas", "data", "dev", "shared", "startup", "legacy", "sandbox", "ml")
WEIGHTS = (0.15, 0.06, 0.17, 0.14, 0.11, 0.08, 0.07, 0.08, 0.05, 0.09)


def _sched(cron: str, tz: str, units: float, hours: float, **extra: object) -> Params:
    """One schedule of a job unit: cron line, time zone, units billed per hour, median hours per run."""
    return {"cron": cron, "tz": tz, "units": units, "hours": hours} | extra


def _commit(u: Unit, r: np.random.Generator, sp: bool) -> None:
    """A Savings Plan bought for a fleet (sized later from its usage), or its RI expiring on a day."""
    if sp:
        u.p["sp_cover"] = r.uniform(0.5, 0.85)
        u.kinds += ("savings_plan_lapse",)


def _credit(u: Unit, r: np.random.Generator) -> None:
    """Migration (MAP) credits that refund a share of a migrated workload's usage every day."""
    u.mods["credit"] = r.uniform(0.2, 0.32)
    u.kinds += ("credit_not_applied",)


def _shop(pl: Planner, event: str = "black_friday") -> None:
    """A storefront: consumer evenings, a yearly shopping peak on every traffic-driven line."""
    r = pl.rng
    _commit(pl.fleet("web", "consumer", lu(r, 8, 250), lu(r, 0.1, 1.2), event), r, r.random() < 0.5)
    pl.cdn("static-assets", "consumer", lu(r, 300, 60_000), event)
    pl.lambda_fn("checkout-api", "consumer", lu(r, 2e6, 2e8), event)
    pl.rds("orders-db", "consumer", lu(r, 0.5, 8))
    pl.s3_lake("clickstream", lu(r, 20, 3_000))
    if event == "black_friday":
        pl.nat("egress", "consumer")
        pl.snapshots("ebs-snapshots")
    if r.random() < 0.5:
        pl.metered(
            "AmazonApiGateway", "public-api", "consumer", lu(r, 5e6, 4e8), 0.0, "scraper_traffic_surge"
        )


def _saas(pl: Planner) -> None:
    """A B2B SaaS product: office-hours demand in its market, holidays, migration credits."""
    r = pl.rng
    app = pl.fleet("app", "business", lu(r, 6, 200), lu(r, 0.1, 1.5))
    _commit(app, r, r.random() < 0.5)
    db = pl.rds("tenant-db", "business", lu(r, 0.5, 10))
    for u in (app, db):
        if r.random() < 0.5:
            _credit(u, r)
    pl.lambda_fn("webhooks", "business", lu(r, 1e6, 1e8))
    pl.s3_lake("tenant-data", lu(r, 10, 2_000))
    pl.nat("egress", "business")
    pl.backups("nightly-backups", "weekly")
    pl.snapshots("ebs-snapshots")
    pl.metered("AmazonCloudWatch", "logs-ingest", "business", lu(r, 2, 800), 0.50, "debug_logging_left_on")


def _data(pl: Planner) -> None:
    """A data platform: every cost is a schedule (nightly, weekdays, month and quarter close, first
    Monday, 15th and last day, every 14 days), some set in local time by a DST-naive scheduler."""
    r, c = pl.rng, pl.country
    naive = bool(r.random() < 0.5)
    at = {"US": "30 1", "GB": "30 1", "DE": "30 2"}[c] if naive else "0 2"
    monthly, quarterly = ("month_end_reporting", "monthly", 1), ("quarter_end_reporting", "quarterly", 2)
    weekdays = ("weekday_batch_schedule", "weekly", 0)
    rate = _sched(
        "rate(14 days)", "UTC", lu(r, 10, 80), lu(r, 4, 12), anchor=int(r.integers(14)), hour=r.uniform(0, 23)
    )
    nightly = _sched(f"{at} * * *", c, lu(r, 10, 80), lu(r, 0.5, 3), naive=naive)
    job = [
        ("AWSGlue", "nightly-etl", 0.44, [nightly], []),
        ("AWSGlue", "finance-close", 0.44, [
            _sched("0 3 * * *", c, lu(r, 5, 30), lu(r, 0.3, 1.5)),
            _sched("0 20 LW * *", c, lu(r, 20, 100), lu(r, 3, 8)),
            _sched("0 18 LW 3,6,9,12 *", c, lu(r, 50, 150), lu(r, 15, 40)),
        ], [monthly, quarterly]),
        ("AWSGlue", "weekday-ingest", 0.44, [_sched("0 2 * * 1-5", c, lu(r, 10, 60), lu(r, 0.5, 2))],
         [weekdays]),
        ("AmazonAthena", "bi-reports", 5.0, [
            _sched("0 7 * * 1-5", c, lu(r, 0.05, 1.0), lu(r, 0.5, 2)),
            _sched("0 6 * * 1#1", c, lu(r, 0.5, 4.0), lu(r, 4, 12)),
        ], [weekdays, ("first_monday_job", "monthly", 1)]),
        ("AmazonEMR", "recompute", lu(r, 0.2, 1.0) * 1.25, [rate], [("biweekly_recompute", "biweekly", 0)]),
        ("AWSGlue", "partner-export", 0.44, [_sched("0 4 15,L * *", c, lu(r, 10, 60), lu(r, 1, 4))],
         [("mid_and_month_end_runs", "monthly", 0)]),
    ]  # fmt: skip
    for k in sorted(r.choice(len(job), size=5, replace=False)):
        pl.jobs(*job[k])
    spot = {"cron": "0 2 * * 1-5", "tz": c, "units": lu(r, 10, 150), "hours": lu(r, 1, 5)}
    pl.jobs(
        "AmazonEC2",
        "risk-batch-spot",
        lu(r, 0.2, 1.0),
        [spot],
        [("weekday_batch_schedule", "weekly", 0)],
        r.uniform(0.3, 0.5),
    )
    pl.s3_lake("lake", lu(r, 100, 5_000))


def _dev(pl: Planner) -> None:
    """Development accounts: scheduled instances, a small always-on database, free-tier functions."""
    r = pl.rng
    pl.dev_fleet("team-a")
    pl.dev_fleet("team-b")
    pl.rds("dev-db", "business", lu(r, 0.1, 1.0))
    pl.lambda_fn("dev-functions", "business", lu(r, 2e6, 2e7), free=True)
    pl.snapshots("ebs-snapshots")
    pl.nat("egress", "business")


def _shared(pl: Planner) -> None:
    """Shared services: DNS and domains, a Marketplace subscription, org backups or access logs, Config."""
    r, cal = pl.rng, pl.cal
    domains = [
        (int(r.integers(1, 13)), int(r.integers(1, 29)), lu(r, 12, 300)) for _ in range(int(r.integers(1, 7)))
    ]
    if r.random() < 0.3:
        domains.append((2, 29, lu(r, 12, 120)))
    p = pl.traffic("consumer") | {"queries": lu(r, 1, 200), "zones": int(lu(r, 2, 200)), "domains": domains}
    renew = np.zeros(cal.n, bool)
    for month, day, _ in domains:
        for y in range(int(cal.year.min()), int(cal.year.max()) + 1):
            i = cal.index(anchor_date(y, month, day))
            if 0 <= i < cal.n:
                renew[i] = True
    p["_patterns"] = [
        Pattern("domain_renewal", "annual", day_windows(renew)),
        Pattern("hosted_zone_monthly", "monthly", day_windows(cal.dom == 1)),
    ]
    pl.unit("AmazonRoute53", "dns", "dns", p)
    mp: Params = {
        "fee": lu(r, 200, 20_000),
        "day": int(r.integers(1, 32)),
        "hosts": lu(r, 2, 50),
        "rate": lu(r, 0.02, 0.3),
    }
    mp["growth"] = r.uniform(0.0, 0.3)
    due = cal.dom == np.minimum(mp["day"], cal.dim)
    mp["_patterns"] = [Pattern("marketplace_subscription", "monthly", day_windows(due))]
    pl.unit("AWSMarketplace", "security-saas", "marketplace", mp)
    if r.random() < 0.5:
        pl.backups("org-backups", "monthly")
    else:
        pl.backups("access-logs", "monthly", logs=True)
    pl.metered(
        "AWSConfig", "config-recorder", "business", lu(r, 2_000, 200_000), 0.003, "config_recorder_churn"
    )
    pl.lambda_fn("automation", "business", lu(r, 1e6, 2e7))


def _startup(pl: Planner) -> None:
    """A new product on promotional credits that run out mid-month, launching new services."""
    r, n = pl.rng, pl.cal.n
    day = int(r.integers(50, n - 60)) if n > 160 else None
    if day is not None:
        day += int(np.clip(15 - pl.cal.dom[day], -7, 7))
    for u in (
        pl.fleet("app", "consumer", lu(r, 4, 60), lu(r, 0.05, 0.6)),
        pl.rds("db", "consumer", lu(r, 0.2, 2)),
    ):
        if day is not None:
            u.mods["promo_day"] = day
            u.patterns.append(Pattern("promotional_credits_exhausted", "oneoff", ((day, day + 1),)))
    pl.launch(pl.lambda_fn("api", "consumer", lu(r, 1e6, 5e7)))
    pl.launch(pl.cdn("media", "consumer", lu(r, 100, 5_000)))


def _legacy(pl: Planner) -> None:
    """A legacy estate: static fleets on reserved instances that expire, workloads being retired."""
    r, n = pl.rng, pl.cal.n
    erp = pl.fleet("erp", "business", lu(r, 4, 40), lu(r, 0.2, 2.0))
    erp.p["min"] = round(erp.p["peak"] * r.uniform(0.5, 0.8))
    db = pl.rds("erp-db", "business", lu(r, 1, 12))
    erp.p["ri"], db.p["ri"] = erp.p["min"] * r.uniform(0.6, 1.0), float(db.p["inst"])
    for u in (erp, db):
        if n > 130:
            u.p["ri_end"] = int(r.integers(60, n - 60))
            u.patterns.append(Pattern("ri_expired", "oneoff", ((u.p["ri_end"], u.p["ri_end"]),)))
    pl.decommission(pl.fleet("old-batch", "business", lu(r, 3, 30), lu(r, 0.1, 1.0)))
    pl.decommission(pl.s3_lake("old-archive", lu(r, 60, 800)))
    pl.backups("erp-backups", "weekly")


def _sandbox(pl: Planner) -> None:
    """A young account living on the 12-month free tier until it ends on the 1st."""
    r, n = pl.rng, pl.cal.n
    end = pl.month_start(60, n - 60) if n > 150 else None
    p: Params = {
        "micro": int(r.integers(3, 8)),
        "gb": lu(r, 8, 30),
        "gb_out": lu(r, 0.5, 5),
        "ft_end": end if end is not None else n,
    }
    starts = day_windows((pl.cal.dom == 1) & (np.arange(n) < p["ft_end"]))
    p["_patterns"] = [Pattern("monthly_free_tier_allowance", "monthly", starts)]
    if end is not None:
        p["_patterns"].insert(0, Pattern("free_tier_ended", "oneoff", ((end, end),)))
    pl.unit("AmazonEC2", "micro-instances", "free_tier", p)
    pl.lambda_fn("experiments", "business", lu(r, 1e6, 1e7), free=True)


def _ml(pl: Planner) -> None:
    """Machine learning: a monthly GPU retrain on spot (first Monday), an inference endpoint, features."""
    r, c = pl.rng, pl.country
    train = {"cron": "0 6 * * 1#1", "tz": c, "units": float(r.integers(1, 9)), "hours": lu(r, 6, 30)}
    pl.jobs(
        "AmazonEC2", "gpu-retrain", 32.77, [train], [("first_monday_job", "monthly", 0)], r.uniform(0.3, 0.45)
    )
    ep = pl.fleet("inference-endpoint", "consumer", lu(r, 2, 12), lu(r, 0.7, 5.0), service="AmazonSageMaker")
    ep.kinds = ("instance_type_upsized", "fleet_stuck_at_peak")
    pl.s3_lake("features", lu(r, 20, 1_500))


BUILDERS = {
    "shop": _shop,
    "apac_shop": lambda pl: _shop(pl, "singles_day"),
    "saas": _saas,
    "data": _data,
    "dev": _dev,
    "shared": _shared,
    "startup": _startup,
    "legacy": _legacy,
    "sandbox": _sandbox,
    "ml": _ml,
}
TAX = {"US": (0.06, 0.10), "GB": (0.20, 0.20), "DE": (0.19, 0.19), "SG": (0.09, 0.09)}


def _planned_changes(pl: Planner, units: list[Unit]) -> None:
    """Changes planned outside the workloads: AWS price reductions (a permanent step down from the 1st
    of a month), and a few launches and decommissions elsewhere in the estate."""
    r, n = pl.rng, pl.cal.n
    for u in units:
        if any(q.cadence == "oneoff" for q in u.patterns) or u.p.get("sp_cover") or u.p.get("ri") or u.mods:
            continue
        x = r.random()
        if u.kind in ("fleet", "lambda", "cdn", "s3_lake", "rds") and x < 0.06:
            day = pl.month_start(75, n - 40)
            if day is not None:
                u.mods["price_cut"] = (day, r.uniform(0.65, 0.85))
                u.patterns.append(Pattern("aws_price_reduction", "oneoff", ((day, day),)))
        elif u.kind in ("fleet", "lambda", "cdn", "nat", "metered", "rds") and x < 0.09:
            pl.launch(u)
        elif u.kind in ("fleet", "lambda", "nat", "metered", "rds", "snapshots") and x < 0.115:
            pl.decommission(u)


def plan_world(rng: np.random.Generator, cal: Calendar) -> tuple[list[Account], list[Unit]]:
    """Accounts (one of each profile, then drawn by weight) until about 200 series."""
    target = int(rng.integers(195, 215))
    order = list(PROFILES) + list(rng.choice(PROFILES, size=80, p=WEIGHTS))
    accounts: list[Account] = []
    units: list[Unit] = []
    count = 0
    for k, prof in enumerate(order):
        if count >= target:
            break
        country = (
            "SG"
            if prof == "apac_shop"
            else "US"
            if prof == "sandbox"
            else str(rng.choice(["US", "GB", "DE"]))
        )
        name = f"{prof.replace('_', '-')}-{country.lower()}-{k + 1:02d}"
        pl = Planner(rng, cal, name, country)
        BUILDERS[prof](pl)
        _planned_changes(pl, pl.units)
        support = "" if prof == "sandbox" else "developer" if prof in ("dev", "startup") else "business"
        lo, hi = TAX[country]
        tax = float(rng.uniform(lo, hi)) if prof != "sandbox" and rng.random() < 0.45 else 0.0
        accounts.append(Account(name, country, support, tax))
        units += pl.units
        count += sum(len(u.outputs) for u in pl.units) + bool(support) + bool(tax)
    return accounts, units
