"""Workload renderers of the bottom-up family: each bills one service of one account, line item by line item.

A renderer takes its parameters, the calendar, a seed and the anomalies in force, and returns daily
costs (`main`, and `sp_fee` for a fleet that buys a Savings Plan). It draws all its random numbers up
front with fixed shapes, so rendering with and without an anomaly gives identical noise and the
difference is exactly the anomaly's cost: that is how labels get their dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from finops_sandbox.anomaly_worlds.bottom_up_calendar import Calendar, cron_days, local_hours, utc_starts
from finops_sandbox.anomaly_worlds.bottom_up_items import (
    APIGW_TIERS,
    CLOUDFRONT_TIERS,
    Anomaly,
    Params,
    active,
    allowance,
    anchor_date,
    ar1_noise,
    autoscale,
    counts,
    demand_profile,
    diurnal,
    extended_days,
    factor,
    monthly_tiered,
    next_true,
    of_kind,
    run_usage,
    spot_price,
    window_sum,
)

SP_DISCOUNT = 0.28  # Compute Savings Plan rate below on-demand
RI_DISCOUNT = 0.38  # 1-year no-upfront standard RI
Out = dict[str, np.ndarray]
Renderer = Callable[[Params, Calendar, int, Sequence[Anomaly]], Out]


def _daily(hourly: np.ndarray, n: int) -> np.ndarray:
    """Sum hourly costs into UTC days, as Cost Explorer does."""
    return hourly.reshape(n, 24).sum(axis=1)


def render_fleet(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """EC2 (or SageMaker) instance-hours of an auto-scaled fleet: hourly demand in the market's local
    time (diurnal curve × daily profile) sets the integer fleet size, which bills per UTC hour, so
    nights and weekends cost less in instance-sized steps."""
    rng, n = np.random.default_rng(seed), cal.n
    daily = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    jitter = np.exp(rng.normal(0.0, 0.05, n * 24))
    lh, ld = local_hours(cal, p["country"])
    hday = np.repeat(np.arange(n), 24)
    surge = factor(anomalies, n, "scraper_traffic_surge")[hday]
    demand = p["peak"] * daily[ld] * diurnal(lh, p["curve"], p["floor"]) * jitter * surge
    alive = (p["env"] > 0)[ld]
    fleet = autoscale(np.ceil(demand / p["util"]), p["min"] * alive, p["max"], p["cooldown"]).astype(float)
    fleet = _fleet_faults(p, fleet, anomalies, n)
    price = p["price"] * factor(anomalies, n, "instance_type_upsized")[hday]
    return _fleet_bill(p, fleet * price, anomalies, n)


def _fleet_faults(p: Params, fleet: np.ndarray, anomalies: Sequence[Anomaly], n: int) -> np.ndarray:
    """Scale-in stops (fleet held at the highest size reached), a load-test fleet nobody tore down,
    or a bad deployment / regional outage that leaves only part of the fleet running."""
    typical = p["peak"] / p["util"] * 0.6
    for a in anomalies:
        h0, h1 = a.start * 24, min(n, a.start + a.days) * 24
        if a.kind == "fleet_stuck_at_peak":
            fleet[h0:h1] = np.maximum.accumulate(fleet[h0:h1])
        elif a.kind == "load_test_left_running":
            fleet[h0:h1] += np.ceil(a.size * typical)
        elif a.kind == "region_outage_drop":
            fleet[h0:h1] = np.floor(fleet[h0:h1] * a.size)
    return fleet


def _fleet_bill(p: Params, usage: np.ndarray, anomalies: Sequence[Anomaly], n: int) -> Out:
    """On-demand cost net of commitments, per UTC hour. Reserved instances (in normalised units) absorb
    usage up to their size and bill a flat fee until they expire; a Savings Plan commitment absorbs
    `commitment / (1 - discount)` of on-demand usage per hour and bills exactly the commitment, on
    its own service line, every hour, used or not."""
    hday = np.repeat(np.arange(n), 24)
    ri = p.get("ri", 0.0) * p["price"] * (np.arange(n) < p.get("ri_end", n))
    od = np.maximum(usage - ri[hday], 0.0)
    sp = p.get("sp", 0.0) * ~active(anomalies, n, "savings_plan_lapse")
    od = np.maximum(od - (sp / (1 - SP_DISCOUNT))[hday], 0.0)
    out = {"main": _daily(od, n) + 24 * ri * (1 - RI_DISCOUNT)}
    if p.get("sp"):
        out["sp_fee"] = 24 * sp
    return out


def render_dev_fleet(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """Development instances an instance scheduler runs only in office hours on local business days
    (a standard FinOps saving); stopped instances still pay for their EBS volumes, prorated over
    the month's length."""
    rng, n = np.random.default_rng(seed), cal.n
    adhoc = rng.poisson(p["n"] * 0.15, n)
    lh, ld = local_hours(cal, p["country"])
    hday = np.repeat(np.arange(n), 24)
    business = (cal.dow < 5) & ~cal.holidays[p["country"]]
    on = business[ld] & (lh >= p["on"]) & (lh < p["off"])
    running = np.where(on, p["n"] + adhoc[ld], p["always_on"]).astype(float)
    left_on = active(anomalies, n, "dev_scheduler_disabled")[hday]
    running = np.where(left_on, np.maximum(running, p["n"]), running)
    price = p["price"] * factor(anomalies, n, "instance_type_upsized")[hday]
    ebs = (p["n"] + p["always_on"]) * p["gb"] * 0.08 / cal.dim
    return {"main": _daily(running * price, n) + ebs}


