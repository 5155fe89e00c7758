"""``recommendations``: every way to save in one mart, with dollars and how they were estimated."""

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.defs.recommendations.marts import KINDS, build_recommendations, load_prices
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.settings import Settings
from finops_pipeline.warehouse import WarehouseResource

PER_KIND_SQL = """
SELECT kind, count(*), coalesce(sum(estimated_monthly_savings_usd), 0) FROM marts.recommendations GROUP BY 1
"""
TOP_SQL = """
SELECT kind, account_id, region, resource_id, action, round(estimated_monthly_savings_usd, 2), first_seen_date
FROM marts.recommendations
ORDER BY estimated_monthly_savings_usd DESC NULLS LAST, recommendation_id
LIMIT 10
"""


def build_recommendations_asset(settings: Settings) -> dg.AssetsDefinition:
    max_age = settings.snapshot_max_age_days

    @dg.asset(
        group_name=layers.MARTS_SAVINGS,
        kinds={"duckdb"},
        owners=["team:finops"],
        pool="duckdb",
        deps=["ce_recommendations", "ec2_inventory"],
        description=(
            "Every way to save: RI / Savings Plans / rightsizing from Cost Explorer and EC2 waste "
            "(unattached volumes, idle IPs, stopped instances, old snapshots), in monthly USD."
        ),
        metadata={**tables.definition_metadata("recommendations"), "snapshot_max_age_days": max_age},
    )
    def recommendations(warehouse: WarehouseResource) -> dg.MaterializeResult:
        prices = load_prices()
        with warehouse.connect() as conn:
            rows = build_recommendations(conn, utc_now().date(), max_age, prices)
            per_kind = {kind: (int(n), float(usd)) for kind, n, usd in conn.execute(PER_KIND_SQL).fetchall()}
            top = conn.execute(TOP_SQL).fetchall()
            counted = tables.row_count(conn, "recommendations")
        waste = sum(per_kind.get(k, (0, 0.0))[1] for k in KINDS[3:])
        purchases = max(
            per_kind.get("reserved_instances", (0, 0.0))[1], per_kind.get("savings_plans", (0, 0.0))[1]
        )
        return dg.MaterializeResult(
            metadata={
                **counted,
                "recommendations": rows,
                **{f"{kind}_count": per_kind.get(kind, (0, 0.0))[0] for kind in KINDS},
                **{
                    f"{kind}_monthly_savings_usd": round(per_kind.get(kind, (0, 0.0))[1], 2) for kind in KINDS
                },
                "waste_monthly_savings_usd": round(waste, 2),
                # RI and Savings Plans cover the same usage: count the larger, never both.
                "total_monthly_savings_usd": round(
                    waste + per_kind.get("rightsizing", (0, 0.0))[1] + purchases, 2
                ),
                "list_prices_as_of": prices["as_of"],
                "top_10": dg.MetadataValue.md(
                    md_table(
                        ["kind", "account", "region", "resource", "action", "$/month", "first seen"], top
                    )
                ),
            }
        )

    return recommendations
