"""The one clock: every "today" and "now" of the product (and of the sandbox) comes from here.

Time is an input. Partitions, the default start date, the restatement window, report presets,
forecasts, freshness checks, the demo and the sandbox's default as-of all ask this module, so one
variable moves all of them together:

- ``FINOPS_TODAY`` unset (production): the real UTC clock.
- ``FINOPS_TODAY=YYYY-MM-DD``: that UTC day is "today" everywhere; ``utc_now()`` is that day at the
  real time of day. The test suite pins it so that nothing depends on the machine's date; an operator
  can pin it to re-run a past day exactly as it ran.
"""

from __future__ import annotations

import datetime as dt
import os

TODAY_ENV = "FINOPS_TODAY"
TODAY_FIX = "use a UTC date in YYYY-MM-DD form (e.g. 2026-11-27), or unset it to use the real clock"


class ClockError(ValueError):
    """FINOPS_TODAY holds something that is not a date."""


def parse_today(value: str) -> dt.date:
    """``FINOPS_TODAY``'s value as a date, or :class:`ClockError` naming the variable and the fix."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ClockError(f"{TODAY_ENV}={value!r} is not a date: {TODAY_FIX}") from None


def pinned_today() -> dt.date | None:
    """The pinned day, or None when the real clock is in force."""
    value = os.environ.get(TODAY_ENV, "").strip()
    return parse_today(value) if value else None


def machine_today() -> dt.date:
    """The machine's UTC day, ignoring any pin: for checking settings while the pin is invalid, and for
    Dagster's partitions, which count from the machine's clock (see ``defs/ingest/partitions.py``)."""
    return dt.datetime.now(dt.UTC).date()


def utc_now() -> dt.datetime:
    """Now, timezone-aware UTC: on the pinned day (at the real time of day) when one is pinned."""
    now = dt.datetime.now(dt.UTC)
    pinned = pinned_today()
    return now if pinned is None else dt.datetime.combine(pinned, now.timetz())


def today_utc() -> dt.date:
    """Today's UTC calendar day."""
    return utc_now().date()


def first_of_month_months_ago(day: dt.date, months: int) -> dt.date:
    """The 1st of the month ``months`` before ``day``'s month (negative: after)."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)
