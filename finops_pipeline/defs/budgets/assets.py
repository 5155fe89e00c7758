"""Budgets and forecast: Cost Explorer's forecast, AWS Budgets, and ``budget_status``.

Cost Explorer bills every request, so the forecast is one ``GetCostForecast`` request for the
organisation (the rest of this month and next month, MONTHLY, 80% interval); per-account forecasts
are derived from it in SQL, never asked per account. An account with too little history gets no
forecast (DataUnavailableException): recorded in ``raw.scan_status`` (source ``ce_forecast``), and
``budget_status`` says so in ``forecast_method``. AWS Budgets are read "when permitted": an
AccessDenied is recorded in ``raw.scan_status`` (source ``budgets``) and the run carries on with the
thresholds from settings.
"""

import datetime as dt
import json
from decimal import Decimal
from importlib import resources
from typing import Any

import dagster as dg
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline import tables
from finops_pipeline.aws_session import (
    AwsResource,
    ScanOutcome,
    ScanTarget,
    call_metadata,
    classify_error,
)
from finops_pipeline.clock import first_of_month_months_ago, utc_now
from finops_pipeline.config_resources import SpendAlertsResource
from finops_pipeline.defs import layers
from finops_pipeline.lib.budget_scope import budget_scope
from finops_pipeline.lib.fan_out import record_scan_status
from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.lib.money import money
from finops_pipeline.lib.reporting.alerts import budget_breaches
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_rows, transaction

SQL = resources.files("finops_pipeline.defs.budgets").joinpath("sql")
STATUS_TABLE_SQL = tables.table("marts.budget_status").create_sql()
STATUS_SQL = SQL.joinpath("budget_status.sql").read_text()
PREDICTION_INTERVAL = 80
FORECAST_SOURCE = "ce_forecast"  # raw.scan_status source of ce_cost_forecast
FORECAST_SCHEMA = tables.table("raw.ce_forecasts").arrow_schema()
BUDGET_SCHEMA = tables.table("raw.aws_budgets").arrow_schema()


def forecast_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """From today to the end of next month (exclusive): two MONTHLY periods in one request."""
    return today, first_of_month_months_ago(today, -2)


def forecast_rows(answer: dict[str, Any], today: dt.date, now: dt.datetime) -> pa.Table:
    rows = [
        {
            "snapshot_date": today,
            "period_start": dt.date.fromisoformat(item["TimePeriod"]["Start"]),
            "period_end": dt.date.fromisoformat(item["TimePeriod"]["End"]),
            "metric": "UNBLENDED_COST",
            "mean_usd": money(item.get("MeanValue")),
            "lower_usd": money(item.get("PredictionIntervalLowerBound")),
            "upper_usd": money(item.get("PredictionIntervalUpperBound")),
            "prediction_interval_level": PREDICTION_INTERVAL,
            "fetched_at": now,
        }
        for item in answer.get("ForecastResultsByTime", [])
    ]
    return pa.Table.from_pylist(rows, schema=FORECAST_SCHEMA)


def read_forecast(aws: AwsResource, start: dt.date, end: dt.date) -> tuple[dict[str, Any], ScanOutcome]:
    """Cost Explorer's forecast, or none with the reason when AWS has too little history to make one.

    A new account (or one that enabled Cost Explorer recently) answers DataUnavailableException: that is
    a fact about the account, not a failure of the run, so it is recorded (``raw.scan_status``, source
    ``ce_forecast``, status ``data_unavailable``) and ``budget_status`` still runs on the run rate. Any
    other error fails the asset as before.
    """
    target = ScanTarget(aws.caller_account_id(), aws.region)
    try:
        answer = aws.client("ce").get_cost_forecast(
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Metric="UNBLENDED_COST",
            Granularity="MONTHLY",
            PredictionIntervalLevel=PREDICTION_INTERVAL,
        )
    except ClientError as exc:
        status, detail = classify_error(exc)
        if status != "data_unavailable":
            raise
        return {}, ScanOutcome(target, status, detail)
    return answer, ScanOutcome(target, "ok", "")


