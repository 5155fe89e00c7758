"""Daily cost assets, one per Cost Explorer grain, partitioned by UTC day.

A run over a partition range fetches the whole window in one request stream (single-run backfill)
and replaces that window in one transaction, so re-running any range gives identical rows. The daily
refresh reads, inside its range, only the days the table still holds as estimated (``restatement``).
"""

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import dagster as dg

from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import CostWindowResource, FocusExportResource, TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, CostGrain, stream_grain
from finops_pipeline.defs.ingest.cost_export import ExportRead, stage_export
from finops_pipeline.defs.ingest.partitions import daily_partitions
from finops_pipeline.defs.ingest.restatement import (
    PROBE_MIN_PAGES,
    Reread,
    mark_final,
    plan_reread,
    read_plan,
    stored_days,
)
from finops_pipeline.lib.cost_window import REFRESH_TAG, restated_start
from finops_pipeline.lib.focus.grains import uncovered
from finops_pipeline.request_budget import RequestBudget
from finops_pipeline.settings import load_settings
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.warehouse import Stage, WarehouseResource, record_api_calls, replace_windows, staged


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


# AWS documents no page size for GetCostAndUsage (a NextPageToken comes "when the response from a
# previous call has more results than the maximum page size"); the estimate from stored rows assumes
# the sandbox's 1,000 groups, and each stream's first page corrects it (``pages_ahead``).
ASSUMED_PAGE_GROUPS = 1000
GROUPS_PER_DAY_SQL = """
SELECT k, max(n) FROM (
    SELECT {key} AS k, usage_date, count(*) AS n FROM {table}
    WHERE usage_date > (SELECT max(usage_date) FROM {table}) - 7 GROUP BY ALL
) GROUP BY 1
"""


def groups_per_day(conn: Any, grain: CostGrain) -> dict[str, int]:
    """Per tag key ('' for none), the most groups of a day in the last stored week."""
    key = "tag_key" if grain.per_tag_key else "''"
    return dict(conn.execute(GROUPS_PER_DAY_SQL.format(key=key, table=grain.table)).fetchall())


def pages_for(per_day: dict[str, int], tag_keys: tuple[str | None, ...], days: int) -> int:
    """The pages the stored rows say ``days`` days of every stream would take (0 with nothing stored)."""
    return sum(
        math.ceil(per_day[k or ""] * days / ASSUMED_PAGE_GROUPS) for k in tag_keys if (k or "") in per_day
    )


def _reserve(budget: RequestBudget, grain: CostGrain, window: tuple[dt.date, dt.date], pages: int) -> None:
    """Refuse, before the first request, a read the stored rows say would pass the run's budget.

    A grain (or key) with nothing stored yet is estimated from its first page instead (``stream_grain``).
    """
    if pages:
        budget.reserve(pages, f"{grain.asset_name} over {window[0]}..{window[1] - dt.timedelta(days=1)}")


def detail_start(grain: CostGrain, cost_window: CostWindowResource, start: dt.date) -> dt.date:
    """The first day of ``start``'s range the grain reads: the drill-down grain, its last
    ``FINOPS_DRILLDOWN_DAYS`` days only (its older partitions keep what they hold)."""
    if not grain.drilldown:
        return start
    return max(start, today_utc() - dt.timedelta(days=cost_window.drilldown_days))


def _stage_window(
    aws: AwsResource,
    grain: CostGrain,
    tag_keys: tuple[str | None, ...],
    window: tuple[dt.date, dt.date],
    daily: bool,
    warehouse: WarehouseResource,
    cost_window: CostWindowResource,
    stage: Stage,
) -> Reread:
    """Stage the rows this run reads, and the windows they replace: the whole partition range, or on the
    daily refresh the days its table still holds as estimated and that moved (``restatement``)."""
    start, end = window
    if start >= end:  # the whole range is older than the drill-down window
        return Reread()
    ce, budget = aws.client("ce"), aws.budget
    if not daily:
        with warehouse.connect() as conn:
            pages = pages_for(groups_per_day(conn, grain), tag_keys, (end - start).days)
        _reserve(budget, grain, window, pages)
        for tag_key in tag_keys:
            stream_grain(ce, grain, window, tag_key, stage, reserve=budget.reserve)
        return Reread(windows=[window], checked_from=start)
    per_stream = cost_window.restatement_request_budget
    with warehouse.connect() as conn:
        tail_floor = restated_start(cost_window, end - dt.timedelta(days=1))
        plan = plan_reread(conn, grain.table, start, end, tail_floor)
        per_day = groups_per_day(conn, grain)
        head = pages_for(per_day, tag_keys, (plan.tail_start - plan.start).days)
        tail = pages_for(per_day, tag_keys, (end - plan.tail_start).days)
        probe = head > PROBE_MIN_PAGES
        stored = stored_days(conn, grain, (plan.start, plan.tail_start)) if probe else None
    # At most the restatement budget per stream on the older days (the probe's own page beside), then
    # the newest days.
    _reserve(budget, grain, (plan.start, end), min(head, per_stream * len(tag_keys)) + tail + probe)
    return read_plan(ce, grain, tag_keys, plan, per_stream, stage, budget.reserve, stored)


