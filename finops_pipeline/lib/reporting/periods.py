"""Report periods: presets and explicit ranges, resolved to ``[start, end)`` UTC days (end exclusive).

Every check runs before anything is read or written, and an invalid or contradictory request raises
:class:`ReportRangeError` saying what was wrong and what to ask instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from finops_pipeline.clock import first_of_month_months_ago

PRESETS = ("month_to_date", "previous_full_month", "last_n_days")
DEFAULT_PRESET = "month_to_date"
MAX_DAYS = 3660  # ten years: anything longer is a typo


class ReportRangeError(ValueError):
    """An invalid or contradictory report period."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive
    label: str  # preset name or "custom"
    note: str = ""  # why this period was chosen, when the request did not name it (the default on the 1st)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def previous(self) -> Period:
        """What this period is compared with (totals and top movers), like for like.

        - a calendar month (``previous_full_month``): the calendar month before it;
        - ``month_to_date`` (the 1st to the Nth): the 1st to the Nth of the month before, clipped at that
          month's end (March 1-30 against February 1-28);
        - anything else: the same number of days just before it.
        """
        if self.label == "previous_full_month":
            return Period(add_months(self.start, -1), self.start, "previous")
        if self.label == "month_to_date":
            before = add_months(self.start, -1)
            return Period(before, min(before + dt.timedelta(days=self.days), self.start), "previous")
        return Period(self.start - dt.timedelta(days=self.days), self.start, "previous")

    @property
    def is_empty(self) -> bool:
        """No complete day yet (``month_to_date`` on the 1st)."""
        return self.days == 0

    def span(self) -> str:
        """The dates in a title: "2026-11-01 to 2026-11-26", or the start alone with no complete day."""
        if self.is_empty:
            return f"{self.start.isoformat()} (no complete day yet)"
        return f"{self.start.isoformat()} to {self.last_day.isoformat()}"

    def describe(self) -> str:
        if self.is_empty:
            return f"{self.start.isoformat()}: no complete day yet ({self.label})"
        return f"{self.start.isoformat()} to {self.last_day.isoformat()} ({self.days} days, {self.label})"

    def describe_comparison(self) -> str:
        """The comparison in words and dates, as every report format states it."""
        prev = self.previous
        dates = f"{prev.start.isoformat()} to {prev.last_day.isoformat()}"
        if self.label == "previous_full_month":
            return f"compared with {prev.start:%B %Y}, the calendar month before ({dates})"
        if self.label == "month_to_date":
            return (
                f"compared with the same days of {prev.start:%B %Y} ({dates}, {prev.days} days)"
                if not self.is_empty
                else "no complete day yet: nothing to compare"
            )
        return f"compared with the {prev.days} days just before ({dates})"


def _as_date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ReportRangeError(f"{name}={value!r} is not a date in YYYY-MM-DD form") from None
    raise ReportRangeError(f"{name}={value!r} is not a date (give YYYY-MM-DD)")


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The 1st of the month ``months`` after ``day``'s month."""
    return first_of_month_months_ago(day, -months)


def resolve_period(
    *,
    preset: str | None = None,
    last_n_days: int | None = None,
    start: object = None,
    end: object = None,
    today: dt.date,
) -> Period:
    """The ``[start, end)`` a report covers.

    - ``month_to_date``: the complete days of ``today``'s month, the 1st through yesterday (today is
      still being counted, and comparing a partial day with a full one is not like for like); on the
      1st it is empty, and the report says "no complete day yet".
    - ``previous_full_month``: the whole previous month; ``end`` is the 1st of this month (exclusive).
    - ``last_n_days`` (with ``last_n_days=N``, or ``last_n_days=N`` alone): the N complete days before today.
    - ``start``/``end``: explicit; ``end`` is exclusive and defaults to tomorrow (today included).
    Nothing given: ``month_to_date``, except on the 1st, when no day of the month is complete yet:
    then the previous full month, and the period's ``note`` says so.
    """
    if preset is not None and not isinstance(preset, str):
        raise ReportRangeError(f"preset={preset!r} is not one of {', '.join(PRESETS)}")
    preset = preset.strip().lower() if preset else None
    explicit = start is not None or end is not None
    if preset is not None and preset not in PRESETS:
        raise ReportRangeError(f"preset={preset!r} is unknown: use one of {', '.join(PRESETS)}")
    if explicit and (preset is not None or last_n_days is not None):
        given = "preset" if preset is not None else "last_n_days"
        raise ReportRangeError(
            f"start/end and {given} contradict each other: give either an explicit start/end or a preset"
        )
    if last_n_days is not None:
        if isinstance(last_n_days, bool) or not isinstance(last_n_days, int):
            raise ReportRangeError(f"last_n_days={last_n_days!r} is not a whole number of days")
        if not 1 <= last_n_days <= MAX_DAYS:
            raise ReportRangeError(f"last_n_days={last_n_days} must be between 1 and {MAX_DAYS}")
        if preset not in (None, "last_n_days"):
            raise ReportRangeError(
                f"last_n_days={last_n_days} contradicts preset={preset!r}: drop one, "
                "or use preset='last_n_days' with it"
            )
        return Period(today - dt.timedelta(days=last_n_days), today, f"last_{last_n_days}_days")
    if preset == "last_n_days":
        raise ReportRangeError("preset='last_n_days' needs last_n_days=N (a whole number of days)")
    if explicit:
        if start is None:
            raise ReportRangeError("end given without start: give start too (YYYY-MM-DD)")
        first = _as_date(start, "start")
        if first > today:
            raise ReportRangeError(f"start={first.isoformat()} is after today ({today.isoformat()})")
        stop = _as_date(end, "end") if end is not None else today + dt.timedelta(days=1)
        if stop <= first:
            raise ReportRangeError(
                f"end={stop.isoformat()} is not after start={first.isoformat()} (end is exclusive: "
                f"for the single day {first.isoformat()} use "
                f"end={(first + dt.timedelta(days=1)).isoformat()})"
            )
        if (stop - first).days > MAX_DAYS:
            raise ReportRangeError(f"start..end spans {(stop - first).days} days; at most {MAX_DAYS}")
        return Period(first, stop, "custom")
    this_month = first_of_month(today)
    if preset == "previous_full_month":
        return Period(add_months(this_month, -1), this_month, preset)
    if preset is None and today == this_month:
        return Period(
            add_months(this_month, -1),
            this_month,
            "previous_full_month",
            note=f"{today.isoformat()} is the 1st: no day of {today:%B} is complete yet, "
            f"so the default report covers {add_months(this_month, -1):%B %Y}",
        )
    return Period(this_month, today, DEFAULT_PRESET)
