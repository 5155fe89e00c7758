"""Family D: daily AWS costs built bottom-up, line item by line item, with labelled anomalies and traps.

Written independently of the other families and of the detector: each series (an account × service)
is the sum of `quantity × unit price` line items whose quantities come from their own processes
(``bottom_up_workloads``): autoscaled integer fleets, traffic-driven counts, storage that accumulates
and is pruned, cron-scheduled jobs, spot prices, flat commitment fees. On top come the charges an
invoice adds: credits, refunds, AWS price reductions, and the monthly support fee and tax posted on the
1st. Anomalies are faults injected into the quantities or prices (a fleet that stops scaling in, a
deleted lifecycle rule, a cron firing hourly, a lapsed Savings Plan, ...). Each series is rendered with
and without each anomaly from the same random draws, so a label spans exactly the days the fault
changed the cost by a material amount, the return to normal included.

Modules (numpy, polars, the standard library and ``labelled`` only): ``bottom_up_calendar`` (holidays,
DST, cron), ``bottom_up_items`` (quantity processes and prices), ``bottom_up_workloads`` (renderers),
``bottom_up_accounts`` (units and their trap patterns), ``bottom_up_profiles`` (what each account runs).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import numpy as np
import polars as pl

from finops_sandbox.anomaly_worlds.bottom_up_accounts import Account, Pattern, Unit, day_windows
from finops_sandbox.anomaly_worlds.bottom_up_calendar import Calendar, build_calendar
from finops_sandbox.anomaly_worlds.bottom_up_items import Anomaly, active, tier_integral
from finops_sandbox.anomaly_worlds.bottom_up_profiles import plan_world
from finops_sandbox.anomaly_worlds.bottom_up_workloads import RENDERERS, SP_DISCOUNT
from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries

SALT = 0xB0770D  # family D's stream: a seed here never reproduces another family's draws
FIRST_SCORED_DAY = 46
# kind -> (min days, max days, min size, max size): how long a fault lasts before it is fixed, and its
# size (a multiplier of the quantity or price it distorts; for an outage, the share left running).
KINDS: dict[str, tuple[int, int, float, float]] = {
    "fleet_stuck_at_peak": (5, 25, 1.0, 1.0),
    "instance_type_upsized": (7, 40, 2.0, 4.0),
    "scraper_traffic_surge": (2, 14, 1.6, 5.0),
    "region_outage_drop": (1, 4, 0.05, 0.5),
    "load_test_left_running": (4, 20, 0.3, 1.5),
    "savings_plan_lapse": (10, 45, 1.0, 1.0),
    "dev_scheduler_disabled": (5, 25, 1.0, 1.0),
    "runaway_lambda_recursion": (1, 3, 20.0, 300.0),
    "lambda_timeout_regression": (2, 10, 3.0, 30.0),
    "ddos_traffic_surge": (1, 7, 3.0, 15.0),
    "nat_traffic_misrouted": (7, 40, 2.0, 8.0),
    "debug_logging_left_on": (5, 30, 2.0, 10.0),
    "config_recorder_churn": (3, 20, 3.0, 20.0),
    "lifecycle_rule_deleted": (25, 70, 1.0, 1.0),
    "backup_pruning_stopped": (14, 50, 1.0, 1.0),
    "backup_full_daily_misconfig": (5, 20, 1.0, 1.0),
    "snapshot_cleanup_broken": (14, 60, 1.0, 1.0),
    "job_hang": (1, 5, 1.0, 1.0),
    "cron_hourly_misconfig": (2, 12, 1.0, 1.0),
    "job_runs_longer": (1, 8, 3.0, 8.0),
    "spot_fallback_on_demand": (5, 20, 1.0, 1.0),
    "emr_cluster_left_running": (2, 10, 1.0, 1.0),
    "db_left_upsized": (10, 60, 2.0, 4.0),
    "read_replica_left_running": (10, 40, 1.3, 2.0),
    "credit_not_applied": (10, 31, 1.0, 1.0),
}
# Faults only some units can have, drawn more often there so that each shows up in a world.
RARE_KINDS = {
    "savings_plan_lapse": 3.0,
    "credit_not_applied": 3.0,
    "spot_fallback_on_demand": 2.0,
    "emr_cluster_left_running": 2.0,
    "fleet_stuck_at_peak": 2.0,
    "read_replica_left_running": 1.5,
}
# Which planned behaviour names a series' trap when it has several: the designed one first.
TRAP_PRIORITY = (
    "promotional_credits_exhausted",
    "ri_expired",
    "free_tier_ended",
    "launch_ramp",
    "decommissioned",
    "aws_price_reduction",
    "refund_posted",
    "black_friday_cyber_monday",
    "singles_day",
    "quarter_end_reporting",
    "dst_cron_shift",
    "month_end_reporting",
    "first_monday_job",
    "mid_and_month_end_runs",
    "biweekly_recompute",
    "marketplace_subscription",
    "domain_renewal",
    "monthly_support_fee",
    "monthly_tax",
    "monthly_free_tier_allowance",
    "monthly_volume_tiers",
    "monthly_backup_sawtooth",
    "monthly_log_sawtooth",
    "weekly_backup_sawtooth",
    "office_hours_schedule",
    "weekday_batch_schedule",
    "hosted_zone_monthly",
    "regional_holidays",
)
Found = tuple[Anomaly, dict[str, tuple[int, int]]]


def render_unit(u: Unit, cal: Calendar, anomalies: Sequence[Anomaly] = ()) -> dict[str, np.ndarray]:
    """A unit's daily costs: its renderer's line items, then the invoice's adjustments to its main
    series: an AWS price reduction from its effective date, migration credits refunding a share of
    usage (unless they fail to post), promotional credits drawn down until the pool is spent."""
    out = dict(RENDERERS[u.kind](u.p, cal, u.seed, anomalies))
    main = out["main"].copy()
    if "price_cut" in u.mods:
        day, f = u.mods["price_cut"]
        main[day:] *= f
    if "credit" in u.mods:
        main *= 1 - u.mods["credit"] * ~active(anomalies, cal.n, "credit_not_applied")
    if "promo_pool" in u.mods:
        main -= np.diff(np.minimum(np.cumsum(main), u.mods["promo_pool"]), prepend=0.0)
    main[: u.first_day] = 0.0
    out["main"] = np.maximum(main, 0.0)
    return out


def _prepare(u: Unit, cal: Calendar) -> None:
    """Size what depends on usage: a Savings Plan commitment (`cover` of the usage of the quietest
    days of the first eight weeks, as AWS's recommendation would), and a promotional credit pool that
    runs out halfway through its planned day."""
    if u.p.get("sp_cover") and "sp" not in u.p:
        base = RENDERERS[u.kind](u.p | {"sp": 0.0}, cal, u.seed, ())["main"]
        low = np.percentile(base[u.first_day : u.first_day + 56], 5) / 24
        u.p["sp"] = round(max(0.01, u.p["sp_cover"] * low * (1 - SP_DISCOUNT)), 2)
    if "promo_day" in u.mods:
        gross = render_unit(u, cal)["main"]
        day = u.mods["promo_day"]
        u.mods["promo_pool"] = float(np.cumsum(gross)[day] - 0.5 * gross[day])


def _learn_until(patterns: Sequence[Pattern], first_day: int, n: int) -> int | None:
    """The latest day from which the patterns are learnable, within the series' days."""
    days = [d for q in patterns if (d := q.learn_until()) is not None]
    return int(np.clip(max(days), first_day, n - 1)) if days else None


def _effect(
    clean: np.ndarray, dirty: np.ndarray, start: int, first_day: int
) -> tuple[int, int, float] | None:
    """Days the fault moved the cost by over 5% of the series' level (its mean over the four weeks
    before), and its mean size over them relative to that level."""
    diff = dirty - clean
    ref = clean[max(first_day, start - 28) : start]
    level = (
        ref.mean() if ref.size and ref.mean() > 0 else (clean[clean > 0].mean() if (clean > 0).any() else 0.0)
    )
    hit = np.flatnonzero(np.abs(diff) > 0.05 * level) if level > 0 else np.array([], int)
    if not hit.size:
        return None
    s, e = int(hit[0]), int(hit[-1])
    return s, e, float(np.abs(diff[s : e + 1]).mean() / level)


def _enlarge(a: Anomaly) -> Anomaly:
    """The same fault, bigger and longer: tried when a draw was too small to be material."""
    size = a.size * 0.5 if a.kind == "region_outage_drop" else 1 + (a.size - 1) * 1.6
    return Anomaly(a.kind, a.start, min(int(a.days * 1.4) + 1, 2 * KINDS[a.kind][1]), size)


def _blocked(u: Unit) -> list[tuple[int, int]]:
    """Windows of a unit's rare planned behaviours, kept clear of anomalies so neither hides the other."""
    return [w for q in u.patterns if q.cadence in ("quarterly", "annual", "oneoff") for w in q.windows]


def _try_anomaly(
    rng: np.random.Generator, cal: Calendar, u: Unit, clean: dict[str, np.ndarray], lo: int
) -> Found | None:
    """Draw a fault the unit can suffer, after `lo`, clear of its rare patterns; keep it if it is
    material: over 20% of the level on average over its days (50% if it lasts under five days)."""
    blocked = _blocked(u)
    for _ in range(6):
        weights = np.array([RARE_KINDS.get(k, 1.0) for k in u.kinds])
        kind = str(rng.choice(u.kinds, p=weights / weights.sum()))
        dmin, dmax, smin, smax = KINDS[kind]
        days = int(rng.integers(dmin, dmax + 1))
        hi = cal.n - 3 - min(days, 10)
        if lo >= hi:
            return None
        start = int(rng.integers(lo, hi))
        if any(s - days - 3 <= start <= e + 3 for s, e in blocked):
            continue
        size = float(np.exp(rng.uniform(np.log(smin), np.log(smax))))
        a = Anomaly(kind, start, days, size)
        for _ in range(3):
            dirty = render_unit(u, cal, [a])
            eff = {o: _effect(clean[o], dirty[o], a.start, u.first_day) for o in clean}
            main = eff["main"]
            if main is not None and main[2] >= (0.5 if main[1] - main[0] < 4 else 0.2):
                return a, {o: (v[0], v[1]) for o, v in eff.items() if v is not None and v[2] >= 0.2}
            a = _enlarge(a)
    return None


def _choose_anomalies(
    rng: np.random.Generator, cal: Calendar, units: list[Unit], clean: list[dict[str, np.ndarray]],
    learn: list[int | None], n_series: int,
) -> dict[int, list[Found]]:  # fmt: skip
    """Faults for units in random order until about 40% of all series carry a label: after day 45 and
    after the series' behaviour is learnable; a second fault on some, three weeks after the first."""
    target = round(rng.uniform(0.34, 0.37) * n_series)
    labelled: set[str] = set()
    chosen: dict[int, list[Found]] = {}
    for i in rng.permutation(len(units)):
        u = units[int(i)]
        if len(labelled) >= target:
            break
        if not u.kinds:
            continue
        lo = max(FIRST_SCORED_DAY, (learn[i] or 0) + 1, u.first_day + 30)
        found: list[Found] = []
        for _ in range(2 if rng.random() < 0.22 else 1):
            got = _try_anomaly(rng, cal, u, clean[i], lo)
            if got is None:
                break
            found.append(got)
            lo = max(e for _, e in got[1].values()) + 21
        if found:
            chosen[int(i)] = found
            labelled |= {u.sid(o) for _, w in found for o in w}
    return chosen


def _refunds(rng: np.random.Generator, cal: Calendar, units: list[Unit], costs: list[dict[str, np.ndarray]],
             skip: set[int]) -> None:  # fmt: skip
    """Refunds posted on a few otherwise plain series (a billing error corrected, an SLA credit): a
    one-off negative line that wipes out a day or two of charges."""
    n = cal.n
    for i, u in enumerate(units):
        main = costs[i]["main"]
        if i in skip or u.patterns or main.mean() < 5 or rng.random() > 0.06 or n < 90:
            continue
        day = int(rng.integers(max(60, u.first_day + 30), n - 10))
        main[day] = max(0.0, main[day] - rng.uniform(1.0, 2.5) * np.median(main[u.first_day :]))
        u.patterns.append(Pattern("refund_posted", "oneoff", ((day, day),)))


def _prev_month_spend(cal: Calendar, daily: np.ndarray, estimate: float) -> np.ndarray:
    """Per day, the spend of the previous calendar month (days before the range at `estimate` a day)."""
    mid = cal.month_id
    base = int(mid.min())
    sums = np.bincount(mid - base, weights=daily, minlength=int(mid.max()) - base + 1)
    seen = np.bincount(mid - base, minlength=sums.size)
    prev = mid - base - 1
    y, m = divmod(mid - 1, 12)
    prev_len = np.array(
        [(datetime.date(a, b + 1, 1) - datetime.timedelta(days=1)).day for a, b in zip(y, m, strict=True)]
    )
    got = np.where(prev >= 0, sums[np.maximum(prev, 0)], 0.0)
    have = np.where(prev >= 0, seen[np.maximum(prev, 0)], 0)
    return got + (prev_len - have) * estimate


def _support_fee(spend: np.ndarray, plan: str) -> np.ndarray:
    """AWS Support: Business is the greater of $100 and 10% of the first $10K of monthly spend, 7% to
    $80K, 5% to $250K, 3% above; Developer the greater of $29 and 3%."""
    if plan == "developer":
        return np.maximum(29.0, 0.03 * spend)
    return np.maximum(100.0, tier_integral(spend, [1e4, 8e4, 2.5e5, float("inf")], [0.10, 0.07, 0.05, 0.03]))


def _monthly_charges(
    cal: Calendar, acct: Account, clean: np.ndarray, dirty: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """The support fee and the tax, both posted on the 1st on the previous month's charges (tax on the
    support fee too), for the account's clean and faulted spend."""
    first = cal.dom == 1
    est = clean[:28].mean()
    out: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    totals = [clean, dirty]
    if acct.support:
        fees = [
            np.where(first, _support_fee(_prev_month_spend(cal, t, est), acct.support), 0.0) for t in totals
        ]
        out[f"{acct.name}/AWSSupport/{acct.support}"] = (fees[0], fees[1], "support_fee_follows_spike")
        totals = [t + f for t, f in zip(totals, fees, strict=True)]
    if acct.tax:
        taxes = [np.where(first, acct.tax * _prev_month_spend(cal, t, est), 0.0) for t in totals]
        label = "vat" if acct.country in ("GB", "DE") else "sales-tax"
        out[f"{acct.name}/Tax/{label}"] = (taxes[0], taxes[1], "tax_follows_spike")
    return out


def _label(sid: str, kind: str, start: datetime.date, end: datetime.date) -> dict:
    """A LABEL_SCHEMA row."""
    return {"series_id": sid, "kind": kind, "start_date": start, "end_date": end}


def _trap_rows(cal: Calendar, sid: str, patterns: Sequence[Pattern], first_day: int) -> list[dict]:
    """The TRAP_SCHEMA row of a series: its designed behaviour by TRAP_PRIORITY, and learn_until."""
    shown = [q for q in patterns if q.windows]
    until = _learn_until(shown, first_day, cal.n)
    if until is None:
        return []
    rank = {name: k for k, name in enumerate(TRAP_PRIORITY)}
    main = min(shown, key=lambda q: rank.get(q.trap, len(rank)))
    return [{"series_id": sid, "trap": main.trap, "learn_until": cal.date(until)}]


def bottom_up_family(seed: int, start: datetime.date, n_days: int) -> LabelledSeries:
    """About 200 bottom-up series over ~25 accounts from `start` for `n_days` days, deterministic per seed."""
    cal = build_calendar(start, n_days)
    rng = np.random.default_rng([seed, SALT])
    accounts, units = plan_world(rng, cal)
    for u in units:
        _prepare(u, cal)
    clean = [render_unit(u, cal) for u in units]
    learn = [_learn_until(u.patterns, u.first_day, cal.n) for u in units]
    n_series = sum(len(u.outputs) for u in units) + sum(bool(a.support) + bool(a.tax) for a in accounts)
    chosen = _choose_anomalies(rng, cal, units, clean, learn, n_series)
    final = [
        render_unit(u, cal, [a for a, _ in chosen[i]]) if i in chosen else clean[i]
        for i, u in enumerate(units)
    ]
    _refunds(rng, cal, units, final, set(chosen))
    clean = [final[i] if i not in chosen else c for i, c in enumerate(clean)]  # refunds: planned, in both
    return _assemble(cal, accounts, units, clean, final, chosen)


Costs = list[dict[str, np.ndarray]]


def _assemble(
    cal: Calendar,
    accounts: list[Account],
    units: list[Unit],
    clean: Costs,
    final: Costs,
    chosen: dict[int, list[Found]],
) -> LabelledSeries:
    """Frames: one row per series and day from its first day; labels from the faults' windows and
    from monthly charges that followed them; one trap row per series with planned behaviour."""
    series: list[tuple[str, str, int, np.ndarray]] = []
    labels: list[dict] = []
    traps: list[dict] = []
    for i, u in enumerate(units):
        for o in u.outputs:
            series.append((u.sid(o), u.account, u.first_day, final[i][o]))
        traps += _trap_rows(cal, u.sid(), u.patterns, u.first_day)
        for a, windows in chosen.get(i, []):
            labels += [_label(u.sid(o), a.kind, cal.date(s), cal.date(e)) for o, (s, e) in windows.items()]
    for acct in accounts:
        mine = [i for i, u in enumerate(units) if u.account == acct.name]
        tot = [
            sum((c[i][o] for i in mine for o in units[i].outputs), np.zeros(cal.n)) for c in (clean, final)
        ]
        for sid, (c, f, kind) in _monthly_charges(cal, acct, tot[0], tot[1]).items():
            series.append((sid, acct.name, 0, f))
            trap = "monthly_support_fee" if "AWSSupport" in sid else "monthly_tax"
            pattern = Pattern(trap, "monthly", day_windows(cal.dom == 1))
            traps += _trap_rows(cal, sid, [pattern], 0)
            known = _learn_until([pattern], 0, cal.n) or 0
            jumps = np.flatnonzero((c > 0) & (np.abs(f - c) > 0.4 * c) & (np.arange(cal.n) >= known))
            labels += [_label(sid, kind, cal.date(d), cal.date(d)) for d in jumps]
    days = np.datetime64(cal.start, "D") + np.arange(cal.n)
    frame = pl.DataFrame(
        {
            "series_id": np.concatenate([np.full(cal.n - f0, sid, dtype=object) for sid, _, f0, _ in series]),
            "group": np.concatenate([np.full(cal.n - f0, g, dtype=object) for _, g, f0, _ in series]),
            "date": np.concatenate([days[f0:] for _, _, f0, _ in series]),
            "cost": np.concatenate([c[f0:] for _, _, f0, c in series]).astype(np.float64),
        },
        schema={"series_id": pl.Utf8, "group": pl.Utf8, "date": pl.Date, "cost": pl.Float64},
    )
    return LabelledSeries(
        series=frame,
        labels=pl.DataFrame(labels, schema=LABEL_SCHEMA).sort("series_id", "start_date"),
        traps=pl.DataFrame(traps, schema=TRAP_SCHEMA).sort("series_id"),
    )
