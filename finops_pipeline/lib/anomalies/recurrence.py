"""Recurring calendar patterns a cost series has shown before: learnt, so they are not anomalies.

Issue #15: real bills recur on days the weekday median cannot see: a fee on the 15th, a credit on
the 3rd, month-end batch jobs on the last three days, a job every other Friday, a quarterly
report, an annual renewal, holiday dips. For every day whose residual (actual - the weekday / trend
expectation) stands out, each pattern below looks at the same day's residuals in earlier periods:

- ``dom``: the same day of the month, last 3 months;   ``eom``: the same days-from-month-end;
- ``bday`` / ``bday_end``: the same business-day number from the month's start / end;
- ``nth_weekday``: the same n-th weekday of the month (the first Monday, the second Tuesday);
- ``biweekly``: 2, 4 and 6 weeks before;   ``quarterly``: the same day 3, 6 and 9 months before,
  by each monthly key (day of the month, days from its end, business-day number from its start or
  end, n-th weekday: a quarter's first business day or first Monday moves in the month);
- ``annual``: the same date 12 months before.

A pattern is *consistent* when enough earlier occurrences (2 of the last 3 monthly or bi-weekly
ones, 1 for quarterly and annual) each stood out in the same direction with sizes within
``pattern_spread`` of their median. Of the consistent patterns, the one whose median is closest to
today's residual is added to the expected cost, and only when it brings the expectation closer:
a pattern explains a day that behaves as before; a day whose size breaks the pattern keeps the
rest of its residual and is still an event. The pattern's name is the event's explanation.

Weekday holidays (US federal, Christmas to New Year, Good Friday, Easter Monday, May 1) may be
expected at the level of the last four weeks' weekend days, when that is closer.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np

WEEKDAY, TREND, MONTH_START, MONTH_END, DOM, EOM, BDAY, BDAY_END = range(8)
BIWEEKLY, QUARTERLY, ANNUAL, HOLIDAY, NEW_SERIES, BDAY_ABROAD, BDAY_END_ABROAD = range(8, 15)
QUARTERLY_EOM, QUARTERLY_BDAY, QUARTERLY_BDAY_END, QUARTERLY_WEEKDAY, NTH_WEEKDAY = range(15, 20)
MONTHLY_LAGS = (1, 2, 3)
QUARTERLY_LAGS = (3, 6, 9)
QUARTERLY_CODES = (QUARTERLY, QUARTERLY_EOM, QUARTERLY_BDAY, QUARTERLY_BDAY_END, QUARTERLY_WEEKDAY)
RECURRING_MONTHLY = (
    *(DOM, EOM, BDAY, BDAY_END, NTH_WEEKDAY),
    *QUARTERLY_CODES,
    *(ANNUAL, BDAY_ABROAD, BDAY_END_ABROAD),
)
COUNTRIES = ("us", "uk", "de")  # national calendars whose business days a pattern may follow


@dataclass(frozen=True)
class Calendar:
    """Per-day calendar keys of a date range (T,)."""

    dom: np.ndarray  # 1..31
    from_end: np.ndarray  # 0 on the last day of the month
    weekday: np.ndarray  # 0 = Monday
    month: np.ndarray  # months since the first date's month
    bday: np.ndarray  # business-day number in the month (1-based), 0 on weekends and holidays
    bday_end: np.ndarray  # the same counted from the month's end
    holiday: np.ndarray  # bool: a weekday holiday
    holiday_elsewhere: np.ndarray  # bool: a weekday holiday of England and Wales or Germany only
    # (bday, bday_end) under each of COUNTRIES' own public holidays alone
    national_bdays: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    h = (19 * a + b - b // 4 - (8 * b + 13) // 25 + 15) % 30
    ll = (32 + 2 * (b % 4) + 2 * (c // 4) - h - c % 4) % 7
    m = (a + 11 * h + 22 * ll) // 451
    return dt.date(year, (h + ll - 7 * m + 114) // 31, (h + ll - 7 * m + 114) % 31 + 1)


def holidays(years: range) -> set[dt.date]:
    """Days many organisations' usage dips: US federal holidays, Christmas to New Year's Day,
    Good Friday, Easter Monday, May 1. A known holiday only allows a weekend-like level."""
    out: set[dt.date] = set()
    for y in years:

        def nth(month: int, weekday: int, n: int, y: int = y) -> dt.date:
            first = dt.date(y, month, 1)
            return first + dt.timedelta((weekday - first.weekday()) % 7 + 7 * (n - 1))

        easter = _easter(y)
        last_monday_may = dt.date(y, 5, 31) - dt.timedelta(dt.date(y, 5, 31).weekday())
        thanksgiving = nth(11, 3, 4)
        out |= {dt.date(y, 1, 1), nth(1, 0, 3), nth(2, 0, 3), last_monday_may, dt.date(y, 6, 19)}
        out |= {dt.date(y, 7, 4), nth(9, 0, 1), nth(10, 0, 2), dt.date(y, 11, 11), dt.date(y, 5, 1)}
        out |= {
            thanksgiving,
            thanksgiving + dt.timedelta(1),
            easter - dt.timedelta(2),
            easter + dt.timedelta(1),
        }
        out |= {dt.date(y, 12, d) for d in range(24, 32)}
    return out


def national_holidays(country: str, years: range) -> set[dt.date]:
    """One country's public holidays: ``us`` federal (opm.gov), ``uk`` England and Wales bank holidays
    (gov.uk/bank-holidays, with the Monday substitutes of a weekend Christmas, Boxing Day or New
    Year's Day), ``de`` Germany's nationwide ones. An organisation keeps its own country's calendar:
    its office-hours usage dips on these days and its n-th business day of a month moves with them."""
    out: set[dt.date] = set()
    for y in years:

        def nth(month: int, weekday: int, n: int, y: int = y) -> dt.date:
            first = dt.date(y, month, 1)
            return first + dt.timedelta((weekday - first.weekday()) % 7 + 7 * (n - 1))

        def last_monday(month: int, y: int = y) -> dt.date:
            end = (dt.date(y, month, 28) + dt.timedelta(4)).replace(day=1) - dt.timedelta(1)
            return end - dt.timedelta(end.weekday())

        easter = _easter(y)
        if country == "us":
            out |= {dt.date(y, 1, 1), nth(1, 0, 3), nth(2, 0, 3), last_monday(5), dt.date(y, 6, 19)}
            out |= {dt.date(y, 7, 4), nth(9, 0, 1), nth(10, 0, 2), dt.date(y, 11, 11), nth(11, 3, 4)}
            out.add(dt.date(y, 12, 25))
        elif country == "de":
            out |= {dt.date(y, m, d) for m, d in ((1, 1), (5, 1), (10, 3), (12, 25), (12, 26))}
            out |= {easter + dt.timedelta(d) for d in (-2, 1, 39, 50)}
        else:
            out |= {easter - dt.timedelta(2), easter + dt.timedelta(1), nth(5, 0, 1)}
            out |= {last_monday(5), last_monday(8)}
            for day in (dt.date(y, 1, 1), dt.date(y, 12, 25), dt.date(y, 12, 26)):
                while day.weekday() >= 5 or day in out:  # the substitute: the next free weekday
                    day += dt.timedelta(1)
                out.add(day)
    return out


def holidays_elsewhere(years: range) -> set[dt.date]:
    """Public holidays of England and Wales or Germany that ``holidays`` lacks (the first Monday of
    May, the last of August, Ascension, Whit Monday, 3 October, a New Year substitute)."""
    return (national_holidays("uk", years) | national_holidays("de", years)) - holidays(years)


def _business_day_numbers(month: np.ndarray, business: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(number from the month's start, from its end) of each business day; 0 on other days."""
    bday, bday_end = np.zeros(month.size, np.int64), np.zeros(month.size, np.int64)
    for m in np.unique(month):
        cols = np.flatnonzero((month == m) & business)
        bday[cols] = np.arange(1, cols.size + 1)
        bday_end[cols] = np.arange(cols.size, 0, -1)
    return bday, bday_end


def calendar(dates: np.ndarray) -> Calendar:
    months = dates.astype("datetime64[M]")
    dom = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    from_end = ((months + 1).astype("datetime64[D]") - dates).astype(np.int64) - 1
    weekday = (dates.astype(np.int64) + 3) % 7
    month = (months - months[0]).astype(np.int64) if dates.size else np.zeros(0, np.int64)
    years = range(int(str(dates[0])[:4]), int(str(dates[-1])[:4]) + 1) if dates.size else range(0)
    hol = np.isin(dates, np.array(sorted(holidays(years)), dtype="datetime64[D]")) & (weekday < 5)
    elsewhere = np.isin(dates, np.array(sorted(holidays_elsewhere(years)), dtype="datetime64[D]"))
    bday, bday_end = _business_day_numbers(month, (weekday < 5) & ~hol)
    national = tuple(
        _business_day_numbers(
            month,
            (weekday < 5) & ~np.isin(dates, np.array(sorted(national_holidays(c, years)), "datetime64[D]")),
        )
        for c in COUNTRIES
    )
    return Calendar(dom, from_end, weekday, month, bday, bday_end, hol, elsewhere & (weekday < 5), national)


def _by_month_key(cal: Calendar, key: np.ndarray, lags: tuple[int, ...], lowest: int = 1) -> np.ndarray:
    """(T, len(lags)) index of the day with the same ``key`` ``lag`` months before; -1 if none
    (keys below ``lowest`` have no pattern: weekends have business-day number 0)."""
    n_m = int(cal.month.max()) + 1 if cal.month.size else 0
    table = np.full((n_m, int(key.max()) + 1 if key.size else 1), -1, dtype=np.int64)
    valid = key >= lowest
    table[cal.month[valid], key[valid]] = np.flatnonzero(valid)
    out = np.full((key.size, len(lags)), -1, dtype=np.int64)
    for j, lag in enumerate(lags):
        src = cal.month - lag
        ok = valid & (src >= 0)
        out[ok, j] = table[src[ok], key[ok]]
    return out


def nth_weekday(cal: Calendar) -> np.ndarray:
    """(T,) key of "the n-th <weekday> of the month" (1..35): the first Monday is 1, the second 2."""
    return cal.weekday * 5 + (cal.dom - 1) // 7 + 1


def prior_days(cal: Calendar, national: bool = True) -> list[tuple[int, np.ndarray, int]]:
    """Per pattern: (code, T × k earlier occurrences, -1 for none; how many must be consistent).
    Business-day patterns are read under this module's calendar and under each national one."""
    n = cal.dom.size
    t = np.arange(n)
    biweekly = np.stack([t - 14, t - 28, t - 42], axis=1)
    out = [
        (DOM, _by_month_key(cal, cal.dom, MONTHLY_LAGS), 2),
        (EOM, _by_month_key(cal, cal.from_end, MONTHLY_LAGS, lowest=0), 2),
        (BDAY, _by_month_key(cal, cal.bday, MONTHLY_LAGS), 2),
        (BDAY_END, _by_month_key(cal, cal.bday_end, MONTHLY_LAGS), 2),
        (NTH_WEEKDAY, _by_month_key(cal, nth_weekday(cal), MONTHLY_LAGS), 2),
        (BIWEEKLY, np.where(biweekly >= 0, biweekly, -1), 2),
        (QUARTERLY, _by_month_key(cal, cal.dom, QUARTERLY_LAGS), 1),
        (QUARTERLY_EOM, _by_month_key(cal, cal.from_end, QUARTERLY_LAGS, lowest=0), 1),
        (QUARTERLY_BDAY, _by_month_key(cal, cal.bday, QUARTERLY_LAGS), 1),
        (QUARTERLY_BDAY_END, _by_month_key(cal, cal.bday_end, QUARTERLY_LAGS), 1),
        (QUARTERLY_WEEKDAY, _by_month_key(cal, nth_weekday(cal), QUARTERLY_LAGS), 1),
        (ANNUAL, _by_month_key(cal, cal.dom, (12,)), 1),
    ]
    for bday, bday_end in cal.national_bdays if national else ():
        out.append((BDAY_ABROAD, _by_month_key(cal, bday, MONTHLY_LAGS), 2))
        out.append((BDAY_END_ABROAD, _by_month_key(cal, bday_end, MONTHLY_LAGS), 2))
    return out


def explain(
    residual: np.ndarray,
    scale: np.ndarray,
    cal: Calendar,
    candidate: np.ndarray,
    *,
    min_z: float,
    spread: float,
    national: bool = True,
    misses: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Patterns that explain the ``candidate`` days' residuals (S × T bool: days worth explaining).

    Returns (s, t, offset, code) for every explained day. Earlier occurrences are read from
    ``residual`` itself (NaN where not scored), so only what the series did before counts.
    """
    s_idx, t_idx = np.nonzero(candidate)
    if s_idx.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), empty
    today = residual[s_idx, t_idx]
    best_err = np.abs(today)
    best_off = np.zeros(s_idx.size)
    best_code = np.full(s_idx.size, -1, dtype=np.int64)
    # Quarterly patterns last: a day another pattern explains (monthly, bi-weekly, annual) is no
    # quarterly precedent (a monthly job on the 3rd business day is also "the 15th business day
    # before month end" of a quarter's last month; with one precedent needed, such coincidences
    # would explain a spike).
    patterns = sorted(prior_days(cal, national), key=lambda item: item[0] in QUARTERLY_CODES)
    monthly: np.ndarray | None = None
    for code, prior, need in patterns:
        cols = prior[t_idx]  # N × k
        vals = np.where(cols >= 0, residual[s_idx[:, None], np.maximum(cols, 0)], np.nan)
        if code in QUARTERLY_CODES:
            if monthly is None:
                monthly = np.zeros(residual.shape, bool)
                monthly[s_idx[best_code >= 0], t_idx[best_code >= 0]] = True
            vals = np.where(monthly[s_idx[:, None], np.maximum(cols, 0)] & (cols >= 0), np.nan, vals)
        sc = np.where(cols >= 0, scale[s_idx[:, None], np.maximum(cols, 0)], np.nan)
        with np.errstate(invalid="ignore"):
            med = np.nanmedian(np.where(np.isnan(vals).all(axis=1)[:, None], 0.0, vals), axis=1)
            strong = (np.abs(vals) >= min_z * sc) & (np.sign(vals) == np.sign(med)[:, None])
            close = np.abs(vals - med[:, None]) <= spread * np.abs(med)[:, None]
            valid = ~np.isnan(vals)
            consistent = (strong & close).sum(axis=1)
            ok = (consistent >= need) & (valid.sum(axis=1) - consistent <= misses)
            err = np.abs(today - med)
        better = ok & (err < best_err)
        best_err = np.where(better, err, best_err)
        best_off = np.where(better, med, best_off)
        best_code = np.where(better, code, best_code)
    keep = best_code >= 0
    return s_idx[keep], t_idx[keep], best_off[keep], best_code[keep]


def pattern_days(pattern: np.ndarray, cal: Calendar, national: bool = True) -> np.ndarray:
    """(S × T bool) days a calendar pattern explained and the earlier occurrences each relied on.

    The first occurrences of a pattern stood out before it could be learnt; once it is, they are
    known to be that pattern, not bursts (``events.drop_familiar`` leaves them out)."""
    out = np.isin(pattern, (*RECURRING_MONTHLY, BIWEEKLY))
    for code, prior, _ in prior_days(cal, national):
        s_idx, t_idx = np.nonzero(pattern == code)
        cols = prior[t_idx]
        ok = cols >= 0
        out[np.repeat(s_idx, cols.shape[1])[ok.ravel()], cols[ok]] = True
    return out


def holiday_level(regular: np.ndarray, cal: Calendar) -> np.ndarray:
    """(S × T) median of the weekend days of the 4 weeks before each weekday holiday; NaN elsewhere."""
    out = np.full(regular.shape, np.nan)
    for t in np.flatnonzero(cal.holiday):
        cols = np.arange(max(0, t - 28), t)
        cols = cols[cal.weekday[cols] >= 5]
        if cols.size:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a series without weekend days yet
                out[:, t] = np.nanmedian(regular[:, cols], axis=1)
    return out


_ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")


def describe(code: int, day: dt.date) -> str:
    """What an expected cost was compared with, in words."""
    from_end = ((day.replace(day=28) + dt.timedelta(4)).replace(day=1) - day).days - 1
    nth = f"{_ORDINALS[(day.day - 1) // 7]} {day.strftime('%A')} of the month"
    texts = {
        WEEKDAY: "same weekday, last 4 weeks",
        TREND: "same weekday, last 4 weeks, plus the two-week trend",
        MONTH_START: "day 1 of the last 3 months",
        MONTH_END: "last day of the last 3 months",
        DOM: f"day {day.day} of the last 3 months",
        EOM: f"{from_end} days before month end, last 3 months",
        BDAY: "same business day of the month, last 3 months",
        BDAY_END: "same business day before month end, last 3 months",
        BIWEEKLY: "same weekday every 2 weeks, last 6 weeks",
        QUARTERLY: f"day {day.day}, 3 to 9 months before",
        QUARTERLY_EOM: f"{from_end} days before month end, 3 to 9 months before",
        QUARTERLY_BDAY: "same business day of the month, 3 to 9 months before",
        QUARTERLY_BDAY_END: "same business day before month end, 3 to 9 months before",
        NTH_WEEKDAY: f"{nth}, last 3 months",
        QUARTERLY_WEEKDAY: f"{nth}, 3 to 9 months before",
        ANNUAL: "same date last year",
        HOLIDAY: "holiday: weekend days of the last 4 weeks",
        NEW_SERIES: "zero: a new series in an existing group",
        BDAY_ABROAD: "same business day of the month under one country's holidays, last 3 months",
        BDAY_END_ABROAD: "same business day before month end under one country's holidays, last 3 months",
    }
    return texts.get(code, "same weekday, last 4 weeks")
