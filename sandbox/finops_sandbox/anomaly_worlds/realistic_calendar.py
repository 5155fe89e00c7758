"""Family C's calendar (``realistic_family``): regional holidays, UTC offsets with daylight saving,
business days of the window. Apart only to keep each module readable; like the family, it imports
nothing of the project.
"""

import datetime as dt

import numpy as np

_DAY = dt.timedelta(days=1)
DIWALI = {2023: (11, 12), 2024: (11, 1), 2025: (10, 20), 2026: (11, 8), 2027: (10, 29), 2028: (10, 17)}
_HOLI = {2023: (3, 8), 2024: (3, 25), 2025: (3, 14), 2026: (3, 4), 2027: (3, 22), 2028: (3, 11)}
TZ = {"us": (-5.0, "us"), "eu": (1.0, "eu"), "in": (5.5, ""), "jp": (9.0, ""), "au": (10.0, "au")}
_FIXED_HOLIDAYS = {  # month/day; the moveable feasts are computed in _holiday_dates
    "us": "", "eu": "1/1 5/1 12/24 12/25 12/26 12/31", "in": "1/26 8/15 10/2 12/25",
    "au": "1/1 1/26 4/25 12/25 12/26",
    "jp": "1/1 1/2 1/3 2/11 2/23 3/20 4/29 5/3 5/4 5/5 8/11 8/13 8/14 8/15 9/23 11/3 11/23 12/29 12/30 12/31",
}  # fmt: skip


def _easter(y: int) -> dt.date:
    """Western Easter (anonymous Gregorian algorithm): Good Friday and Easter Monday move every year."""
    a, (b, c) = y % 19, divmod(y, 100)
    d, e = divmod(b, 4)
    h = (19 * a + b - d - (b - (b + 8) // 25 + 1) // 3 + 15) % 30
    i, k = divmod(c, 4)
    w = (32 + 2 * e + 2 * i - h - k) % 7
    month, day = divmod(h + w - 7 * ((a + 11 * h + 22 * w) // 451) + 114, 31)
    return dt.date(y, month, day + 1)


def nth_weekday(y: int, m: int, wd: int, nth: int) -> dt.date:
    """The nth (or, for -1, the last) weekday `wd` (0 = Monday) of a month."""
    if nth > 0:
        first = dt.date(y, m, 1)
        return first + _DAY * ((wd - first.weekday()) % 7 + 7 * (nth - 1))
    last = dt.date(y + m // 12, m % 12 + 1, 1) - _DAY
    return last - _DAY * ((last.weekday() - wd) % 7)


def _holiday_dates(region: str, y: int, shutdown: bool) -> set[dt.date]:
    """Public holidays of a region in year y, plus an optional year-end shutdown, when offices idle."""
    d, e = dt.date, _easter(y)
    out = {d(y, *map(int, md.split("/"))) for md in _FIXED_HOLIDAYS[region].split()}
    if region == "us":
        for h in (d(y, 1, 1), d(y, 7, 4), d(y, 12, 25)):  # observed on the Friday or Monday
            out.add(h - _DAY if h.weekday() == 5 else h + _DAY if h.weekday() == 6 else h)
        thanksgiving = nth_weekday(y, 11, 3, 4)
        out |= {nth_weekday(y, 1, 0, 3), nth_weekday(y, 5, 0, -1), nth_weekday(y, 9, 0, 1)}
        out |= {thanksgiving, thanksgiving + _DAY}
    elif region in ("eu", "au"):
        out |= {e - 2 * _DAY, e + _DAY} | ({nth_weekday(y, 6, 0, 2)} if region == "au" else set())
    elif region == "in":
        diwali = d(y, *DIWALI.get(y, (10, 28)))
        out |= {diwali, diwali + _DAY, d(y, *_HOLI.get(y, (3, 10)))}
    else:
        out |= {nth_weekday(y, 1, 0, 2), nth_weekday(y, 7, 0, 3), nth_weekday(y, 9, 0, 3)}
    if shutdown:
        first, last = d(y, 12, 28 if region == "jp" else 24), d(y + 1, 1, 4 if region == "jp" else 1)
        out |= {first + _DAY * i for i in range((last - first).days + 1)}
    return out


def _utc_offset(region: str, day: dt.date) -> float:
    """Hours ahead of UTC on a local day (US, EU and Sydney rules; India and Japan keep no DST)."""
    std, rule = TZ[region]
    y = day.year
    if rule == "us":
        on = nth_weekday(y, 3, 6, 2) <= day < nth_weekday(y, 11, 6, 1)
    elif rule == "eu":
        on = nth_weekday(y, 3, 6, -1) <= day < nth_weekday(y, 10, 6, -1)
    else:
        on = rule == "au" and not nth_weekday(y, 4, 6, 1) <= day < nth_weekday(y, 10, 6, 1)
    return std + on


class Calendar:
    """The window's calendar as arrays (index 0 = start), with cached holidays and UTC offsets."""

    def __init__(self, start: dt.date, n: int) -> None:
        self.start, self.n = start, n
        self.dates = [start + _DAY * i for i in range(n)]
        self.dow = np.array([x.weekday() for x in self.dates])
        self.dom = np.array([x.day for x in self.dates])
        self.month = np.array([x.month for x in self.dates])
        self.dim = np.array([((d.replace(day=28) + 4 * _DAY).replace(day=1) - _DAY).day for d in self.dates])
        self.months = np.split(np.arange(n), np.flatnonzero(self.dom == 1)[int(self.dom[0] == 1) :])
        self._hol: dict[tuple[str, bool], tuple[set[dt.date], np.ndarray]] = {}
        around = [start + _DAY * j for j in range(-1, n + 1)]  # a schedule can start in the UTC day before
        self.offsets = {r: np.array([_utc_offset(r, x) for x in around]) for r in TZ}  # local days -1 .. n

    def holidays(self, region: str, shutdown: bool) -> tuple[set[dt.date], np.ndarray]:
        """The holiday dates of a region (years around the window) and the window's business days."""
        if (region, shutdown) not in self._hol:
            years = range(self.start.year - 1, self.dates[-1].year + 2)
            hol = set().union(*(_holiday_dates(region, y, shutdown) for y in years))
            self._hol[region, shutdown] = hol, (self.dow < 5) & np.array([x not in hol for x in self.dates])
        return self._hol[region, shutdown]
