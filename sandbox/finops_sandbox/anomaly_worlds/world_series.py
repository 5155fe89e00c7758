"""A sandbox world as the anomaly evaluation sees it (family A): the series the ``cost_anomalies``
asset would score, their labels, and AWS Cost Anomaly Detection's answers from the emulator.

Why in the sandbox package: it drives the sandbox's world and Cost Explorer emulator, which the
product must not import (issue #12); it runs the product's own SQL (the sandbox depends on the
product, never the reverse).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from typing import Any

import polars as pl

from finops_pipeline.lib.anomalies.params import OUTPUT_SCHEMA

SERIES_SEPARATOR = "|"
_ACCOUNT_SERVICE = "as|"
LEDGER_AS_RAW_TABLES = """
CREATE SCHEMA raw;
CREATE VIEW raw.ce_cost_daily AS
    SELECT usage_date, account_id, service, sum(unblended_cost) AS unblended_cost FROM ledger GROUP BY ALL;
CREATE VIEW raw.ce_cost_by_usage_type AS
    SELECT usage_date, service, usage_type, sum(unblended_cost) AS unblended_cost FROM ledger GROUP BY ALL;
CREATE VIEW raw.ce_cost_by_account_usage_type AS  -- usage only, as its Cost Explorer filter asks
    SELECT usage_date, account_id, usage_type, sum(unblended_cost) AS unblended_cost FROM ledger
    WHERE record_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')
    GROUP BY ALL;
"""


@dataclass(frozen=True)
class WorldSeries:
    """What the pipeline scores at the labels' grain, built from a sandbox world's ledger."""

    series: pl.DataFrame  # series_id 'account|service', group, date, cost
    drilldown: pl.DataFrame  # series_id 'account|service', driver (usage type), group, date, cost
    labels: pl.DataFrame  # series_id, kind, start_date, end_date, impact_usd


def world_series(world: Any) -> WorldSeries:
    """The account × service series and their account × usage-type drill-down, exactly as the
    ``cost_anomalies`` asset builds them: its own SQL, run on views that shape the world's ledger as
    the raw tables Cost Explorer fills (which equal the ledger's sums to the micro-dollar)."""
    import duckdb

    sql = resources.files("finops_pipeline.defs.anomalies").joinpath("sql")
    con = duckdb.connect()
    try:
        con.register("ledger", world.ledger)
        con.execute(LEDGER_AS_RAW_TABLES)
        series = con.sql(sql.joinpath("series.sql").read_text()).pl()
        con.execute(sql.joinpath("usage_services.sql").read_text())
        drilldown = con.sql(sql.joinpath("drilldown.sql").read_text()).pl()
    finally:
        con.close()
    # The account × service grain ('as|account|service') is the labels' grain.
    series = series.filter(pl.col("series_id").str.starts_with(_ACCOUNT_SERVICE)).sort("series_id", "date")
    strip = pl.col("series_id").str.strip_prefix(_ACCOUNT_SERVICE)
    series = series.with_columns(strip)
    drilldown = drilldown.with_columns(strip).sort("series_id", "driver", "date")
    labels = pl.from_arrow(world.anomalies).select(
        (pl.col("account_id") + SERIES_SEPARATOR + pl.col("service")).alias("series_id"),
        "kind",
        "start_date",
        "end_date",
        pl.col("impact_usd").cast(pl.Float64),
    )
    return WorldSeries(series, drilldown, labels)


def aws_anomaly_answers(emulator: Any, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Every page of the emulator's GetAnomalies answer over ``[start, end)``, as AWS returns them."""
    rows, token = [], None
    while True:
        body: dict[str, Any] = {"DateInterval": {"StartDate": start.isoformat(), "EndDate": end.isoformat()}}
        if token:
            body["NextPageToken"] = token
        status, answer = emulator.handle("GetAnomalies", body)
        if status != 200:
            raise RuntimeError(f"GetAnomalies failed: {answer}")
        rows += answer.get("Anomalies", [])
        token = answer.get("NextPageToken")
        if not token:
            return rows


def aws_events(emulator: Any, start: dt.date, end: dt.date) -> pl.DataFrame:
    """AWS Cost Anomaly Detection's answers (service monitor; its root cause names the account)."""
    rows = aws_anomaly_answers(emulator, start, end)
    last = end - dt.timedelta(days=1)
    out = []
    seen = set()
    for a in rows:
        cause = (a.get("RootCauses") or [{}])[0]
        series_id = f"{cause.get('LinkedAccount')}{SERIES_SEPARATOR}{cause.get('Service')}"
        s = dt.date.fromisoformat(a["AnomalyStartDate"][:10])
        e = dt.date.fromisoformat(a["AnomalyEndDate"][:10]) if a.get("AnomalyEndDate") else last
        if (series_id, s, e) in seen:  # the account monitor repeats the service monitor's finding
            continue
        seen.add((series_id, s, e))
        impact = a["Impact"]
        out.append(
            {
                "series_id": series_id,
                "start_date": s,
                "end_date": e,
                "actual": impact.get("TotalActualSpend", 0.0),
                "expected": impact.get("TotalExpectedSpend", 0.0),
                "impact": impact.get("TotalImpact", 0.0),
                "score": a["AnomalyScore"]["MaxScore"],
                "severity": "",
                "direction": "increase",
                "kind": "aws",
                "days": (e - s).days + 1,
                "detected_date": s,
                "baseline": "AWS Cost Anomaly Detection",
            }
        )
    return pl.DataFrame(out, schema=OUTPUT_SCHEMA)