@dg.asset(
    name="ce_cost_forecast",
    group_name=layers.RAW_BUDGETS,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="Cost Explorer's unblended cost forecast for the rest of this month and next month "
    "(one request); none, with status data_unavailable in raw.scan_status, while AWS has too little "
    "history to forecast.",
    metadata=tables.definition_metadata("ce_cost_forecast"),
)
def ce_cost_forecast(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    now = utc_now()
    today = now.date()
    start, end = forecast_window(today)
    with aws.tracked() as calls:
        answer, outcome = read_forecast(aws, start, end)
    rows = forecast_rows(answer, today, now)
    with warehouse.connect() as conn:
        replace_rows(conn, "raw.ce_forecasts", rows, "snapshot_date = ?", (today,))
        record_scan_status(conn, FORECAST_SOURCE, [outcome], [rows.num_rows])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "ce_cost_forecast")
    if outcome.status != "ok":
        context.log.warning("no Cost Explorer forecast (%s): %s", outcome.status, outcome.detail)
    periods = rows.to_pylist()
    figures = (
        {
            "rest_of_month_forecast_usd": float(periods[0]["mean_usd"]) if periods else 0.0,
            "next_month_forecast_usd": float(periods[1]["mean_usd"]) if len(periods) > 1 else 0.0,
            "forecast_total_usd": float(Decimal(answer.get("Total", {}).get("Amount", "0"))),
        }
        if outcome.status == "ok"
        else {}  # unknown, not zero
    )
    return dg.MaterializeResult(
        metadata={**counted, **figures, "forecast_status": outcome.status, **call_metadata(calls)}
    )


