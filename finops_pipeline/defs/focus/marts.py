"""Resource-grain marts from the FOCUS export: spend coverage by the tag policy, and showback by one key.

Partitioned by billing period like ``focus_cost``: a run rebuilds the periods it was asked for, so the
export's open period is re-computed without the closed ones.
"""

import dagster as dg
import duckdb

from finops_pipeline import tables
from finops_pipeline.config_resources import FocusExportResource, TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.focus.partitions import FOCUS_PERIODS
from finops_pipeline.lib.focus.marts import write_showback, write_spend_coverage
from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource

ROWS_SQL = "SELECT count(*) FROM {table} WHERE billing_period = ?"


def _coverage_figures(conn: duckdb.DuckDBPyConnection, period: str) -> dict[str, object]:
    """One period's spend coverage: totals, the untagged dollars and the services with the most."""
    total, tagged = conn.execute(
        "SELECT coalesce(sum(effective_cost), 0), coalesce(sum(tagged_cost), 0) "
        "FROM marts.focus_spend_coverage WHERE billing_period = ? AND dimension = 'service'",
        [period],
    ).fetchone()
    worst = conn.execute(
        "SELECT dimension_value, round(untagged_cost, 2), round(coverage_pct, 1) "
        "FROM marts.focus_spend_coverage WHERE billing_period = ? AND dimension = 'service' "
        "ORDER BY untagged_cost DESC LIMIT 10",
        [period],
    ).fetchall()
    coverage = {"coverage_pct": round(100.0 * float(tagged) / float(total), 2)} if total else {}
    (rows,) = conn.execute(ROWS_SQL.format(table="marts.focus_spend_coverage"), [period]).fetchone()
    return {
        "dagster/row_count": int(rows),
        "effective_cost_usd": round(float(total), 2),
        "untagged_cost_usd": round(float(total - tagged), 2),
        **coverage,
        "most_untagged_services": dg.MetadataValue.md(
            md_table(["service", "untagged $", "coverage %"], worst)
        ),
    }


@dg.asset(
    group_name=layers.MARTS_FOCUS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["focus_cost"],
    partitions_def=FOCUS_PERIODS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Spend-weighted tag coverage per service, resource type and resource (FOCUS export).",
    metadata=tables.definition_metadata("focus_spend_coverage"),
)
def focus_spend_coverage(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, tag_policy: TagPolicyResource
) -> dg.MaterializeResult:
    periods = list(context.partition_keys)
    with warehouse.connect() as conn:
        write_spend_coverage(conn, tag_policy.rules(), periods)
        for period in periods:
            context.add_asset_metadata(_coverage_figures(conn, period), partition_key=period)
    return dg.MaterializeResult()


def _showback_figures(conn: duckdb.DuckDBPyConnection, period: str, tag_key: str) -> dict[str, object]:
    """One period's showback: tagged, untagged and shared dollars and the largest allocations."""
    split = dict(
        conn.execute(
            "SELECT allocation, sum(effective_cost) FROM marts.focus_showback WHERE billing_period = ? "
            "GROUP BY 1",
            [period],
        ).fetchall()
    )
    top = conn.execute(
        "SELECT allocation, tag_value, effective_cost, round(share_pct, 1) FROM marts.focus_showback "
        "WHERE billing_period = ? ORDER BY effective_cost DESC LIMIT 15",
        [period],
    ).fetchall()
    (rows,) = conn.execute(ROWS_SQL.format(table="marts.focus_showback"), [period]).fetchone()
    return {
        "dagster/row_count": int(rows),
        "tag_key": tag_key,
        **{
            f"{kind}_cost_usd": round(float(split.get(kind, 0)), 2)
            for kind in ("tagged", "untagged", "shared")
        },
        "largest": dg.MetadataValue.md(
            md_table(
                ["allocation", "value", "cost $", "share %"], [(a, v, usd(float(c)), s) for a, v, c, s in top]
            )
        ),
    }


@dg.asset(
    group_name=layers.MARTS_FOCUS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["focus_cost"],
    partitions_def=FOCUS_PERIODS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Cost per value of the showback tag key, untagged and shared cost as their own rows.",
    metadata=tables.definition_metadata("focus_showback"),
)
def focus_showback(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    focus_export: FocusExportResource,
    tag_policy: TagPolicyResource,
) -> dg.MaterializeResult:
    periods = list(context.partition_keys)
    key = focus_export.showback_tag_key
    with warehouse.connect() as conn:
        write_showback(conn, key, tag_policy.key_case_mode, periods)
        for period in periods:
            context.add_asset_metadata(_showback_figures(conn, period, key), partition_key=period)
    return dg.MaterializeResult()
