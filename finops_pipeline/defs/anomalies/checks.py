"""Checks on ``cost_anomalies``: warn when a new high-severity anomaly appears (key check: the registry)."""

import dagster as dg

from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource

RECENT_DAYS = 7
# A new high-severity anomaly: ours, high, first seen by the latest computation, active in the last
# RECENT_DAYS. The asset lists the same rows for the alert e-mail sensor.
NEW_HIGH_SQL = f"""
SELECT event_id, grain, coalesce(account_name, account_id, 'organisation') AS who,
       coalesce(service, '') AS service,
       start_date, end_date, impact_usd, top_driver_dimension, top_driver_value
FROM marts.cost_anomalies
WHERE source = 'finops_pipeline' AND severity = 'high'
  AND first_seen_at = (SELECT max(computed_at) FROM marts.cost_anomalies)
  AND end_date >= (SELECT max(end_date) FROM marts.cost_anomalies WHERE source = 'finops_pipeline')
                  - {RECENT_DAYS}
ORDER BY abs(impact_usd) DESC
"""


@dg.asset_check(
    asset="cost_anomalies",
    name="no_new_high_severity_anomaly",
    description="Warns when this run found a high-severity anomaly not seen before "
    f"(active in the last {RECENT_DAYS} days).",
)
def no_new_high_severity_anomaly(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        rows = conn.execute(NEW_HIGH_SQL).fetchall()
    table = md_table(
        ("grain", "account", "service", "start", "end", "impact USD", "top driver"),
        ((*r[1:6], usd(r[6]), f"{r[7] or ''}={r[8] or ''}") for r in rows),
        limit=20,
    )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "new_high_severity": len(rows),
            "new_high_severity_impact_usd": round(sum(float(r[6]) for r in rows), 2),
            "anomalies": dg.MetadataValue.md(table),
        },
    )