def render_lambda(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """Lambda: requests (overdispersed counts driven by traffic) × $0.20/M plus GB-seconds (requests ×
    duration × memory) × $0.0000166667, less the monthly free tier where the account still gets it
    (1M requests and 400,000 GB-s, used up from the 1st: early-month days cost nothing)."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    g, z, dj = rng.gamma(30.0, 1 / 30, n), rng.normal(size=n), np.exp(rng.normal(0.0, 0.05, n))
    mean = p["req"] * prof * factor(anomalies, n, "scraper_traffic_surge", "region_outage_drop")
    req = counts(mean, g, z) * factor(anomalies, n, "runaway_lambda_recursion")
    gbs = req * p["dur"] * dj * factor(anomalies, n, "lambda_timeout_regression") * p["mem"]
    free = p.get("free_tier", False)
    cost = allowance(cal, req, 1e6 if free else 0.0, 0.2e-6) + allowance(
        cal, gbs, 4e5 if free else 0.0, 1.66667e-5
    )
    return {"main": cost}


def render_cdn(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """CloudFront: GB out priced by cumulative monthly volume tiers (so a big distribution's unit price
    falls through the month and resets on the 1st) plus HTTPS requests at $0.01 per 10,000. A flood
    of scraper or DDoS traffic raises requests more than bytes."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    g = rng.gamma(40.0, 1 / 40, n)
    surge, drop = factor(anomalies, n, "ddos_traffic_surge"), factor(anomalies, n, "region_outage_drop")
    gb = p["gb"] * prof * g * surge * drop
    requests = p["gb"] * prof * g * p["req_per_gb"] * surge**1.5 * drop
    return {"main": monthly_tiered(cal, gb, *CLOUDFRONT_TIERS) + requests * 1e-6}


def render_nat(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """NAT gateways: a flat $0.045 per gateway-hour plus $0.045 per GB processed. Traffic to S3 sent
    through the NAT instead of a gateway endpoint multiplies the processed GB."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    gb = p["gb"] * prof * rng.gamma(30.0, 1 / 30, n) * factor(anomalies, n, "nat_traffic_misrouted")
    return {"main": p["gateways"] * 0.045 * 24 * (p["env"] > 0) + gb * 0.045}


def render_metered(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """A metered quantity driven by activity, under its price tiers: CloudWatch Logs GB ingested (debug
    logging left on multiplies it), AWS Config items recorded (a flapping resource records a change
    every few minutes), API Gateway requests (tiered by monthly volume; scrapers multiply them)."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    f = factor(anomalies, n, "debug_logging_left_on", "scraper_traffic_surge", "config_recorder_churn")
    qty = p["qty"] * prof * rng.gamma(30.0, 1 / 30, n) * f
    bounds, prices = APIGW_TIERS if p.get("tiers") == "apigw" else ([float("inf")], [p["unit_price"]])
    return {"main": monthly_tiered(cal, qty, bounds, prices)}


def render_s3_lake(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """An S3 bucket whose daily ingest ages through a lifecycle rule: STANDARD for `transition` days,
    then Standard-IA, expired after `expire` days; GB-months prorated per day (a February day costs
    more than a January one). With the rule deleted nothing transitions or expires: storage climbs
    until the rule is restored and the backlog is expired."""
    rng, n = np.random.default_rng(seed), cal.n
    t_days, r_days = p["transition"], p["expire"]
    before = r_days + 1
    dow, _ = extended_days(cal, before)
    k = np.arange(-before, n)
    ingest = p["ingest"] * np.where(dow >= 5, p["weekend"], 1.0) * np.exp(p["growth"] * k / 365)
    ingest = ingest * ar1_noise(rng, before + n, 0.15)
    ingest[before:] *= p["env"]
    cum = np.concatenate([[0.0], np.cumsum(ingest)])
    j = np.arange(n) + before
    std, ia = window_sum(cum, j - t_days + 1, j + 1), window_sum(cum, j - r_days + 1, j - t_days + 1)
    for a in of_kind(anomalies, "lifecycle_rule_deleted"):
        w, s = a.mask(n), a.start + before
        std[w] = window_sum(cum, s - t_days + 1, j[w] + 1)
        ia[w] = window_sum(cum, s - r_days + 1, s - t_days + 1)
    storage = (std * p["p_std"] + ia * p["p_ia"]) / cal.dim
    return {"main": (storage + ingest[before:] * p["puts_per_gb"] * 5e-6) * (p["env"] > 0)}


def render_backups(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """Backup chains in S3: a full backup at each cycle start (Sunday, or the 1st), incrementals in
    between; a prune job run after each full deletes chains whose newest point is older than the
    retention. Storage climbs through the cycle and drops at each prune: a sawtooth. (Log buckets are
    the same with every day's objects the same size.)"""
    rng, n = np.random.default_rng(seed), cal.n
    before = p["retain"] + 80
    dow, dom = extended_days(cal, before)
    m, k = before + n, np.arange(-before, n)
    full = (dow == 6) if p["cycle"] == "weekly" else (dom == 1)
    prune = full.copy()
    for a in of_kind(anomalies, "backup_full_daily_misconfig"):
        full[before:][a.mask(n)] = True
    for a in of_kind(anomalies, "backup_pruning_stopped"):
        prune[before:][a.mask(n)] = False
    size = p["full"] * np.exp(p["growth"] * k / 365)
    added = np.where(full, size, size * p["incr"] * np.exp(rng.normal(0.0, 0.15, m)))
    chain_end = next_true(full)[np.arange(m) + 1] - 1
    gone = next_true(prune)[np.minimum(chain_end + p["retain"] + 1, m)]
    delta = np.zeros(m + 1)
    np.add.at(delta, np.arange(m), added)
    np.add.at(delta, gone, -added)
    stored = np.cumsum(delta)[before:m]
    return {"main": stored * p["price"] / cal.dim}


def render_snapshots(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """EBS snapshots taken daily by a lifecycle policy: each stores the blocks changed since the last
    (more on weekdays), snapshots older than the retention are deleted; $0.05 per GB-month. If the
    deletion breaks, every day's changes pile up. A decommissioned volume's snapshots are deleted."""
    rng, n = np.random.default_rng(seed), cal.n
    r_days = p["retain"]
    before = r_days + 1
    dow, _ = extended_days(cal, before)
    vol = p["vol"] * np.exp(p["growth"] * np.arange(-before, n) / 365)
    change = vol * p["churn"] * np.where(dow >= 5, 0.4, 1.0) * np.exp(rng.normal(0.0, 0.2, before + n))
    cum = np.concatenate([[0.0], np.cumsum(change)])
    j = np.arange(n) + before
    stored = vol[before:] + window_sum(cum, j - r_days + 1, j + 1)
    for a in of_kind(anomalies, "snapshot_cleanup_broken"):
        w = a.mask(n)
        stored[w] = vol[before:][w] + window_sum(cum, a.start + before - r_days + 1, j[w] + 1)
    return {"main": stored * 0.05 / cal.dim * (p["env"] > 0)}


def render_rds(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """RDS / Aurora: instance-hours (Multi-AZ priced in), net of reserved instances until they expire;
    allocated storage that storage autoscaling grows in 10% steps as the data grows (allocated GB
    bill, prorated per day); and I/O requests at $0.20/M driven by traffic."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    g, z, writes = rng.gamma(30.0, 1 / 30, n), rng.normal(size=n), np.exp(rng.normal(0.0, 0.3, n))
    alive = p["env"] > 0
    inst = np.ceil(p["inst"] * factor(anomalies, n, "read_replica_left_running") - 1e-9) * alive
    usage = inst * p["price"] * factor(anomalies, n, "db_left_upsized")
    ri = p.get("ri", 0.0) * p["price"] * (np.arange(n) < p.get("ri_end", n))
    compute = 24 * (np.maximum(usage - ri, 0.0) + ri * (1 - RI_DISCOUNT))
    used = p["gb"] * (1 + np.cumsum(p["gb_growth"] / 365 * writes))
    base = 1.25 * p["gb"]
    steps = np.maximum.accumulate(np.maximum(0.0, np.ceil(np.log(used / (0.9 * base)) / np.log(1.1))))
    storage = base * 1.1**steps * 0.115 / cal.dim
    io = counts(p["io"] * prof, g, z) * 0.2e-6
    return {"main": (compute + storage + io) * alive}


def render_dns(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """Route 53: queries at $0.40/M every day, hosted zones at $0.50 each posted on the 1st, and domain
    registrations renewed on their anniversary (29 February ones on the 28th in common years)."""
    rng, n = np.random.default_rng(seed), cal.n
    prof = demand_profile(cal, p, ar1_noise(rng, n, p["noise"]))
    cost = p["queries"] * prof * rng.gamma(30.0, 1 / 30, n) * 0.40 + (cal.dom == 1) * p["zones"] * 0.50
    for month, day, usd in p["domains"]:
        for y in range(int(cal.year.min()), int(cal.year.max()) + 1):
            i = cal.index(anchor_date(y, month, day))
            if 0 <= i < n:
                cost[i] += usd
    return {"main": cost}


def render_marketplace(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """AWS Marketplace: a SaaS subscription posted monthly on its contract day (the month's last day
    when the month is shorter) plus an hourly software fee per protected host."""
    rng, n = np.random.default_rng(seed), cal.n
    hosts = np.round(p["hosts"] * np.exp(p["growth"] * np.arange(n) / 365) * ar1_noise(rng, n, 0.05, 0.97))
    due = cal.dom == np.minimum(p["day"], cal.dim)
    return {"main": hosts * p["rate"] * 24 + np.where(due, p["fee"], 0.0)}


def render_free_tier(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """A young account's micro instances: the 12-month free tier covers 750 instance-hours and 30
    GB-months of EBS a month (used up from the 1st), plus the always-free 100 GB of data out; after
    the account's 12th month the instances and volumes bill in full from the 1st."""
    rng, n = np.random.default_rng(seed), cal.n
    ended = np.arange(n) >= p["ft_end"]
    hours = np.full(n, 24.0 * p["micro"])
    ec2 = np.where(ended, hours * 0.0104, allowance(cal, hours, 750.0, 0.0104))
    gb_months = p["micro"] * p["gb"] / cal.dim
    ebs = np.where(ended, gb_months * 0.08, allowance(cal, gb_months, 30.0, 0.08))
    out = p["gb_out"] * ar1_noise(rng, n, 0.3)
    return {"main": ec2 + ebs + allowance(cal, out, 100.0, 0.09)}


def render_jobs(p: Params, cal: Calendar, seed: int, anomalies: Sequence[Anomaly]) -> Out:
    """Scheduled jobs (Glue, Athena, EMR, Batch on spot): each run of each schedule bills units ×
    hours × unit price on the UTC days it overlaps; durations vary run to run and grow with the
    data. Spot prices wander day to day."""
    rng, n = np.random.default_rng(seed), cal.n
    price = np.full(n, float(p["price"]))
    if p.get("spot"):
        price = spot_price(rng, n, p["price"], p["spot"])
        price = np.where(active(anomalies, n, "spot_fallback_on_demand"), p["price"], price)
    parts = [_schedule_runs(cal, p, i, rng) for i in range(len(p["schedules"]))]
    t, d, u, main = (np.concatenate(x) for x in zip(*parts, strict=True))
    for a in anomalies:
        t, d, u, main = _job_fault(cal, p, a, seed, (t, d, u, main))
    day = np.clip(np.floor(t / 24).astype(int), 0, n - 1)
    return {"main": run_usage(n, t, d, u * price[day])}


Runs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _schedule_runs(cal: Calendar, p: Params, i: int, rng: np.random.Generator) -> Runs:
    """UTC starts, durations, units and main-schedule flag of schedule `i`'s runs."""
    s = p["schedules"][i]
    days, hours = cron_days(cal, s["cron"], s["tz"], s.get("anchor", 0), s.get("hour", 3.0))
    spread = np.exp(rng.normal(0.0, s.get("sigma", 0.2), days.size))
    t, src = utc_starts(cal, s["tz"], days, hours, s.get("naive", False))
    d = s["hours"] * spread[src] * np.exp(p.get("growth", 0.0) * days[src] / 365)
    return t, d, np.full(t.size, float(s["units"])), np.full(t.size, i == 0)


def _job_fault(cal: Calendar, p: Params, a: Anomaly, seed: int, runs: Runs) -> Runs:
    """A fault of the main schedule: runs that take `size` times longer (data skew), a run that hangs
    for days (later runs then cannot start: concurrency 1), an EMR cluster not terminated after its
    step, or a cron typo that fires every hour instead of once a day."""
    t, d, u, main = runs
    day = np.floor(t / 24)
    sel = main & (day >= a.start)
    if not sel.any():
        return runs
    first = np.flatnonzero(sel)[np.argmin(t[sel])]
    if a.kind == "job_runs_longer":
        hit = sel & (day < a.start + a.days)
        hit[first] = True
        return t, np.where(hit, d * a.size, d), u, main
    if a.kind in ("job_hang", "emr_cluster_left_running"):
        d = d.copy()
        d[first] += 24.0 * a.days
        keep = ~(main & (t > t[first]) & (t < t[first] + d[first])) | (a.kind != "job_hang")
        return t[keep], d[keep], u[keep], main[keep]
    if a.kind == "cron_hourly_misconfig":
        s = p["schedules"][0]
        win = np.arange(a.start, min(cal.n, a.start + a.days))
        keep = ~(main & (day >= a.start) & (day < a.start + a.days))
        hours = np.tile(np.arange(24.0), win.size)
        new_t = np.repeat(win * 24 - cal.offsets[s["tz"]][win], 24) + hours
        jitter = np.random.default_rng([seed, a.start]).uniform(0.7, 1.3, new_t.size)
        new_d = np.minimum(s["hours"], 1.0) * jitter
        return (
            np.concatenate([t[keep], new_t]),
            np.concatenate([d[keep], new_d]),
            np.concatenate([u[keep], np.full(new_t.size, float(s["units"]))]),
            np.concatenate([main[keep], np.ones(new_t.size, bool)]),
        )
    return runs


RENDERERS: dict[str, Renderer] = {
    "fleet": render_fleet,
    "dev_fleet": render_dev_fleet,
    "lambda": render_lambda,
    "cdn": render_cdn,
    "nat": render_nat,
    "metered": render_metered,
    "s3_lake": render_s3_lake,
    "backups": render_backups,
    "snapshots": render_snapshots,
    "rds": render_rds,
    "dns": render_dns,
    "marketplace": render_marketplace,
    "free_tier": render_free_tier,
    "jobs": render_jobs,
}
