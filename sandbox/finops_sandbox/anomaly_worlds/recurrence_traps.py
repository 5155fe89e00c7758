"""Recurring patterns real bills have and the sandbox world lacks, as extra labelled series (family A).

Issue #15: the sandbox world's series have weekly seasonality and month-start / month-end charges
only, so a detector tuned and evaluated on it meets month-end batch jobs, monthly fees on the 15th
or bi-weekly jobs for the first time in production. This module generates, next to a sandbox
world's series (it never changes the world's ledger, which tests and the demo reconcile), series
that each carry one recurring *trap* — a pattern that is not an anomaly:

monthly_charge, monthly_credit, month_end_batch, month_start_batch, business_days_only,
biweekly_job, quarterly_job, annual_charge, holiday_dip, bursty, slow_ramp, price_change,
month_end_business_batch, business_day_job, year_end_shutdown (and ``plain``: no pattern)

and, on half of them, one labelled anomaly riding on the pattern (``spike``, ``level_shift``,
``drop``, or ``pattern_break``: the recurring charge at several times its usual size).

Since the realism pass of issue #15 the series are also shaped as real bills are: weekdays differ a
little, the noise is multiplicative and in two thirds of the series heavy-tailed and wandering
(``_noise`` says why), and three more traps run on business days or the year-end shutdown
(month_end_business_batch, business_day_job, year_end_shutdown; business_days_only may be off on
holidays too) beside ``plain`` series with no pattern. This is still the family the detector's
parameters may be chosen on (seeds 11-15; seeds 1-5 held out). ``learn_until`` says
from which day a pattern has occurred often enough to be learnt (twice for monthly patterns, once
for quarterly and annual ones); events before it are not scored.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from finops_sandbox.anomaly_worlds.labelled import LABEL_SCHEMA, TRAP_SCHEMA, LabelledSeries

TRAP_KINDS: tuple[str, ...] = (
    "monthly_charge",
    "monthly_credit",
    "month_end_batch",
    "month_start_batch",
    "business_days_only",
    "biweekly_job",
    "quarterly_job",
    "annual_charge",
    "holiday_dip",
    "bursty",
    "slow_ramp",
    "price_change",
    "month_end_business_batch",
    "business_day_job",
    "year_end_shutdown",
    "plain",
    # Appended (so the series above stay as they were for a seed): see _regional_shape.
    "regional_business_days",
    "regional_business_day_job",
    "month_end_batch_varying",
    "clustered_bursts",
    "monthly_charge_varying",
)
REGIONAL_KINDS = TRAP_KINDS[-5:]


def us_holidays(years: range) -> set[dt.date]:
    """US federal holidays plus Christmas Eve, the day after Thanksgiving and New Year's Eve."""
    out: set[dt.date] = set()
    for y in years:

        def nth(month: int, weekday: int, n: int, y: int = y) -> dt.date:
            first = dt.date(y, month, 1)
            return first + dt.timedelta((weekday - first.weekday()) % 7 + 7 * (n - 1))

        last_may = dt.date(y, 5, 31) - dt.timedelta((dt.date(y, 5, 31).weekday() - 0) % 7)
        thanksgiving = nth(11, 3, 4)
        out |= {dt.date(y, 1, 1), nth(1, 0, 3), nth(2, 0, 3), last_may, dt.date(y, 6, 19), dt.date(y, 7, 4)}
        out |= {nth(9, 0, 1), thanksgiving, thanksgiving + dt.timedelta(1)}
        out |= {dt.date(y, 12, 24), dt.date(y, 12, 25), dt.date(y, 12, 31)}
    return out


def _easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month, day = divmod(h + ll - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def regional_holidays(country: str, years: range) -> set[dt.date]:
    """Public holidays of an organisation outside the US: England and Wales bank holidays (with the
    Monday substitutes of a weekend Christmas, Boxing Day or New Year's Day, gov.uk/bank-holidays) or
    Germany's nationwide ones. Organisations follow their own country's calendar, so a detector's
    single holiday list is wrong for some of them."""
    out: set[dt.date] = set()
    for y in years:
        easter = _easter_sunday(y)
        good_friday, easter_monday = easter - dt.timedelta(2), easter + dt.timedelta(1)
        if country == "de":
            fixed = {dt.date(y, m, d) for m, d in ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))}
            out |= fixed | {good_friday, easter_monday, easter + dt.timedelta(39), easter + dt.timedelta(50)}
            continue
        may1 = dt.date(y, 5, 1)
        early_may = may1 + dt.timedelta((0 - may1.weekday()) % 7)
        spring = dt.date(y, 5, 31) - dt.timedelta(dt.date(y, 5, 31).weekday())
        summer = dt.date(y, 8, 31) - dt.timedelta(dt.date(y, 8, 31).weekday())
        out |= {good_friday, easter_monday, early_may, spring, summer}
        for day in (dt.date(y, 1, 1), dt.date(y, 12, 25), dt.date(y, 12, 26)):
            while day.weekday() >= 5 or day in out:  # substitute day: the next free weekday
                day += dt.timedelta(1)
            out.add(day)
    return out


