"""Resource-grain marts from the FOCUS export: spend coverage by the tag policy, and showback by one key."""

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.config_resources import FocusExportResource, TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.lib.focus.marts import write_showback, write_spend_coverage
from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource

LATEST_PERIOD_SQL = "SELECT max(billing_period) FROM {table}"


@dg.asset(
    group_name=layers.MARTS_FOCUS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["focus_cost"],
    description="Spend-weighted tag coverage per service, resource type and resource (FOCUS export).",
    metadata=tables.definition_metadata("focus_spend_coverage"),
)
def focus_spend_coverage(warehouse: WarehouseResource, tag_policy: TagPolicyResource) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        write_spend_coverage(conn, tag_policy.rules())
        period = conn.execute(LATEST_PERIOD_SQL.format(table="marts.focus_spend_coverage")).fetchone()[0]
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
        counted = tables.row_count(conn, "focus_spend_coverage")
    coverage = {"coverage_pct": round(100.0 * float(tagged) / float(total), 2)} if total else {}
    return dg.MaterializeResult(
        metadata={
            **counted,
            "billing_period": str(period),
            "effective_cost_usd": round(float(total), 2),
            "untagged_cost_usd": round(float(total - tagged), 2),
            **coverage,
            "most_untagged_services": dg.MetadataValue.md(
                md_table(["service", "untagged $", "coverage %"], worst)
            ),
        }
    )


@dg.asset(
    group_name=layers.MARTS_FOCUS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["focus_cost"],
    description="Cost per value of the showback tag key, untagged and shared cost as their own rows.",
    metadata=tables.definition_metadata("focus_showback"),
)
def focus_showback(
    warehouse: WarehouseResource, focus_export: FocusExportResource, tag_policy: TagPolicyResource
) -> dg.MaterializeResult:
    with warehouse.connect() as conn:
        write_showback(conn, focus_export.showback_tag_key, tag_policy.key_case_mode)
        period = conn.execute(LATEST_PERIOD_SQL.format(table="marts.focus_showback")).fetchone()[0]
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
        counted = tables.row_count(conn, "focus_showback")
    return dg.MaterializeResult(
        metadata={
            **counted,
            "tag_key": focus_export.showback_tag_key,
            "billing_period": str(period),
            **{
                f"{kind}_cost_usd": round(float(split.get(kind, 0)), 2)
                for kind in ("tagged", "untagged", "shared")
            },
            "largest": dg.MetadataValue.md(
                md_table(
                    ["allocation", "value", "cost $", "share %"],
                    [(a, v, usd(float(c)), s) for a, v, c, s in top],
                )
            ),
        }
    )
