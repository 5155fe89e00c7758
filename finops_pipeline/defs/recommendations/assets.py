"""``recommendations``: every way to save in one mart, with dollars and how they were estimated."""

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import SavingsPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.recommendations.marts import KINDS, load_prices, write_recommendations
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.lib.savings import total_monthly_savings
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


@dg.asset(
    group_name=layers.MARTS_SAVINGS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=[
        "ce_recommendations",
        "ec2_inventory",
        "rds_inventory",
        "elbv2_inventory",
        "resource_activity",
        "commitment_usage",
    ],
    description=(
        "Every way to save: RI / Savings Plans / rightsizing from Cost Explorer and waste (unattached "
        "volumes, idle IPs, stopped instances, old snapshots and AMIs, idle load balancers, NAT gateways and "
        "databases), in monthly USD."
    ),
    metadata=tables.definition_metadata("recommendations"),
)
def recommendations(
    warehouse: WarehouseResource, savings_policy: SavingsPolicyResource
) -> dg.MaterializeResult:
    max_age = savings_policy.snapshot_max_age_days
    prices = load_prices()
    with warehouse.connect() as conn:
        rows = write_recommendations(conn, utc_now().date(), max_age, prices)
        per_kind = {kind: (int(n), float(usd)) for kind, n, usd in conn.execute(PER_KIND_SQL).fetchall()}
        top = conn.execute(TOP_SQL).fetchall()
        counted = tables.row_count(conn, "recommendations")
    waste = sum(per_kind.get(k, (0, 0.0))[1] for k in KINDS[3:])
    return dg.MaterializeResult(
        metadata={
            **counted,
            "recommendations": rows,
            "snapshot_max_age_days": max_age,
            **{f"{kind}_count": per_kind.get(kind, (0, 0.0))[0] for kind in KINDS},
            **{f"{kind}_monthly_savings_usd": round(per_kind.get(kind, (0, 0.0))[1], 2) for kind in KINDS},
            "waste_monthly_savings_usd": round(waste, 2),
            "total_monthly_savings_usd": round(
                total_monthly_savings({kind: usd for kind, (_, usd) in per_kind.items()}), 2
            ),
            "list_prices_as_of": prices["as_of"],
            "top_10": dg.MetadataValue.md(
                md_table(["kind", "account", "region", "resource", "action", "$/month", "first seen"], top)
            ),
        }
    )