def _days(start: dt.date, n: int) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(start) + n)


def _calendar(dates: np.ndarray) -> dict[str, np.ndarray]:
    months = dates.astype("datetime64[M]")
    dom = (dates - months.astype("datetime64[D]")).astype(int) + 1
    from_end = ((months + 1).astype("datetime64[D]") - dates).astype(int) - 1
    weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
    month_index = (months - months[0]).astype(int)
    years = range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1)
    holiday = np.isin(dates, np.array(sorted(us_holidays(years)), dtype="datetime64[D]"))
    business = (weekday < 5) & ~holiday
    bday, bday_back = np.zeros(dates.size, int), np.zeros(dates.size, int)
    for m in np.unique(month_index):
        cols = np.flatnonzero((month_index == m) & business)
        bday[cols], bday_back[cols] = np.arange(1, cols.size + 1), np.arange(cols.size, 0, -1)
    return {
        "dom": dom,
        "from_end": from_end,
        "weekday": weekday,
        "month": month_index,
        "holiday": holiday,
        "bday": bday,
        "bday_back": bday_back,
    }


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """A series' multiplicative day-to-day noise, one of three models real bills show.

    Why not only the sandbox's small Gaussian: usage-priced costs (requests, data transfer, Lambda,
    autoscaled compute) follow traffic, so their noise is proportional to the level (multiplicative),
    traffic has heavy-tailed days (a campaign, a retry storm, a crawler), and the level wanders for
    weeks as traffic and fleet sizes change (AWS's own Cost Anomaly Detection models trend and
    seasonality per monitor for that reason). A third of the series each: additive-like Gaussian
    (1-5%), log-normal with Student-t(4) innovations (3-10%), and the latter on an AR(1) log-level
    wander (stationary spread 3-8%, a correlation time of 10-50 days)."""
    model = int(rng.integers(0, 3))
    if model == 0:
        return 1 + rng.uniform(0.01, 0.05) * rng.standard_normal(n)
    sigma = rng.uniform(0.03, 0.10)
    log_noise = sigma * rng.standard_t(4, n) / np.sqrt(2.0)  # t(4) has variance 2
    if model == 2:
        phi = 1.0 - 1.0 / rng.uniform(10, 50)
        steps = rng.uniform(0.03, 0.08) * np.sqrt(1 - phi**2) * rng.standard_normal(n)
        wander = np.zeros(n)
        for t in range(1, n):
            wander[t] = phi * wander[t - 1] + steps[t]
        log_noise = log_noise + wander
    return np.exp(log_noise)


