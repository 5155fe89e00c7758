"""Quantity processes and prices from which the bottom-up family builds its line items.

An AWS bill line is `quantity × unit price`, and every quantity has its own mechanics: instance-hours
come from an integer fleet an autoscaler moves with demand; requests and bytes are counts driven by
traffic; stored GB accumulate and are pruned; job hours come from schedules; prices are tiered per
calendar month, prorated over the month's length, or (spot) wander. This module holds those mechanics;
``bottom_up_workloads`` composes them into services. Imports numpy and the family's calendar only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from finops_sandbox.anomaly_worlds.bottom_up_calendar import Calendar, christmas_lull, nth_weekday

Params = dict[str, Any]
INF = float("inf")
# CloudFront (North America / Europe) data transfer out, per GB, by cumulative GB in the month.
CLOUDFRONT_TIERS = ([10_240.0, 51_200.0, 153_600.0, 512_000.0, INF], [0.085, 0.080, 0.060, 0.040, 0.030])
# API Gateway REST requests, per request, by cumulative requests in the month.
APIGW_TIERS = ([333e6, 1e9, 20e9, INF], [3.5e-6, 2.8e-6, 2.38e-6, 1.51e-6])


@dataclass(frozen=True)
class Anomaly:
    """An injected fault: what happened, the day it is set off, how many days until it is fixed, and
    a kind-specific size (mostly a multiplier of the quantity or price it distorts)."""

    kind: str
    start: int
    days: int
    size: float

    def mask(self, n: int) -> np.ndarray:
        """Days (of `n`) on which the fault is in force."""
        m = np.zeros(n, bool)
        m[self.start : min(n, self.start + self.days)] = True
        return m


def of_kind(anomalies: Sequence[Anomaly], *kinds: str) -> list[Anomaly]:
    """The anomalies of `kinds`."""
    return [a for a in anomalies if a.kind in kinds]


def factor(anomalies: Sequence[Anomaly], n: int, *kinds: str) -> np.ndarray:
    """Per-day product of the sizes of the anomalies of `kinds` in force (1 elsewhere)."""
    f = np.ones(n)
    for a in of_kind(anomalies, *kinds):
        f[a.mask(n)] *= a.size
    return f


def active(anomalies: Sequence[Anomaly], n: int, *kinds: str) -> np.ndarray:
    """Days on which an anomaly of `kinds` is in force."""
    m = np.zeros(n, bool)
    for a in of_kind(anomalies, *kinds):
        m |= a.mask(n)
    return m


def ar1_noise(rng: np.random.Generator, n: int, sigma: float, phi: float = 0.7) -> np.ndarray:
    """Multiplicative day-to-day wander of demand (log-AR(1), mean 1): busy days cluster, because the
    campaigns, releases and news that move traffic last several days."""
    kern = phi ** np.arange(60)
    eps = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), n + 60)
    x = np.convolve(eps, kern)[60 : 60 + n]
    return np.exp(x - sigma**2 / 2)


def shopping_multiplier(cal: Calendar, event: str, size: float) -> np.ndarray:
    """Traffic of an e-commerce storefront around its yearly peak, by local date.

    Black Friday (the day after US Thanksgiving) builds over the week before, peaks on the Friday,
    stays high over the weekend and peaks again on Cyber Monday; Singles' Day (11 November) has
    pre-sales in the days before and a one-day peak. Both recur every year on known dates.
    """
    m = np.ones(cal.n)
    for y in range(int(cal.year.min()), int(cal.year.max()) + 1):
        if event == "black_friday":
            anchor = nth_weekday(y, 11, 3, 4)
            shape = {k: 1.15 for k in range(-7, 0)} | {0: 1.5, 1: size, 2: 0.7 * size, 3: 0.6 * size}
            shape |= {4: 0.9 * size, 5: 1.3, 6: 1.15}
        elif event == "singles_day":
            anchor = anchor_date(y, 11, 11)
            shape = {k: 1.1 for k in range(-10, -1)} | {-1: 1.6, 0: size, 1: 1.4}
        else:
            return m
        for off, f in shape.items():
            i = cal.index(anchor) + off
            if 0 <= i < cal.n:
                m[i] = f
    return m


def anchor_date(year: int, month: int, day: int) -> dt.date:
    """A date, with 29 February falling back to the 28th in common years (anniversaries, renewals)."""
    return dt.date(year, month, 28 if (month, day) == (2, 29) and year % 4 else day)


def demand_profile(cal: Calendar, p: Params, noise: np.ndarray) -> np.ndarray:
    """Daily demand index of a workload's users by local date: weekend and holiday levels of its
    market, the Christmas lull, shopping peaks, growth, launch/decommission envelope, and noise."""
    weekly = np.where(cal.dow >= 5, p["weekend"], 1.0)
    hol = np.where(cal.holidays[p["country"]], p.get("holiday", 1.0), 1.0)
    lull = np.where(christmas_lull(cal), p.get("lull", 1.0), 1.0)
    event = shopping_multiplier(cal, p.get("event", ""), p.get("event_size", 1.0))
    trend = np.exp(p.get("growth", 0.0) * np.arange(cal.n) / 365)
    return p["env"] * weekly * hol * lull * event * trend * noise


def diurnal(local_hour: np.ndarray, curve: str, floor: float) -> np.ndarray:
    """Hour-of-day demand: office use peaks mid-afternoon, consumer use in the evening."""
    peak = 14.0 if curve == "business" else 20.5
    shape = 0.5 * (1 + np.cos(2 * np.pi * (local_hour - peak) / 24))
    return floor + (1 - floor) * (shape**2 if curve == "business" else shape)


def autoscale(desired: np.ndarray, lo: np.ndarray | float, hi: float, cooldown: int) -> np.ndarray:
    """Fleet size of an auto-scaling group: it scales out at once, scales in only after demand has stayed
    lower for `cooldown` hours, and stays within its min and max sizes (an integer, so cost moves in
    instance-sized steps)."""
    x = np.clip(desired, lo, hi)
    pad = np.concatenate([np.full(cooldown - 1, x[0]), x])
    return np.lib.stride_tricks.sliding_window_view(pad, cooldown).max(axis=1)


def counts(mean: np.ndarray, gamma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Overdispersed (negative-binomial-like) daily counts from pre-drawn gamma and normal noise, so a
    changed mean never changes the random stream."""
    lam = mean * gamma
    return np.maximum(0.0, np.round(lam + np.sqrt(lam) * z))


