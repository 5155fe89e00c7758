"""Calendar facts behind AWS bills: UTC billing days, local business days, holidays, DST and cron.

AWS meters usage per UTC hour and Cost Explorer sums it per UTC day, while the demand behind the usage
and most schedulers follow local wall-clock time. A bill's weekly and yearly shape therefore comes from
the calendars of the markets a workload serves (weekends, public holidays of the US, the UK and
Germany, daylight-saving time), and a scheduled job's cost lands on the UTC days its run overlaps.
Part of the bottom-up labelled world family (``bottom_up_family``); imports numpy and the standard
library only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# Standard UTC offset (hours) and DST rule of each market. "UTC" is for schedulers that only know UTC
# (EventBridge rules); Singapore observes no DST.
ZONES: dict[str, tuple[int, str]] = {
    "US": (-5, "us"),
    "GB": (0, "eu"),
    "DE": (1, "eu"),
    "SG": (8, ""),
    "UTC": (0, ""),
}
# Local hour skipped on the spring-forward day and repeated on the fall-back day.
DST_HOURS: dict[str, tuple[int, int]] = {"US": (2, 1), "GB": (1, 1), "DE": (2, 2)}
HOLIDAY_COUNTRIES = ("US", "GB", "DE")


def month_len(year: int, month: int) -> int:
    """Days in a month (29 in a leap February): per-month prices are prorated over it."""
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The `nth` `weekday` (0 = Monday) of a month; nth=-1 is the last one."""
    if nth > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = dt.date(year, month, month_len(year, month))
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def easter(year: int) -> dt.date:
    """Western Easter Sunday (anonymous Gregorian algorithm): UK and German holidays move with it."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _us_observed(d: dt.date) -> dt.date:
    """US federal rule: a Saturday holiday is observed on Friday, a Sunday one on Monday."""
    return (
        d - dt.timedelta(days=1) if d.weekday() == 5 else d + dt.timedelta(days=1) if d.weekday() == 6 else d
    )


def _substituted(days: list[dt.date]) -> list[dt.date]:
    """UK substitute days: a holiday on a weekend (or on another holiday) moves to the next free weekday."""
    taken: list[dt.date] = []
    for d in days:
        while d.weekday() >= 5 or d in taken:
            d += dt.timedelta(days=1)
        taken.append(d)
    return taken


def holidays(country: str, year: int) -> set[dt.date]:
    """Public holidays on which offices close: business demand dips, office-hours fleets stay off."""
    e = easter(year)
    if country == "US":
        fixed = [dt.date(year, 1, 1), dt.date(year, 6, 19), dt.date(year, 7, 4), dt.date(year, 12, 25)]
        moving = [nth_weekday(year, 1, 0, 3), nth_weekday(year, 2, 0, 3), nth_weekday(year, 5, 0, -1)]
        moving += [nth_weekday(year, 9, 0, 1), nth_weekday(year, 11, 3, 4)]
        return {_us_observed(d) for d in fixed} | set(moving)
    if country == "GB":
        days = _substituted([dt.date(year, 1, 1)]) + _substituted(
            [dt.date(year, 12, 25), dt.date(year, 12, 26)]
        )
        days += [e - dt.timedelta(days=2), e + dt.timedelta(days=1), nth_weekday(year, 5, 0, 1)]
        return {*days, nth_weekday(year, 5, 0, -1), nth_weekday(year, 8, 0, -1)}
    if country == "DE":
        fixed = [(1, 1), (5, 1), (10, 3), (12, 25), (12, 26)]
        days = [dt.date(year, m, d) for m, d in fixed]
        return set(days + [e + dt.timedelta(days=k) for k in (-2, 1, 39, 50)])
    return set()


def dst_bounds(rule: str, year: int) -> tuple[dt.date, dt.date] | None:
    """First DST day and first standard-time day again (US: 2nd Sunday of March to 1st Sunday of
    November; EU: last Sunday of March to last Sunday of October)."""
    if rule == "us":
        return nth_weekday(year, 3, 6, 2), nth_weekday(year, 11, 6, 1)
    if rule == "eu":
        return nth_weekday(year, 3, 6, -1), nth_weekday(year, 10, 6, -1)
    return None


@dataclass(frozen=True)
class Calendar:
    """Per-day calendar arrays of a date range (index 0 = `start`)."""

    start: dt.date
    n: int
    dow: np.ndarray  # 0 = Monday
    dom: np.ndarray
    month: np.ndarray
    year: np.ndarray
    dim: np.ndarray  # days in the month of each day
    holidays: dict[str, np.ndarray]  # country -> bool per day
    holiday_dates: dict[str, frozenset[dt.date]]
    offsets: dict[str, np.ndarray]  # zone -> UTC offset (hours) per day
    dst_days: dict[str, tuple[np.ndarray, np.ndarray]]  # zone -> (spring-forward, fall-back) day indices

    def date(self, i: int) -> dt.date:
        """The date of day index `i`."""
        return self.start + dt.timedelta(days=int(i))

    def index(self, d: dt.date) -> int:
        """The day index of date `d` (negative or >= n outside the range)."""
        return (d - self.start).days

    @property
    def month_id(self) -> np.ndarray:
        """A month number per day (year * 12 + month - 1): per-month prices and tiers reset on it."""
        return self.year * 12 + self.month - 1


def build_calendar(start: dt.date, n: int) -> Calendar:
    """Calendar arrays for `n` days from `start`, holidays of the years around it, DST of each zone."""
    days = np.datetime64(start, "D") + np.arange(n)
    months = days.astype("datetime64[M]")
    year = months.astype(int) // 12 + 1970
    month = months.astype(int) % 12 + 1
    dom = (days - months.astype("datetime64[D]")).astype(int) + 1
    dim = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    dow = (days.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    years = range(int(year.min()) - 1, int(year.max()) + 2)
    hol_dates = {c: frozenset(d for y in years for d in holidays(c, y)) for c in HOLIDAY_COUNTRIES}
    hol = {c: np.isin(days, np.array(sorted(ds), dtype="datetime64[D]")) for c, ds in hol_dates.items()}
    hol.update({c: np.zeros(n, bool) for c in ZONES if c not in hol})
    offsets, dst = {}, {}
    for zone, (std, rule) in ZONES.items():
        active = np.zeros(n, bool)
        spring, fall = [], []
        for y in years:
            bounds = dst_bounds(rule, y)
            if bounds is None:
                continue
            begin, end = (np.datetime64(b, "D") for b in bounds)
            active |= (days >= begin) & (days < end)
            spring.append((bounds[0] - start).days)
            fall.append((bounds[1] - start).days)
        offsets[zone] = std + active.astype(int)
        dst[zone] = tuple(np.array([i for i in s if 0 <= i < n], int) for s in (spring, fall))
    return Calendar(start, n, dow, dom, month, year, dim, hol, hol_dates, offsets, dst)


def local_hours(cal: Calendar, zone: str) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of day and local day index of every UTC hour of the range (billing is by UTC hour)."""
    loc = np.arange(cal.n * 24) + np.repeat(cal.offsets[zone], 24)
    return loc % 24, np.clip(loc // 24, 0, cal.n - 1)


def christmas_lull(cal: Calendar) -> np.ndarray:
    """23 December to 1 January: offices empty out, business traffic and batch volumes sag."""
    return ((cal.month == 12) & (cal.dom >= 23)) | ((cal.month == 1) & (cal.dom == 1))


def _values(spec: str, lo: int, hi: int) -> set[int]:
    """Values of one cron field: `*`, `a-b`, `a,b`, `*/n`, `a-b/n`."""
    out: set[int] = set()
    for part in spec.split(","):
        rng, _, step = part.partition("/")
        a, b = (lo, hi) if rng == "*" else (int(x) for x in rng.split("-")) if "-" in rng else (int(rng),) * 2
        out.update(range(a, b + 1, int(step or 1)))
    return out


def last_business_days(cal: Calendar, country: str, k: int = 1) -> np.ndarray:
    """The last `k` business days (weekdays not holidays in `country`) of every month of the range."""
    hol = cal.holiday_dates.get(country, frozenset())
    out = np.zeros(cal.n, bool)
    for mid in np.unique(cal.month_id):
        y, m = divmod(int(mid), 12)
        d, found = dt.date(y, m + 1, month_len(y, m + 1)), 0
        while found < k:
            if d.weekday() < 5 and d not in hol:
                found += 1
                if 0 <= cal.index(d) < cal.n:
                    out[cal.index(d)] = True
            d -= dt.timedelta(days=1)
    return out


def _dom_mask(cal: Calendar, spec: str, country: str) -> np.ndarray:
    """Days matching a cron day-of-month field (numbers, ranges, `L`, `LW`)."""
    mask = np.zeros(cal.n, bool)
    for token in spec.split(","):
        if token == "L":
            mask |= cal.dom == cal.dim
        elif token == "LW":
            mask |= last_business_days(cal, country)
        else:
            mask |= np.isin(cal.dom, sorted(_values(token, 1, 31)))
    return mask


def _dow_mask(cal: Calendar, spec: str) -> np.ndarray:
    """Days matching a cron day-of-week field (cron numbering, Sunday 0 or 7; `d#k`)."""
    cron_dow = (cal.dow + 1) % 7  # cron counts from Sunday = 0
    mask = np.zeros(cal.n, bool)
    for token in spec.split(","):
        if "#" in token:
            d, k = (int(x) for x in token.split("#"))
            mask |= (cron_dow == d % 7) & ((cal.dom - 1) // 7 == k - 1)
        else:
            mask |= np.isin(cron_dow, [v % 7 for v in _values(token, 0, 7)])
    return mask


def cron_days(
    cal: Calendar, expr: str, country: str, anchor: int = 0, hour: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Local day index and local start hour of every run of a schedule.

    `expr` is a 5-field cron line (minute hour day-of-month month day-of-week) as crontab, EventBridge
    Scheduler and Airflow take it, with Quartz's `L` (last day), `LW` (last business day, holidays of
    `country` included) and `d#k` (k-th weekday d); when day-of-month and day-of-week are both
    restricted a day matching either runs (Vixie cron's OR, the classic `1-7 * 1` surprise). Or
    `rate(N days)`: every N days from day `anchor` at local `hour`, as EventBridge rate rules run.
    """
    if expr.startswith("rate("):
        every = int(expr[5:].split()[0])
        days = np.arange(anchor % every, cal.n, every)
        return days, np.full(days.size, hour)
    minute, hour_f, dom_f, mon_f, dow_f = expr.split()
    hours = np.array(sorted(_values(hour_f, 0, 23)), float) + int(minute) / 60
    month_ok = np.isin(cal.month, sorted(_values(mon_f, 1, 12)))
    dom_ok, dow_ok = _dom_mask(cal, dom_f, country), _dow_mask(cal, dow_f)
    either = dom_f != "*" and dow_f != "*"
    days = np.flatnonzero(month_ok & ((dom_ok | dow_ok) if either else (dom_ok & dow_ok)))
    return np.repeat(days, hours.size), np.tile(hours, days.size)


def utc_starts(
    cal: Calendar, zone: str, days: np.ndarray, hours: np.ndarray, naive: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """UTC start (hours from the range's first UTC midnight) of each run, and the run it repeats.

    A job set for 02:00 local runs at 01:00 or 00:00 UTC depending on DST, so its cost can move
    between UTC days twice a year. A wall-clock-naive scheduler (`naive`) also skips runs set in the
    hour that does not exist on the spring-forward day and runs twice those set in the hour that
    occurs twice on the fall-back day.
    """
    t = days * 24 + hours - cal.offsets[zone][days]
    src = np.arange(days.size)
    if naive and zone in DST_HOURS:
        skip_h, rep_h = DST_HOURS[zone]
        spring, fall = cal.dst_days[zone]
        skipped = np.isin(days, spring) & (np.floor(hours) == skip_h)
        repeated = np.isin(days, fall) & (np.floor(hours) == rep_h)
        t = np.concatenate([t[~skipped], t[repeated] - 1.0])
        src = np.concatenate([src[~skipped], src[repeated]])
    return t, src