def _trap_shape(kind: str, rng: np.random.Generator, dates: np.ndarray, level: float) -> tuple:
    """(additive extra, multiplier, pattern-day mask, days needed before the pattern is learnt)."""
    if kind in REGIONAL_KINDS:
        return _regional_shape(kind, rng, dates, level)
    c = _calendar(dates)
    n = dates.size
    extra, mult = np.zeros(n), np.ones(n)
    on = np.zeros(n, dtype=bool)
    learn = 0
    if kind in ("monthly_charge", "monthly_credit"):
        on = c["dom"] == rng.integers(2, 29)
        size = level * rng.uniform(1.0, 5.0) * (1 if kind == "monthly_charge" else -0.6)
        extra = np.where(on, size, 0.0)
        learn = int(np.flatnonzero(on)[1]) + 1
    elif kind == "month_end_batch":
        on = c["from_end"] < rng.integers(2, 5)
        mult = np.where(on, rng.uniform(1.6, 3.0), 1.0)
        learn = int(np.flatnonzero(on & (c["month"] == 1)).max()) + 1
    elif kind == "month_start_batch":
        on = (c["dom"] >= 2) & (c["dom"] <= rng.integers(3, 5))
        mult = np.where(on, rng.uniform(1.6, 3.0), 1.0)
        learn = int(np.flatnonzero(on & (c["month"] == 2)).min())
    elif kind == "business_days_only":
        # Instance Scheduler-style office hours: off at weekends, and in half the series on holidays.
        off = (c["weekday"] >= 5) | (c["holiday"] & (rng.random() < 0.5))
        mult = np.where(off, 0.0, 1.0)
        learn = 28
    elif kind == "month_end_business_batch":
        # Finance close and reporting runs on the last business days, not the last calendar days.
        on = (c["bday_back"] >= 1) & (c["bday_back"] <= rng.integers(2, 5))
        mult = np.where(on, rng.uniform(1.6, 3.0), 1.0)
        learn = int(np.flatnonzero(on & (c["month"] == 1)).max()) + 1
    elif kind == "business_day_job":
        # A job on the n-th business day (payroll, invoicing exports), a separately billed charge.
        on = c["bday"] == rng.integers(1, 11)
        extra = np.where(on, level * rng.uniform(1.0, 4.0), 0.0)
        learn = int(np.flatnonzero(on)[1]) + 1
    elif kind == "year_end_shutdown":
        # Dev and test environments stopped from Christmas Eve to New Year's Day and on holidays.
        months = dates.astype("datetime64[M]").astype(int) % 12 + 1
        year_end = ((months == 12) & (c["dom"] >= 24)) | ((months == 1) & (c["dom"] == 1))
        on = (year_end | c["holiday"]) & (c["weekday"] < 5)
        mult = np.where(on, rng.uniform(0.2, 0.6), 1.0)
    elif kind == "biweekly_job":
        phase = rng.integers(0, 14)
        on = (np.arange(n) % 14) == phase
        extra = np.where(on, level * rng.uniform(1.0, 4.0), 0.0)
        learn = int(np.flatnonzero(on)[2]) + 1
    elif kind == "quarterly_job":
        day, first = rng.integers(2, 28), rng.integers(0, 2)
        on = (c["dom"] == day) & (c["month"] % 3 == first)
        extra = np.where(on, level * rng.uniform(2.0, 6.0), 0.0)
        learn = int(np.flatnonzero(on)[0]) + 1
    elif kind == "annual_charge":
        on = np.zeros(n, dtype=bool)
        first = int(rng.integers(3, 20))
        on[first] = True
        if first + 365 < n:
            on[first + 365] = True
        extra = np.where(on, level * rng.uniform(5.0, 20.0), 0.0)
        learn = first + 1
    elif kind == "holiday_dip":
        years = range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1)
        holidays = np.array(sorted(us_holidays(years)), dtype="datetime64[D]")
        on = np.isin(dates, holidays) & (c["weekday"] < 5)
        mult = np.where(on | (c["weekday"] >= 5), rng.uniform(0.2, 0.5), 1.0)
    elif kind == "bursty":
        on = rng.random(n) < rng.uniform(0.05, 0.12)
        mult = np.where(on, rng.uniform(1.5, 3.0, n), 1.0)
        learn = 91
    elif kind == "slow_ramp":
        start, length = int(rng.integers(60, n - 160)), int(rng.integers(90, 150))
        mult = 1.0 + rng.uniform(0.3, 0.6) * np.clip((np.arange(n) - start) / length, 0.0, 1.0)
    elif kind == "price_change":
        firsts = np.flatnonzero((c["dom"] == 1) & (np.arange(n) > 60) & (np.arange(n) < n - 60))
        step = rng.choice(firsts)
        change = rng.uniform(0.04, 0.08) * rng.choice([-1.0, 1.0])
        mult = np.where(np.arange(n) >= step, 1.0 + change, 1.0)
    return extra, mult, on, learn


def _regional_shape(kind: str, rng: np.random.Generator, dates: np.ndarray, level: float) -> tuple:
    """The traps of ``_trap_shape`` that real bills vary more than the others do:

    - ``regional_business_days`` / ``regional_business_day_job``: office-hours usage, or a job on the
      n-th business day (payroll, invoicing), of an organisation in England or Germany: its own
      public holidays shift its business days, not the US ones;
    - ``month_end_batch_varying``: a month-end close that runs until its data is processed: 1-5 last
      days, its length and its lift drawn anew every month;
    - ``clustered_bursts``: load tests, campaigns and backfills lasting 2-4 days, a few a month;
    - ``monthly_charge_varying``: a charge on a fixed day (2-28) whose size follows the month's
      metered usage (Marketplace metering, per-month licences): ±30% month to month.
    """
    n = dates.size
    c = _calendar(dates)
    extra, mult, on, learn = np.zeros(n), np.ones(n), np.zeros(n, dtype=bool), 0
    if kind.startswith("regional_business_day"):
        years = range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1)
        own = np.array(sorted(regional_holidays(str(rng.choice(["uk", "de"])), years)), dtype="datetime64[D]")
        business = (c["weekday"] < 5) & ~np.isin(dates, own)
        if kind == "regional_business_days":
            mult, learn = np.where(business, 1.0, 0.0), 28
        else:
            number = np.zeros(n, dtype=int)
            for m in np.unique(c["month"]):
                cols = np.flatnonzero((c["month"] == m) & business)
                number[cols] = np.arange(1, cols.size + 1)
            on = number == rng.integers(1, 11)
            extra = np.where(on, level * rng.uniform(1.0, 4.0), 0.0)
            learn = int(np.flatnonzero(on)[1]) + 1
    elif kind == "month_end_batch_varying":
        width = rng.integers(1, 6, size=int(c["month"].max()) + 1)[c["month"]]
        lift = rng.uniform(1.6, 3.0) * rng.uniform(0.8, 1.2, size=width.size)[c["month"]]
        on = c["from_end"] < width
        mult = np.where(on, lift, 1.0)
        learn = int(np.flatnonzero(on & (c["month"] == 2)).max()) + 1
    elif kind == "clustered_bursts":
        starts = np.flatnonzero(rng.random(n) < rng.uniform(0.03, 0.08))
        for s0 in starts:
            span = slice(s0, s0 + int(rng.integers(2, 5)))
            on[span] = True
            mult[span] = rng.uniform(1.5, 3.0)
        learn = 91
    else:  # monthly_charge_varying
        on = c["dom"] == rng.integers(2, 29)
        size = level * rng.uniform(1.0, 5.0) * rng.uniform(0.7, 1.3, size=int(c["month"].max()) + 1)
        extra = np.where(on, size[c["month"]], 0.0)
        learn = int(np.flatnonzero(on)[1]) + 1
    return extra, mult, on, learn


