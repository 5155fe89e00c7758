"""An independent world family for the anomaly evaluation (family B): NEVER used to choose a parameter.

Issue #15: a detector tuned and scored on one generator learns that generator. This family is
written separately from the sandbox world and from ``recurrence_traps`` (family A), with other
shapes and noise, and is only ever *measured*: no threshold, window or model setting of the
detector may be chosen by looking at its figures (choose on family A's tuning seeds, 11-15).

What differs from family A:

- noise is multiplicative and log-normal, with Student-t (3 degrees of freedom) heavy tails and an
  AR(1) level that wanders for weeks (phi 0.6-0.95), not additive Gaussian;
- weekly profiles are per-weekday (Mondays busier, Fridays lighter), with a yearly swing;
- recurring patterns are placed differently: fees on the n-th business day, month-end batch over
  the last business days, credits proportional to the month's usage, Friday jobs every two weeks,
  quarterly jobs in the first week of a quarter, annual renewals on an anniversary, a Christmas to
  New Year shutdown plus Easter and Thanksgiving, bursts in clusters, sigmoid ramps, price steps on
  any day;
- anomaly kinds include ones riding on the patterns: ``batch_blowup`` (a month-end batch at several
  times its size), ``fee_doubled``, ``weekend_leak`` (a business-day series left running over a
  weekend), ``runaway`` (compounding growth for days), ``outage`` (a sustained fall), ``spike``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries

PATTERNS: tuple[str, ...] = (
    "nth_business_day_fee",
    "usage_credit",
    "month_end_batch",
    "biweekly_job",
    "quarterly_job",
    "annual_charge",
    "holiday_dip",
    "bursty",
    "slow_ramp",
    "price_change",
    "business_days_only",
)


def _easter(year: int) -> dt.date:
    """Anonymous Gregorian computus."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month = (h + ll - 7 * m + 114) // 31
    day = (h + ll - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def _shutdown_days(dates: list[dt.date]) -> np.ndarray:
    """Christmas to New Year, Good Friday, Easter Monday, Thanksgiving Thursday and Friday."""
    out = np.zeros(len(dates), dtype=bool)
    for i, d in enumerate(dates):
        easter = _easter(d.year)
        thanks = dt.date(d.year, 11, 1) + dt.timedelta((3 - dt.date(d.year, 11, 1).weekday()) % 7 + 21)
        out[i] = (
            (d.month == 12 and d.day >= 24)
            or (d.month == 1 and d.day == 1)
            or d in (easter - dt.timedelta(2), easter + dt.timedelta(1), thanks, thanks + dt.timedelta(1))
        )
    return out


def _business_ordinals(dates: list[dt.date]) -> tuple[np.ndarray, np.ndarray]:
    """Per day: its business-day number in its month (1-based, 0 on weekends) and from the end."""
    fwd, back = np.zeros(len(dates), int), np.zeros(len(dates), int)
    key = [(d.year, d.month) for d in dates]
    for m in sorted(set(key)):
        idx = [i for i, k in enumerate(key) if k == m and dates[i].weekday() < 5]
        for j, i in enumerate(idx):
            fwd[i], back[i] = j + 1, len(idx) - j
    return fwd, back


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplicative: log-normal with t(3) tails and an AR(1) wander."""
    phi, sigma = rng.uniform(0.6, 0.95), rng.uniform(0.01, 0.04)
    shocks = rng.standard_t(3, n) * rng.uniform(0.01, 0.05) * 0.6
    ar = np.zeros(n)
    eps = rng.normal(0, sigma * np.sqrt(1 - phi**2), n)
    for t in range(1, n):
        ar[t] = phi * ar[t - 1] + eps[t]
    return np.exp(ar + np.clip(shocks, -0.4, 0.4))


def _pattern(kind: str, rng: np.random.Generator, dates: list[dt.date], usage: np.ndarray) -> tuple:
    """(cost with the pattern, pattern-day mask, first day the pattern is known)."""
    n = len(dates)
    dom = np.array([d.day for d in dates])
    wd = np.array([d.weekday() for d in dates])
    fwd, back = _business_ordinals(dates)
    cost, on, learn = usage.copy(), np.zeros(n, dtype=bool), 0
    month_of = np.array([(d.year - dates[0].year) * 12 + d.month - dates[0].month for d in dates])
    if kind == "nth_business_day_fee":
        on = fwd == rng.integers(2, 6)
        cost = cost + on * np.median(usage) * rng.uniform(2, 8)
        learn = int(np.flatnonzero(on)[1]) + 1
    elif kind == "usage_credit":
        on = dom == rng.choice([3, 5, 10])
        monthly = np.array([usage[month_of == month_of[i]].sum() for i in range(n)])
        cost = cost - on * monthly * rng.uniform(0.05, 0.15)
        learn = int(np.flatnonzero(on)[1]) + 1
    elif kind == "month_end_batch":
        on = (back >= 1) & (back <= rng.integers(2, 5))
        cost = cost * np.where(on, rng.uniform(2.0, 4.0), 1.0)
        learn = int(np.flatnonzero(on & (month_of == 1)).max()) + 1
    elif kind == "biweekly_job":
        fridays = np.flatnonzero(wd == 4)
        on = np.isin(np.arange(n), fridays[rng.integers(0, 2) :: 2])
        cost = cost + on * np.median(usage) * rng.uniform(1.5, 3.0)
        learn = int(np.flatnonzero(on)[2]) + 1
    elif kind == "quarterly_job":
        on = (fwd == 3) & np.isin(np.array([d.month for d in dates]), [1, 4, 7, 10])
        cost = cost + on * np.median(usage) * rng.uniform(3, 8)
        learn = int(np.flatnonzero(on)[0]) + 1
    elif kind == "annual_charge":
        first = int(rng.integers(2, 25))
        on = np.isin(np.arange(n), [first, first + 365])
        cost = cost + on * np.median(usage) * rng.uniform(8, 30)
        learn = first + 1
    elif kind == "holiday_dip":
        on = _shutdown_days(dates) & (wd < 5)
        cost = cost * np.where(on, rng.uniform(0.25, 0.5), 1.0)
    elif kind == "bursty":
        starts = rng.random(n) < rng.uniform(0.03, 0.06)
        on = starts | np.roll(starts, 1) & (rng.random(n) < 0.5)
        cost = cost * np.where(on, np.exp(rng.normal(0.8, 0.3, n)), 1.0)
        learn = 91
    elif kind == "slow_ramp":
        mid, width = rng.integers(120, n - 90), rng.uniform(15, 35)
        cost = cost * (1 + rng.uniform(0.3, 0.8) / (1 + np.exp(-(np.arange(n) - mid) / width)))
    elif kind == "price_change":
        step = int(rng.integers(70, n - 50))
        cost = cost * np.where(np.arange(n) >= step, 1 + rng.choice([-1, 1]) * rng.uniform(0.03, 0.07), 1.0)
    elif kind == "business_days_only":
        cost = cost * (wd < 5)
    return cost, on, learn


def _inject(kind: str, rng: np.random.Generator, cost: np.ndarray, on: np.ndarray, lo: int, hi: int, wd):
    """An anomaly fitting the series' pattern: (label kind, first day, last day, new cost) or None."""
    typical = float(np.median(cost[cost > 0])) if (cost > 0).any() else 1.0
    on_days = np.flatnonzero(on[lo:hi]) + lo
    out = cost.copy()
    if kind == "month_end_batch" and on_days.size:
        day = int(rng.choice(on_days))
        out[day] = cost[day] * rng.uniform(3, 5)
        return "batch_blowup", day, day, out
    if kind == "nth_business_day_fee" and on_days.size:
        day = int(rng.choice(on_days))
        out[day] = cost[day] * 2.5
        return "fee_doubled", day, day, out
    if kind == "business_days_only":
        sats = np.flatnonzero(wd[lo:hi] == 5) + lo
        day = int(rng.choice(sats))
        out[day : day + 2] = typical * rng.uniform(0.8, 1.0)
        return "weekend_leak", day, day + 1, out
    pick = rng.choice(["spike", "runaway", "outage"])
    if pick == "spike":
        day = int(rng.integers(lo, hi))
        out[day] += typical * rng.uniform(2.5, 6)
        return "spike", day, day, out
    length = int(rng.integers(5, 15))
    day = int(rng.integers(lo, hi - length))
    span = np.arange(length)
    if pick == "runaway":
        out[day : day + length] *= (1 + rng.uniform(0.08, 0.2)) ** (span + 1)
        return "runaway", day, day + length - 1, out
    out[day : day + length] *= rng.uniform(0.1, 0.4)
    return "outage", day, day + length - 1, out


def holdout_family(seed: int, start: dt.date, n_days: int, n_series: int = 240) -> LabelledSeries:
    """``n_series`` series: 40% plain, 60% with a recurring pattern; a third carry one anomaly."""
    rng = np.random.default_rng([seed, 2026, 7])
    dates = [start + dt.timedelta(d) for d in range(n_days)]
    wd = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    frames, labels, traps = [], [], []
    for j in range(n_series):
        kind = "none" if rng.random() < 0.4 else str(rng.choice(PATTERNS))
        sid = f"b{seed}-{j:03d}-{kind}"
        level = float(np.exp(rng.normal(np.log(80), 1.6)))
        profile = np.r_[rng.uniform(1.0, 1.15), np.ones(3), rng.uniform(0.85, 1.0), rng.uniform(0.3, 1.0, 2)]
        season = 1 + rng.uniform(0, 0.15) * np.sin(2 * np.pi * (doy / 365.25 + rng.random()))
        usage = level * profile[wd] * season * _noise(rng, n_days)
        cost, on, learn = _pattern(kind, rng, dates, usage) if kind != "none" else (usage, wd < 0, 0)
        traps.append((sid, kind, dates[max(learn, 28)]))
        if rng.random() < 0.34:
            lo = max(learn, 42)
            a_kind, a0, a1, cost = _inject(kind, rng, cost, on, lo, n_days - 5, wd)
            labels.append((sid, a_kind, dates[a0], dates[a1]))
        frames.append(pl.DataFrame({"series_id": sid, "group": f"g{j // 8}", "date": dates, "cost": cost}))
    return LabelledSeries(
        pl.concat(frames).with_columns(pl.col("date").cast(pl.Date)),
        pl.DataFrame(labels, schema=LABEL_SCHEMA, orient="row"),
        pl.DataFrame(traps, schema=TRAP_SCHEMA, orient="row"),
    )
