"""raw.ce_recommendations columns hold the unit their names and descriptions say, and the true lookback.

RI answers a monthly recurring fee, Savings Plans an hourly commitment and an hourly on-demand spend:
each lands in the column of its unit (botocore's ReservationPurchaseRecommendationDetail and
SavingsPlansPurchaseRecommendationDetail shapes). Rightsizing looks back 14 days (AWS's user guide), not
the 30 asked of the purchase recommendations.
"""

import json
from decimal import Decimal
from pathlib import Path

import duckdb

from finops_pipeline.defs.ingest.recommendations import HOURS_PER_MONTH, RIGHTSIZING_LOOKBACK_DAYS

SQL = """
SELECT source, lookback_days, hourly_commitment, recurring_monthly_cost, estimated_monthly_cost_before,
       details
FROM raw.ce_recommendations WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_recommendations)
"""
SIX = Decimal("0.000001")


def test_each_column_holds_its_unit_and_rightsizing_looks_back_14_days(ingested_warehouse: Path) -> None:
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        rows = conn.execute(SQL).fetchall()
    by_source: dict[str, list[tuple]] = {}
    for row in rows:
        by_source.setdefault(row[0], []).append(row)
    assert set(by_source) == {"reserved_instances", "savings_plans", "rightsizing"}
    assert {r[1] for r in by_source["rightsizing"]} == {RIGHTSIZING_LOOKBACK_DAYS}
    assert {r[1] for r in by_source["reserved_instances"] + by_source["savings_plans"]} == {30}
    for _, _, hourly, recurring, _, details in by_source["reserved_instances"]:
        assert hourly is None
        assert recurring == Decimal(json.loads(details)["RecurringStandardMonthlyCost"]).quantize(SIX)
    for _, _, hourly, recurring, before, details in by_source["savings_plans"]:
        d = json.loads(details)
        assert recurring is None
        assert hourly == Decimal(d["HourlyCommitmentToPurchase"]).quantize(SIX)
        hourly_spend = Decimal(d["CurrentAverageHourlyOnDemandSpend"]).quantize(SIX)
        assert before == (hourly_spend * HOURS_PER_MONTH).quantize(SIX)
    assert any(r[3] for r in by_source["reserved_instances"])