def _anomaly(
    kind: str, rng: np.random.Generator, base: np.ndarray, on: np.ndarray, lo: int, hi: int
) -> tuple[str, int, int, np.ndarray]:
    """One anomaly on top of the pattern: (label kind, first day, last day, cost delta)."""
    n = base.size
    delta = np.zeros(n)
    pattern_days = np.flatnonzero(on[lo:hi]) + lo
    choice = rng.choice(["spike", "level_shift", "drop", "pattern_break"])
    if choice == "pattern_break" and pattern_days.size == 0:
        choice = "spike"
    if choice == "pattern_break" or (choice == "spike" and pattern_days.size and rng.random() < 0.5):
        day = int(rng.choice(pattern_days))
        delta[day] = max(base[day], 1e-9) * rng.uniform(2.0, 3.5) + np.median(base) * 2
        return choice, day, day, delta
    if choice == "spike":
        day = int(rng.integers(lo, hi))
        delta[day] = np.median(base) * rng.uniform(3.0, 6.0)
        return choice, day, day, delta
    length = int(rng.integers(4, 12)) if choice == "level_shift" else int(rng.integers(1, 4))
    day = int(rng.integers(lo, hi - length))
    factor = rng.uniform(1.6, 2.5) if choice == "level_shift" else rng.uniform(-0.95, -0.7)
    span = slice(day, day + length)
    delta[span] = np.maximum(base[span], 0.0) * (factor - 1 if factor > 0 else factor)
    if choice == "drop" and np.maximum(base[span], 0).sum() < 0.5 * np.median(base) * length:
        delta[span] = 0.0
        return "", 0, 0, delta
    return choice, day, day + length - 1, delta


def trap_series(
    seed: int, start: dt.date, n_days: int, per_kind: int = 4, prefix: str = "trap"
) -> LabelledSeries:
    """``per_kind`` series of every trap kind over ``n_days`` from ``start``; half carry an anomaly."""
    rng = np.random.default_rng([seed, 15])
    dates = _days(start, n_days)
    weekday = _calendar(dates)["weekday"]
    frames, labels, traps = [], [], []
    for kind in TRAP_KINDS:
        for j in range(per_kind):
            sid = f"{prefix}{seed}-{kind}-{j}|svc"
            level = float(np.exp(rng.uniform(np.log(5.0), np.log(2000.0))))
            weekend = rng.choice([1.0, 1.0, 0.8, 0.6])
            profile = np.r_[1 + rng.uniform(-0.05, 0.05, 5), weekend, weekend]  # weekdays differ a little
            base = level * profile[weekday]
            extra, mult, on, learn = _trap_shape(kind, rng, dates, level)
            clean = base * mult + extra
            noise = _noise(rng, n_days)
            cost = np.where(mult == 0, 0.0, base * mult * noise) + extra
            learn_until = dates[0] + max(learn, 28)
            traps.append((sid, kind, learn_until.astype(dt.date)))
            if j % 2 == 1:
                lo = max(learn, 35) + 7
                a_kind, a0, a1, delta = _anomaly(kind, rng, clean, on, lo, n_days - 6)
                if a_kind:
                    cost = cost + delta
                    labels.append((sid, a_kind, dates[a0].astype(dt.date), dates[a1].astype(dt.date)))
            frames.append(pl.DataFrame({"series_id": sid, "group": sid, "date": dates, "cost": cost}))
    return LabelledSeries(
        pl.concat(frames).with_columns(pl.col("date").cast(pl.Date)),
        pl.DataFrame(labels, schema=LABEL_SCHEMA, orient="row"),
        pl.DataFrame(traps, schema=TRAP_SCHEMA, orient="row"),
    )
