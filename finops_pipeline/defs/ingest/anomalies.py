"""``ce_anomalies``: AWS Cost Anomaly Detection results over a trailing window, upserted by id.

Open anomalies keep changing, so every run re-reads the whole trailing window; ``first_seen_at``
survives the upsert so alerts can tell a new anomaly from an updated one.
"""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import CostWindowResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.ingest.cost_explorer_api import all_pages
from finops_pipeline.lib.money import money
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, transaction

UPSERT_ANOMALIES_SQL = """
CREATE OR REPLACE TEMP TABLE merged_anomalies AS
    SELECT i.* REPLACE (coalesce(e.first_seen_at, i.first_seen_at) AS first_seen_at)
    FROM incoming_anomalies i LEFT JOIN raw.ce_anomalies e USING (anomaly_id);
DELETE FROM raw.ce_anomalies WHERE anomaly_id IN (SELECT anomaly_id FROM incoming_anomalies);
INSERT INTO raw.ce_anomalies BY NAME SELECT * FROM merged_anomalies;
"""
# first_seen_at is carried (this run's time); the upsert keeps an existing row's instead.
ANOMALY_COLUMNS = tables.table("raw.ce_anomalies").arrow_schema()


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def anomaly_pages(client: Any, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Every page of the window (restarted from the first page if the token goes invalid)."""
    return all_pages(
        client.get_anomalies,
        DateInterval={"StartDate": start.isoformat(), "EndDate": end.isoformat()},
        MaxResults=100,
    )


def anomaly_row(item: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    impact = item.get("Impact", {})
    score = item.get("AnomalyScore", {})
    return {
        "anomaly_id": item["AnomalyId"],
        "anomaly_start_date": _day(item.get("AnomalyStartDate")),
        "anomaly_end_date": _day(item.get("AnomalyEndDate")),
        "dimension_value": item.get("DimensionValue"),
        "monitor_arn": item.get("MonitorArn"),
        "feedback": item.get("Feedback"),
        "max_score": score.get("MaxScore"),
        "current_score": score.get("CurrentScore"),
        "max_impact": money(impact.get("MaxImpact")),
        "total_impact": money(impact.get("TotalImpact")),
        "total_actual_spend": money(impact.get("TotalActualSpend")),
        "total_expected_spend": money(impact.get("TotalExpectedSpend")),
        "total_impact_percentage": impact.get("TotalImpactPercentage"),
        "root_causes": json.dumps(item.get("RootCauses", []), ensure_ascii=False),
        "raw": json.dumps(item, ensure_ascii=False, default=str),
        "first_seen_at": now,
        "last_seen_at": now,
    }


@dg.asset(
    name="ce_anomalies",
    group_name=layers.RAW_COST,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="AWS Cost Anomaly Detection results over the last LOOKBACK_DAYS days, by id.",
    metadata=tables.definition_metadata("ce_anomalies"),
)
def ce_anomalies(
    context: dg.AssetExecutionContext,
    aws: AwsResource,
    warehouse: WarehouseResource,
    cost_window: CostWindowResource,
) -> dg.MaterializeResult:
    end = utc_now().date()
    start = end - dt.timedelta(days=cost_window.anomaly_lookback_days)
    now = utc_now()
    with aws.tracked() as calls:
        items = [a for page in anomaly_pages(aws.client("ce"), start, end) for a in page.get("Anomalies", [])]
    table = pa.Table.from_pylist([anomaly_row(item, now) for item in items], schema=ANOMALY_COLUMNS)
    with warehouse.connect() as conn:
        conn.register("incoming_anomalies", table)
        with transaction(conn):
            conn.execute(UPSERT_ANOMALIES_SQL)
        conn.unregister("incoming_anomalies")
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "ce_anomalies")
    total_impact = sum((row["total_impact"] or 0 for row in table.to_pylist()), Decimal(0))
    return dg.MaterializeResult(
        metadata={
            **counted,
            "anomalies_in_window": table.num_rows,
            "total_impact_usd": float(round(total_impact, 2)),
            "window_start": start.isoformat(),
            **call_metadata(calls),
        }
    )
