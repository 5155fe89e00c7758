"""Daily cost assets, one per Cost Explorer grain, partitioned by UTC day.

A run over a partition range fetches the whole window in one request stream (single-run backfill)
and replaces that window in one transaction, so re-running any range gives identical rows.
"""

import datetime as dt
from decimal import Decimal

import dagster as dg
import pyarrow as pa

from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.defs.automation.windows import REFRESH_TAG, restated_start
from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, CostGrain, fetch_grain
from finops_pipeline.settings import Settings
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_date_window


def partition_window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date()


def build_cost_asset(
    grain: CostGrain, settings: Settings, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    tag_keys: tuple[str | None, ...] = settings.required_tag_keys if grain.per_tag_key else (None,)

    @dg.asset(
        name=grain.asset_name,
        group_name="ingest",
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
        context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        start, end = partition_window(context)
        if grain.usage_only and context.run.tags.get(REFRESH_TAG) == "daily":
            # Nothing in this grain posts late: the daily refresh re-reads only the restated days.
            start = max(start, restated_start(settings, end - dt.timedelta(days=1)))
        with aws.tracked() as calls:
            ce = aws.client("ce")
            tables = [fetch_grain(ce, grain, start, end, tag_key) for tag_key in tag_keys]
        rows = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        with warehouse.connect() as conn:
            replace_date_window(conn, grain.table, rows, start, end)
            counted = row_count(conn, grain.asset_name)
            record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        unblended = pa.compute.sum(rows["unblended_cost"]).as_py() or Decimal(0)
        if grain.per_tag_key:
            unblended /= len(tag_keys)
        return dg.MaterializeResult(
            metadata={
                "window_start": start.isoformat(),
                "window_end_exclusive": end.isoformat(),
                **counted,  # the whole table; the window this run replaced:
                "dagster/partition_row_count": rows.num_rows,
                "unblended_cost_usd": float(round(unblended, 2)),
                "estimated_rows": int(pa.compute.sum(rows["is_estimated"]).as_py() or 0),
                **call_metadata(calls),
            }
        )

    return cost_asset


def build_cost_assets(settings: Settings, partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_cost_asset(grain, settings, partitions) for grain in COST_GRAINS]