def budget_row(budget: dict[str, Any], owner: str, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    spend = budget.get("CalculatedSpend") or {}
    filters = budget.get("CostFilters") or {}
    scope = budget_scope(budget)
    return {
        "snapshot_date": today,
        "owner_account_id": owner,
        "budget_name": budget["BudgetName"],
        "budget_type": budget.get("BudgetType", "COST"),
        "time_unit": budget.get("TimeUnit", "MONTHLY"),
        "limit_usd": money((budget.get("BudgetLimit") or {}).get("Amount")),
        "actual_spend_usd": money((spend.get("ActualSpend") or {}).get("Amount")),
        "forecasted_spend_usd": money((spend.get("ForecastedSpend") or {}).get("Amount")),
        "linked_account_ids": list(scope.account_ids),
        "cost_filters": json.dumps(filters, sort_keys=True),
        "fetched_at": now,
        "filter_expression": json.dumps(budget["FilterExpression"], sort_keys=True)
        if budget.get("FilterExpression")
        else None,
        "cost_types": json.dumps(budget.get("CostTypes") or {}, sort_keys=True),
        "scope_kind": scope.kind,
        "scope_description": scope.description,
        "measure": scope.measure,
    }


@dg.asset(
    name="aws_budgets",
    group_name=layers.RAW_BUDGETS,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="AWS Budgets of the management account (DescribeBudgets), when permitted; "
    "denials go to raw.scan_status.",
    metadata=tables.definition_metadata("aws_budgets"),
)
def aws_budgets(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    now = utc_now()
    today = now.date()
    rows: list[dict[str, Any]] = []
    with aws.tracked() as calls:
        owner = aws.caller_account_id()
        target = ScanTarget(owner, aws.region)
        try:
            for page in aws.client("budgets").get_paginator("describe_budgets").paginate(AccountId=owner):
                rows += [budget_row(b, owner, today, now) for b in page.get("Budgets", [])]
            outcome = ScanOutcome(target, "ok", "")
        except (ClientError, BotoCoreError) as exc:
            status, detail = classify_error(exc)
            if status == "error" and "NotFound" in detail:  # no budget at all
                status, detail = "ok", ""
            outcome = ScanOutcome(target, status, detail)
    table = pa.Table.from_pylist(rows, schema=BUDGET_SCHEMA)
    with warehouse.connect() as conn:
        if outcome.status == "ok":
            replace_rows(conn, "raw.aws_budgets", table, "snapshot_date = ?", (today,))
        record_scan_status(conn, "budgets", [outcome], [len(rows)])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "aws_budgets")
    if outcome.status != "ok":
        context.log.warning(
            "AWS Budgets not read (%s): %s; carrying on with thresholds only", outcome.status, outcome.detail
        )
    return dg.MaterializeResult(
        metadata={
            **counted,
            "budgets": len(rows),
            "budgets_status": outcome.status,
            "budgets_limit_usd": round(sum(float(r["limit_usd"] or 0) for r in rows), 2),
            **call_metadata(calls),
        }
    )


FORECAST_STATUS_SQL = "SELECT any_value(status) FROM raw.scan_status WHERE source = ?"


def forecast_status(conn: Any) -> str:
    """Whether ce_cost_forecast's last run got a forecast ('ok'; also before it ever recorded one)."""
    rows = conn.execute(FORECAST_STATUS_SQL, [FORECAST_SOURCE]).fetchall()  # fetched whole: conn.sql follows
    return rows[0][0] or "ok"


def compute_budget_status(conn: Any, alerts: SpendAlertsResource, as_of: dt.date) -> pa.Table:
    params = {
        "as_of": as_of,
        "monthly_warning": alerts.monthly_warning_usd,
        "daily_warning": alerts.daily_warning_usd,
        "forecast_status": forecast_status(conn),
    }
    return conn.sql(STATUS_SQL, params=params).to_arrow_table()


def _preview(rows: list[dict[str, Any]]) -> str:
    return md_table(
        ("scope", "account", "MTD USD", "forecast USD", "limit USD", "source", "status"),
        (
            (
                f"{r['scope']} {r['month']}",
                r["account_name"] or r["account_id"] or r["budget_name"],
                usd(r["month_to_date_usd"]),
                usd(r["forecast_usd"]),
                usd(r["limit_usd"]),
                r["limit_source"],
                r["status"],
            )
            for r in rows
        ),
        limit=12,
    )


@dg.asset(
    name="budget_status",
    group_name=layers.MARTS_BUDGETS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["ce_cost_daily", "aws_accounts", "ce_cost_forecast", "aws_budgets"],
    description="This month's actual and forecast spend against budgets and thresholds, "
    "per account and overall.",
    metadata=tables.definition_metadata("budget_status"),
)
def budget_status(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spend_alerts: SpendAlertsResource
) -> dg.MaterializeResult:
    now = utc_now()
    with warehouse.connect() as conn:
        conn.execute(STATUS_TABLE_SQL)
        table = compute_budget_status(conn, spend_alerts, now.date())
        cost_explorer_forecast = forecast_status(conn)
        table = table.append_column(
            "computed_at", pa.array([now] * table.num_rows, pa.timestamp("us", tz="UTC"))
        )
        with transaction(conn):
            conn.execute("DELETE FROM marts.budget_status")
            conn.register("incoming_status", table)
            conn.execute("INSERT INTO marts.budget_status BY NAME SELECT * FROM incoming_status")
            conn.unregister("incoming_status")
        counted = tables.row_count(conn, "budget_status")
    # the metadata watches this month and next; last month's final rows are history
    rows = [r for r in table.to_pylist() if r["month_state"] != "closed"]
    org = next((r for r in rows if r["scope"] == "organisation" and r["month_state"] == "current"), None)
    alerts = [
        r for r in rows if r["status"] in ("over_budget", "forecast_over_budget", "over_daily_threshold")
    ]
    context.log.info("budget_status: %d rows, %d alerts", len(rows), len(alerts))
    ordered = sorted(
        rows,
        key=lambda r: (
            r["status"] not in ("over_budget", "forecast_over_budget"),
            r["scope"] != "organisation",
        ),
    )
    return dg.MaterializeResult(
        metadata={
            **counted,
            "month_to_date_usd": round(org["month_to_date_usd"], 2) if org else 0.0,
            "forecast_month_end_usd": round(org["forecast_usd"] or 0.0, 2) if org else 0.0,
            "forecast_status": cost_explorer_forecast,
            "over_budget": sum(r["status"] == "over_budget" for r in rows),
            "forecast_over_budget": sum(r["status"] == "forecast_over_budget" for r in rows),
            "budgets_tracked": sum(r["limit_usd"] is not None for r in rows),
            "status": dg.MetadataValue.md(_preview(ordered)),
            # What the alert sensor sends (it may not read DuckDB): each breach of this month and next.
            "budget_breaches": dg.MetadataValue.json(budget_breaches(rows)),
        }
    )
