"""FOCUS against Cost Explorer: per UTC day, account and service, where both cover the day.

``BilledCost`` is Cost Explorer's unblended cost and ``EffectiveCost`` its amortized cost, so the two
sources must agree to the cent on every (day, account, service) both hold. Only days inside both sources'
range are compared (an export starts and ends when it was created and last delivered; the Cost Explorer
ingest when its window says), and only AWS rows of the export. A group that only one side has is a
difference too: it is named with the other side as 0. With either side empty (no export configured, or no
cost ingested yet) nothing is compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

RECONCILE_SQL = """
WITH focus AS (
    SELECT CAST(ChargePeriodStart AS DATE) AS day, SubAccountId AS account_id, ServiceName AS service,
           sum(BilledCost) AS billed, sum(EffectiveCost) AS effective
    FROM raw.focus_cost WHERE ProviderName = 'AWS' GROUP BY ALL
), ce AS (
    SELECT usage_date AS day, account_id, service, sum(unblended_cost) AS unblended,
           sum(amortized_cost) AS amortized
    FROM raw.ce_cost_daily GROUP BY ALL
), bounds AS (
    SELECT (SELECT min(day) FROM focus) AS f0, (SELECT max(day) FROM focus) AS f1,
           (SELECT min(day) FROM ce) AS c0, (SELECT max(day) FROM ce) AS c1
), overlap AS (
    -- DuckDB's greatest / least skip NULLs: without this, an empty side would compare every day of the other
    SELECT CASE WHEN f0 IS NOT NULL AND c0 IS NOT NULL THEN greatest(f0, c0) END AS first_day,
           CASE WHEN f1 IS NOT NULL AND c1 IS NOT NULL THEN least(f1, c1) END AS last_day
    FROM bounds
)
SELECT coalesce(f.day, c.day) AS day, coalesce(f.account_id, c.account_id) AS account_id,
       coalesce(f.service, c.service) AS service,
       coalesce(f.billed, 0) AS billed, coalesce(c.unblended, 0) AS unblended,
       coalesce(f.effective, 0) AS effective, coalesce(c.amortized, 0) AS amortized
FROM focus f FULL JOIN ce c USING (day, account_id, service), overlap
WHERE coalesce(f.day, c.day) BETWEEN overlap.first_day AND overlap.last_day
"""
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Reconciliation:
    """The groups compared and those that differ by a cent or more (day, account, service, four sums)."""

    first_day: str | None
    last_day: str | None
    groups: int
    differences: list[tuple]
    billed: Decimal
    unblended: Decimal

    @property
    def matches(self) -> bool:
        return not self.differences


def reconcile(conn: duckdb.DuckDBPyConnection) -> Reconciliation:
    rows = conn.execute(f"SELECT * FROM ({RECONCILE_SQL}) ORDER BY day, account_id, service").fetchall()
    differences = [
        row
        for row in rows
        if abs(Decimal(row[3]) - Decimal(row[4])) >= CENT or abs(Decimal(row[5]) - Decimal(row[6])) >= CENT
    ]
    return Reconciliation(
        first_day=str(rows[0][0]) if rows else None,
        last_day=str(rows[-1][0]) if rows else None,
        groups=len(rows),
        differences=differences,
        billed=sum((Decimal(r[3]) for r in rows), Decimal(0)),
        unblended=sum((Decimal(r[4]) for r in rows), Decimal(0)),
    )