def tier_integral(x: np.ndarray, bounds: Sequence[float], prices: Sequence[float]) -> np.ndarray:
    """Cost of the first `x` units of a month under cumulative tiers (bounds are tier tops)."""
    hi = np.asarray(bounds, float)
    lo = np.concatenate([[0.0], hi[:-1]])
    return (np.clip(x[:, None] - lo, 0.0, hi - lo) * np.asarray(prices)).sum(axis=1)


def monthly_tiered(
    cal: Calendar, qty: np.ndarray, bounds: Sequence[float], prices: Sequence[float]
) -> np.ndarray:
    """Daily cost of quantities priced by cumulative monthly tiers (data transfer, API requests, free
    tier allowances): the unit price falls as the month's volume crosses tiers and resets on the 1st.
    Usage of the range's first month before its first day is taken at the first week's rate."""
    mid = cal.month_id
    new = np.concatenate([[True], mid[1:] != mid[:-1]])
    grp = np.cumsum(new) - 1
    cum = np.cumsum(qty)
    end = cum - (cum - qty)[np.flatnonzero(new)][grp]
    end = end + np.where(grp == 0, (cal.dom[0] - 1) * qty[:7].mean(), 0.0)
    return tier_integral(end, bounds, prices) - tier_integral(end - qty, bounds, prices)


def allowance(cal: Calendar, qty: np.ndarray, free: float, price: float) -> np.ndarray:
    """Daily cost of a metered quantity with a monthly free allowance used up from the 1st."""
    return monthly_tiered(cal, qty, [free, INF], [0.0, price]) if free else qty * price


def run_usage(n: int, starts: np.ndarray, hours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Daily cost of job runs (UTC start hour, duration, cost per hour) spread over the UTC days each
    run overlaps: a run started at 23:00 bills mostly the next day."""
    edges = 24.0 * np.arange(n + 1)
    f = (np.clip(edges[:, None] - starts[None, :], 0.0, hours[None, :]) * weights[None, :]).sum(axis=1)
    return np.diff(f)


def spot_price(rng: np.random.Generator, n: int, on_demand: float, share: float) -> np.ndarray:
    """Daily EC2 spot price: mean-reverting around a share of on-demand, with capacity crunches that
    lift it for a few days, and never above on-demand (the spot pricing model since 2017)."""
    wander = ar1_noise(rng, n, 0.12, 0.93)
    jumps = np.where(rng.random(n) < 0.012, rng.uniform(0.3, 0.9, n), 0.0)
    crunch = np.convolve(jumps, 0.6 ** np.arange(10))[:n]
    return np.minimum(on_demand, on_demand * share * wander * np.exp(crunch))


def extended_days(cal: Calendar, before: int) -> tuple[np.ndarray, np.ndarray]:
    """Weekday and day of month of the range preceded by `before` days of history: stored data at
    the range's start is what earlier days left behind."""
    days = np.datetime64(cal.start, "D") + np.arange(-before, cal.n)
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    return (days.astype(int) + 3) % 7, dom


def window_sum(cum: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """Sum of a daily quantity over extended days [lo, hi), from its cumulative sum with a leading 0."""
    m = cum.size - 1
    return cum[np.clip(hi, 0, m)] - cum[np.clip(lo, 0, m)]


def next_true(mask: np.ndarray) -> np.ndarray:
    """For each index x (and one past the end), the first index >= x where `mask` holds (or len)."""
    m = mask.size
    idx = np.where(mask, np.arange(m), m)
    return np.concatenate([np.minimum.accumulate(idx[::-1])[::-1], [m]])
