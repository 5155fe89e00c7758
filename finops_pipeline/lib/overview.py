"""The cost overview: the figures a FinOps lead asks for first, each over like-for-like UTC periods.

- Month to date: this month's complete days (the 1st through yesterday) against the same number of days
  from the 1st of last month (capped at last month's length), so a 10-day month-to-date is never
  compared with a whole month.
- Last month against the month before: totals, and per day (months differ in length).
- Top services and accounts of last month, and movers (account × service) from the month before to
  last month: whole calendar months, because monthly charges (tax, support, RI and Savings Plans fees)
  post on a month's 1st, and a rolling 30-day window that holds one 1st but not the other is a false mover.
- Untagged spend (``marts.tag_compliance_summary``), open high-severity anomalies
  (``marts.cost_anomalies``) and savings available (``marts.recommendations``) from their marts; cost
  comes from ``raw.ce_cost_daily`` and names from ``raw.aws_accounts``, for which no mart exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.lib.savings import total_monthly_savings

TOP = 5

COST_SQL = (
    "SELECT coalesce(sum(unblended_cost), 0) FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ?"
)
NAMES_CTE = (
    "names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)"
)
TOP_SERVICES_SQL = """
SELECT service, sum(unblended_cost) AS usd FROM raw.ce_cost_daily
WHERE usage_date >= ? AND usage_date < ? GROUP BY 1 ORDER BY usd DESC, service LIMIT ?
"""
TOP_ACCOUNTS_SQL = f"""
WITH {NAMES_CTE}
SELECT c.account_id, coalesce(n.account_name, '') AS account_name, sum(c.unblended_cost) AS usd
FROM raw.ce_cost_daily c LEFT JOIN names n USING (account_id)
WHERE c.usage_date >= ? AND c.usage_date < ? GROUP BY 1, 2 ORDER BY usd DESC, c.account_id LIMIT ?
"""
MOVERS_SQL = f"""
WITH {NAMES_CTE},
periods AS (
    SELECT account_id, service,
           sum(unblended_cost) FILTER (WHERE usage_date >= $start) AS current,
           sum(unblended_cost) FILTER (WHERE usage_date < $start) AS previous
    FROM raw.ce_cost_daily WHERE usage_date >= $prev_start AND usage_date < $end GROUP BY 1, 2
)
SELECT p.account_id, coalesce(n.account_name, '') AS account_name, p.service,
       coalesce(p.previous, 0) AS previous_usd, coalesce(p.current, 0) AS current_usd,
       coalesce(p.current, 0) - coalesce(p.previous, 0) AS change_usd
FROM periods p LEFT JOIN names n USING (account_id)
WHERE coalesce(p.current, 0) <> coalesce(p.previous, 0)
ORDER BY abs(change_usd) DESC, p.account_id, p.service LIMIT $limit
"""
UNTAGGED_SQL = """
SELECT spend_usd - spend_tagged_usd, spend_coverage_pct, spend_window_start, spend_window_end
FROM marts.tag_compliance_summary WHERE dimension = 'overall' AND spend_usd IS NOT NULL
ORDER BY snapshot_date DESC LIMIT 1
"""
# Ours and AWS's events per account × service; an AWS event matched by one of ours is counted once.
OPEN_HIGH_ANOMALIES_SQL = """
SELECT coalesce(account_name, account_id) AS account, service, start_date, days, impact_usd, source
FROM marts.cost_anomalies
WHERE is_open AND severity = 'high' AND grain = 'account_service' AND NOT (source = 'aws' AND matched)
ORDER BY abs(impact_usd) DESC, event_id
"""
SAVINGS_SQL = (
    "SELECT kind, coalesce(sum(estimated_monthly_savings_usd), 0) FROM marts.recommendations GROUP BY 1"
)


@dataclass(frozen=True)
class Comparison:
    """One period's cost against its like-for-like comparison period."""

    label: str
    start: dt.date
    end: dt.date  # exclusive
    previous_start: dt.date
    previous_end: dt.date  # exclusive
    current_usd: float
    previous_usd: float

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def previous_days(self) -> int:
        return (self.previous_end - self.previous_start).days

    @property
    def change_pct(self) -> float | None:
        """Change of the total; None when there is nothing to compare with."""
        return (
            None
            if not self.previous_usd
            else (self.current_usd - self.previous_usd) * 100 / self.previous_usd
        )

    @property
    def daily_change_pct(self) -> float | None:
        """Change of the cost per day: what a month-on-month change means when the months' lengths differ."""
        if not self.previous_usd or not self.days or not self.previous_days:
            return None
        per_day, before = self.current_usd / self.days, self.previous_usd / self.previous_days
        return (per_day - before) * 100 / before


