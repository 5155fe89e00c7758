"""Daily cost assets, one per Cost Explorer grain, partitioned by UTC day.

A run over a partition range fetches the whole window in one request stream (single-run backfill)
and replaces that window in one transaction, so re-running any range gives identical rows. The daily
refresh reads, inside its range, only the days the table still holds as estimated (``restatement``).
"""

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import dagster as dg

from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.config_resources import CostWindowResource, TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, CostGrain, stream_grain
from finops_pipeline.defs.ingest.partitions import daily_partitions
from finops_pipeline.defs.ingest.restatement import plan_reread, read_plan
from finops_pipeline.lib.cost_window import REFRESH_TAG, restated_start
from finops_pipeline.settings import load_settings
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_windows, staged


def partition_window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date()


DAILY_FIGURES_SQL = """
SELECT strftime(usage_date, '%Y-%m-%d'), count(*), sum(unblended_cost), sum(amortized_cost),
       sum(net_unblended_cost), count(*) FILTER (WHERE is_estimated)
FROM {table} WHERE usage_date >= ? AND usage_date < ? GROUP BY 1
"""


def day_metadata(
    rows: int = 0, unblended: Decimal = Decimal(0), amortized: Decimal = Decimal(0),
    net: Decimal = Decimal(0), estimated: int = 0,
) -> dict[str, float | int]:  # fmt: skip
    """One partition's own figures (a day Cost Explorer returned nothing for shows zeros, not gaps)."""
    return {
        "dagster/row_count": rows,
        "unblended_cost_usd": float(round(unblended, 2)),
        "amortized_cost_usd": float(round(amortized, 2)),
        "net_unblended_cost_usd": float(round(net, 2)),
        "estimated_rows": estimated,
    }


def daily_figures(conn: Any, grain: CostGrain, start: dt.date, end: dt.date, tag_keys: int) -> dict[str, Any]:
    """Each day's rows and cost in ``[start, end)`` as the table holds them after the write, by partition key.

    Read back from the table, not from this run's answers: a daily refresh re-reads only the estimated
    days, and the other days of its range keep (and show) their stored rows. A per-tag-key grain holds
    each day once per tag key, so its dollars are divided by the number of keys.
    """
    rows = conn.execute(DAILY_FIGURES_SQL.format(table=grain.table), [start, end]).fetchall()
    return {
        day: day_metadata(int(count), *(Decimal(v) / tag_keys for v in (unblended, amortized, net)), int(est))
        for day, count, unblended, amortized, net, est in rows
    }


def _cost_asset(grain: CostGrain, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=grain.asset_name,
        group_name=layers.RAW_COST,
        kinds={"aws", "duckdb"},
        owners=["team:finops"],
        pool="duckdb",
        description=grain.description,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={
            **definition_metadata(grain.asset_name),
            "group_by": ", ".join(grain.dimensions + (("TAG",) if grain.per_tag_key else ())),
        },
    )
    def cost_asset(
        context: dg.AssetExecutionContext,
        aws: AwsResource,
        warehouse: WarehouseResource,
        cost_window: CostWindowResource,
        tag_policy: TagPolicyResource,
    ) -> dg.MaterializeResult:
        tag_keys = tuple(tag_policy.required_keys) if grain.per_tag_key else (None,)
        start, end = partition_window(context)
        daily = context.run.tags.get(REFRESH_TAG) == "daily"
        with staged() as stage:
            with aws.tracked() as calls:
                ce = aws.client("ce")
                if daily:
                    with warehouse.connect() as conn:
                        tail = restated_start(cost_window, end - dt.timedelta(days=1))
                        plan = plan_reread(conn, grain.table, start, end, tail)
                    windows = read_plan(
                        ce, grain, tag_keys, plan, cost_window.restatement_request_budget, stage
                    )
                else:
                    for tag_key in tag_keys:
                        stream_grain(ce, grain, (start, end), tag_key, stage)
                    windows = [(start, end)]
            staged_rows, staged_cost = stage.totals("unblended_cost")
            with warehouse.connect() as conn:
                replace_windows(conn, grain.table, stage, windows)
                counted = row_count(conn, grain.asset_name)
                days = daily_figures(conn, grain, start, end, len(tag_keys))
                record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        read_start = windows[0][0] if windows else end
        skipped = sum((b[0] - a[1]).days for a, b in itertools.pairwise(windows))
        # Each partition carries its own day's figures, so the UI's partition plots show the daily
        # trend; the window's figures go on one observation instead of being copied onto every day.
        for key in context.partition_keys:
            context.add_asset_metadata(days.get(key, day_metadata()), partition_key=key)
        window = {
            "window_start": read_start.isoformat(),
            "window_end_exclusive": end.isoformat(),
            "window_days": (end - start).days,
            "window_rows": staged_rows,
            "window_unblended_cost_usd": float(round(Decimal(staged_cost) / len(tag_keys), 2)),
            "table_rows": counted["dagster/row_count"],
            "target": aws.run_target(),
            # Estimated days the request budget left unread this run (their stored figures stand).
            "estimated_days_not_reread": skipped,
            **call_metadata(calls),
        }
        context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata=window))
        return dg.MaterializeResult()

    return cost_asset


def build_cost_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """One asset per grain of ``COST_GRAINS``: the one factory of the ingest layer (one definition, many
    grains); the partitions come from the load-time start date."""
    return [_cost_asset(grain, partitions) for grain in COST_GRAINS]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=build_cost_assets(daily_partitions(load_settings())))
