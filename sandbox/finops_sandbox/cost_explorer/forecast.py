"""GetCostForecast: a weekday-profile forecast from the last eight weeks of daily spend.

Each future day is forecast as the median spend of the same weekday over the last 56 days (robust to
month-close credits and spikes); the prediction interval comes from the spread of the residuals.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import TYPE_CHECKING, Any

from finops_sandbox.cost_explorer.common import DIMENSION_COLUMNS, CEError, fmt_amount, parse_interval
from finops_sandbox.cost_explorer.filter import FilterTranslator
from finops_sandbox.cost_explorer.query import expression_columns, periods_of

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

FORECAST_METRICS = {
    "UNBLENDED_COST": "unblended_cost",
    "AMORTIZED_COST": "amortized_cost",
    "NET_UNBLENDED_COST": "net_unblended_cost",
    "BLENDED_COST": "blended_cost",
    "NET_AMORTIZED_COST": "(amortized_cost + net_unblended_cost - unblended_cost)",
    "USAGE_QUANTITY": "usage_quantity",
    "NORMALIZED_USAGE_AMOUNT": "usage_quantity",
}
HISTORY_DAYS = 56
_translate = FilterTranslator(DIMENSION_COLUMNS)


def _money(value: float) -> str:
    return fmt_amount(round(value, 10))


def get_cost_forecast(em: CostExplorerEmulator, body: dict[str, Any]) -> dict[str, Any]:
    """Answer GetCostForecast from the ledger's recent daily history."""
    start, end = parse_interval(body.get("TimePeriod"))
    today = em.world.data_end
    if start < today:
        raise CEError(f"Start date must be equal to or later than the current date ({today.isoformat()})")
    granularity = body.get("Granularity")
    if granularity not in ("DAILY", "MONTHLY"):
        raise CEError("Granularity must be DAILY or MONTHLY")
    if granularity == "DAILY" and (end - start).days > 93:
        raise CEError("DAILY forecasts can cover at most 3 months")
    if (end - start).days > 18 * 31 or (end.year - today.year) * 12 + end.month - today.month > 18:
        raise CEError("Forecasts can cover at most 18 months")
    metric = body.get("Metric")
    if metric not in FORECAST_METRICS:
        raise CEError(f"Invalid Metric {metric!r}; valid: {sorted(FORECAST_METRICS)}")
    level = body.get("PredictionIntervalLevel", 80)
    if not isinstance(level, int) or isinstance(level, bool) or not 51 <= level <= 99:
        raise CEError("PredictionIntervalLevel must be an integer between 51 and 99")

    filter_sql, params = _translate(body.get("Filter"), em.tag_activation.active_from)
    source = em.source_for(expression_columns(body.get("Filter")))
    first = today - dt.timedelta(days=HISTORY_DAYS)
    sql = (
        f"SELECT usage_date, CAST(sum({FORECAST_METRICS[metric]}) AS DOUBLE) FROM {source} "
        f"WHERE usage_date >= ? AND usage_date < ? AND ({filter_sql}) GROUP BY 1"
    )
    with em.lock:
        found = dict(em.con.execute(sql, [first, today, *params]).fetchall())
    days = [first + dt.timedelta(d) for d in range(HISTORY_DAYS)]
    series = [found.get(d, 0.0) for d in days]
    profile = {
        w: statistics.median(v for d, v in zip(days, series, strict=True) if d.weekday() == w)
        for w in range(7)
    }
    residuals = [v - profile[d.weekday()] for d, v in zip(days, series, strict=True)]
    sigma = statistics.pstdev(residuals)
    z = statistics.NormalDist().inv_cdf(0.5 + level / 200)

    results = []
    total_mean = 0.0
    for p_start, p_end in periods_of(start, end, granularity):
        n = (p_end - p_start).days
        mean = sum(profile[(p_start + dt.timedelta(d)).weekday()] for d in range(n))
        half = z * sigma * n**0.5
        total_mean += mean
        results.append(
            {
                "TimePeriod": {"Start": p_start.isoformat(), "End": p_end.isoformat()},
                "MeanValue": _money(mean),
                "PredictionIntervalLowerBound": _money(max(mean - half, 0.0) if mean >= 0 else mean - half),
                "PredictionIntervalUpperBound": _money(mean + half),
            }
        )
    unit = "N/A" if metric in ("USAGE_QUANTITY", "NORMALIZED_USAGE_AMOUNT") else "USD"
    return {"Total": {"Amount": _money(total_mean), "Unit": unit}, "ForecastResultsByTime": results}