@dataclass
class Overview:
    today: dt.date
    month_to_date: Comparison
    last_month: Comparison
    top_services: list[tuple[Any, ...]] = field(default_factory=list)
    top_accounts: list[tuple[Any, ...]] = field(default_factory=list)
    movers: list[tuple[Any, ...]] = field(default_factory=list)
    untagged_usd: float | None = None
    spend_coverage_pct: float | None = None
    untagged_window: tuple[dt.date, dt.date] | None = None
    open_high_anomalies: list[tuple[Any, ...]] = field(default_factory=list)
    savings_monthly_usd: float | None = None
    marts_not_built: list[str] = field(default_factory=list)


def _built_marts(conn: Any) -> set[str]:
    """The marts tables that exist: before a mart's first build its figures are unknown, not zero."""
    rows = conn.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()
    return {f"marts.{name}" for (name,) in rows}


def _cost(conn: Any, start: dt.date, end: dt.date) -> float:
    return float(conn.execute(COST_SQL, [start, end]).fetchone()[0])


def compare(
    conn: Any, label: str, start: dt.date, end: dt.date, prev_start: dt.date, prev_end: dt.date
) -> Comparison:
    return Comparison(
        label, start, end, prev_start, prev_end, _cost(conn, start, end), _cost(conn, prev_start, prev_end)
    )


def month_to_date_periods(today: dt.date) -> tuple[dt.date, dt.date, dt.date, dt.date]:
    """This month's complete days and the same number of days from last month's 1st (never past its end)."""
    month, last_month = today.replace(day=1), first_of_month_months_ago(today, 1)
    same_days = min(today - month, month - last_month)
    return month, today, last_month, last_month + same_days


def build_overview(conn: Any, today: dt.date) -> Overview:
    """Every figure of the overview as of ``today`` (its UTC day, from ``clock.py``)."""
    month, last_month, month_before = (first_of_month_months_ago(today, n) for n in (0, 1, 2))
    overview = Overview(
        today=today,
        month_to_date=compare(conn, "month to date", *month_to_date_periods(today)),
        last_month=compare(conn, "last month", last_month, month, month_before, last_month),
    )
    overview.top_services = conn.execute(TOP_SERVICES_SQL, [last_month, month, TOP]).fetchall()
    overview.top_accounts = conn.execute(TOP_ACCOUNTS_SQL, [last_month, month, TOP]).fetchall()
    movers = {"start": last_month, "end": month, "prev_start": month_before, "limit": TOP}
    overview.movers = conn.execute(MOVERS_SQL, movers).fetchall()
    built = _built_marts(conn)
    overview.marts_not_built = sorted(
        {"marts.tag_compliance_summary", "marts.cost_anomalies", "marts.recommendations"} - built
    )
    if "marts.tag_compliance_summary" in built and (untagged := conn.execute(UNTAGGED_SQL).fetchone()):
        overview.untagged_usd, overview.spend_coverage_pct = float(untagged[0]), untagged[1]
        overview.untagged_window = (untagged[2], untagged[3])
    if "marts.cost_anomalies" in built:
        overview.open_high_anomalies = conn.execute(OPEN_HIGH_ANOMALIES_SQL).fetchall()
    if "marts.recommendations" in built:
        overview.savings_monthly_usd = total_monthly_savings(dict(conn.execute(SAVINGS_SQL).fetchall()))
    return overview