def _merged(exported: ExportRead, parts: list[Reread]) -> Reread:
    """One run's reads: the export's windows and each Cost Explorer read of the days it lacks."""
    checked = [p.checked_from for p in parts if p.checked_from] + [w[0] for w in exported.windows]
    return Reread(
        windows=sorted([*exported.windows, *(w for p in parts for w in p.windows)]),
        checked_from=min(checked) if checked else None,
        finalised=[day for p in parts for day in p.finalised],
        confirmed=sum(p.confirmed for p in parts),
        not_reread=sum(p.not_reread for p in parts),
    )


def _export_metadata(exported: ExportRead, source: str) -> dict[str, Any]:
    return {
        "detail_source": source,
        "export_days_read": sum((b - a).days for a, b in exported.windows),
        "export_files_read": exported.files,
        "export_bytes_read": exported.bytes_read,
        # Why Cost Explorer read the days the export would have given ('' when it did not).
        "detail_source_fallback": exported.fallback,
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
        focus_export: FocusExportResource,
    ) -> dg.MaterializeResult:
        tag_keys = tuple(tag_policy.required_keys) if grain.per_tag_key else (None,)
        start, end = partition_window(context)
        daily = context.run.tags.get(REFRESH_TAG) == "daily"
        with staged() as stage:
            with aws.tracked() as calls:
                span = (detail_start(grain, cost_window, start), end)
                # The days the Data Export holds come from it (FINOPS_COST_DETAIL_SOURCE), the rest
                # from Cost Explorer; without an export that is the whole span.
                exported = stage_export(aws, focus_export, cost_window, grain, tag_keys, (start, end), stage)
                reread = _merged(
                    exported,
                    [
                        _stage_window(aws, grain, tag_keys, gap, daily, warehouse, cost_window, stage)
                        for gap in uncovered(exported.windows, *span)
                    ],
                )
            staged_rows, staged_cost = stage.totals("unblended_cost")
            with warehouse.connect() as conn:
                replace_windows(conn, grain.table, stage, reread.windows)
                mark_final(conn, grain.table, reread.finalised)
                counted = row_count(conn, grain.asset_name)
                days = daily_figures(conn, grain, start, end, len(tag_keys))
                record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        read_start = reread.windows[0][0] if reread.windows else end
        # Each partition carries its own day's figures, so the UI's partition plots show the daily
        # trend; the window's figures go on one observation instead of being copied onto every day.
        for key in context.partition_keys:
            context.add_asset_metadata(days.get(key, day_metadata()), partition_key=key)
        window = {
            "window_start": read_start.isoformat(),
            # The first day this run looked at: read, or probed and found unchanged (``restatement``).
            "window_checked_start": (reread.checked_from or read_start).isoformat(),
            "window_end_exclusive": end.isoformat(),
            "window_days": (end - start).days,
            "window_rows": staged_rows,
            "window_unblended_cost_usd": float(round(Decimal(staged_cost) / len(tag_keys), 2)),
            "table_rows": counted["dagster/row_count"],
            "target": aws.run_target(),
            "window_days_read": sum((b - a).days for a, b in reread.windows),
            # Days of the range before the drill-down window (FINOPS_DRILLDOWN_DAYS): not read.
            "days_before_drilldown_window": (min(span[0], end) - start).days,
            # Estimated days the request budget left unread this run (their stored figures stand).
            "estimated_days_not_reread": reread.not_reread,
            # Estimated days whose total had not moved (rows kept), and those now final without a read.
            "estimated_days_unchanged": reread.confirmed,
            "days_flagged_final_unread": len(reread.finalised),
            **_export_metadata(exported, focus_export.cost_detail_source),
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
