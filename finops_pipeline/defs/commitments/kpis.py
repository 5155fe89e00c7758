"""``commitment_kpis``: the rate-optimisation KPIs of Savings Plans and RIs, and their warnings.

Formulas (README, "Commitments"): utilization = used / commitment; coverage = covered / (covered +
eligible on demand), in dollars for Savings Plans and in hours for RIs, as AWS reports each; net savings =
on-demand equivalent - commitment; effective savings rate = net savings / (on-demand equivalent +
eligible on-demand spend), the saving over all the usage that could have been committed. The checks warn:
the organisation's utilization or coverage of the latest day below its target (COMMITMENT_*_TARGET), and
a commitment whose term ends within 30 days (renew or replace it before its usage falls back on demand).
"""

import datetime as dt
from importlib import resources
from typing import Any

import dagster as dg
import duckdb

from finops_pipeline import tables
from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import CommitmentPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.warehouse import WarehouseResource, transaction

KPIS_SQL = resources.files("finops_pipeline.defs.commitments").joinpath("sql/commitment_kpis.sql").read_text()
LATEST_SQL = """
SELECT commitment_type, commitment_usd, used_usd, unused_usd, utilization_pct, coverage_pct,
       on_demand_equivalent_usd, net_savings_usd, effective_savings_rate_pct, eligible_on_demand_usd
FROM marts.commitment_kpis
WHERE scope = 'organization' AND usage_date = (SELECT max(usage_date) FROM marts.commitment_kpis)
ORDER BY commitment_type
"""
EXPIRING_SQL = """
SELECT commitment_id, commitment_type, account_id, end_date, hourly_commitment FROM raw.commitment_inventory
WHERE state = 'active' AND end_date > ? AND end_date <= ? ORDER BY end_date, commitment_id
"""
CHECKS = (
    dg.AssetCheckSpec(
        "utilization_at_target",
        asset="commitment_kpis",
        description="Organisation utilization of each commitment type on the latest day is at least "
        "COMMITMENT_UTILIZATION_TARGET.",
    ),
    dg.AssetCheckSpec(
        "coverage_at_target",
        asset="commitment_kpis",
        description="Organisation coverage of each commitment type on the latest day is at least "
        "COMMITMENT_COVERAGE_TARGET.",
    ),
    dg.AssetCheckSpec(
        "no_commitment_expires_soon",
        asset="commitment_kpis",
        description="No Savings Plan or reservation term ends within 30 days of today.",
    ),
)


def write_commitment_kpis(conn: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``marts.commitment_kpis`` from the raw tables; returns its rows."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE new_commitment_kpis AS {KPIS_SQL}")
    with transaction(conn):
        conn.execute("DELETE FROM marts.commitment_kpis")
        conn.execute("INSERT INTO marts.commitment_kpis BY NAME SELECT * FROM new_commitment_kpis")
    conn.execute("DROP TABLE new_commitment_kpis")
    return int(conn.execute("SELECT count(*) FROM marts.commitment_kpis").fetchone()[0])


def _slug(commitment_type: str) -> str:
    """``savings_plans_compute`` from ``Savings Plans: Compute``: one underscore per run of non-letters."""
    return "_".join("".join(ch if ch.isalnum() else " " for ch in commitment_type.lower()).split())


def _target_check(
    name: str, latest: list[tuple[Any, ...]], column: int, target: float, what: str
) -> dg.AssetCheckResult:
    below = [(r[0], r[column]) for r in latest if r[column] is not None and r[column] < target]
    return dg.AssetCheckResult(
        check_name=name,
        passed=not below,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "target_pct": target,
            "below_target": len(below),
            "details": dg.MetadataValue.md(
                md_table(["commitment type", f"{what} %"], below) if below else "none"
            ),
        },
    )


def _expiry_check(conn: duckdb.DuckDBPyConnection, today: dt.date, days: int) -> dg.AssetCheckResult:
    soon = conn.execute(EXPIRING_SQL, [today, today + dt.timedelta(days=days)]).fetchall()
    return dg.AssetCheckResult(
        check_name="no_commitment_expires_soon",
        passed=not soon,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "window_days": days,
            "expiring": len(soon),
            "expiring_hourly_usd": float(sum(r[4] for r in soon)),
            "details": dg.MetadataValue.md(
                md_table(["commitment", "type", "account", "ends", "$/hour"], soon) if soon else "none"
            ),
        },
    )


def kpi_metadata(latest: list[tuple[Any, ...]]) -> dict[str, float]:
    """The latest day's organisation KPIs per type as plain numbers: Dagster plots them over runs.

    The largest commitment comes first, so a progress line's first dollar and percent figures are a
    type the organisation holds, not one it has none of (EC2 RIs at $0 sorted first by name).
    """
    names = ("commitment_usd", "used_usd", "unused_usd", "utilization_pct", "coverage_pct",
             "on_demand_equivalent_usd", "net_savings_usd", "effective_savings_rate_pct")  # fmt: skip
    return {
        f"{_slug(row[0])}_{name}": round(float(value), 4)
        for row in sorted(latest, key=lambda r: -float(r[1] or 0))
        for name, value in zip(names, row[1:9], strict=True)
        if value is not None
    }


@dg.asset(
    group_name=layers.MARTS_SAVINGS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["commitment_usage", "commitment_inventory"],
    check_specs=CHECKS,
    description="Savings Plans and RI utilization, coverage, savings and expiries per day, type and scope.",
    metadata=tables.definition_metadata("commitment_kpis"),
)
def commitment_kpis(
    warehouse: WarehouseResource, commitment_policy: CommitmentPolicyResource
) -> dg.MaterializeResult:
    today = today_utc()
    with warehouse.connect() as conn:
        rows = write_commitment_kpis(conn)
        latest = conn.execute(LATEST_SQL).fetchall()
        checks = [
            _target_check("utilization_at_target", latest, 4, commitment_policy.utilization_target_pct,
                          "utilization"),
            _target_check("coverage_at_target", latest, 5, commitment_policy.coverage_target_pct, "coverage"),
            _expiry_check(conn, today, commitment_policy.expiry_warning_days),
        ]  # fmt: skip
        counted = tables.row_count(conn, "commitment_kpis")
    table = [(r[0], *(None if v is None else round(float(v), 2) for v in r[1:9])) for r in latest]
    return dg.MaterializeResult(
        metadata={
            **counted,
            "kpi_rows": rows,
            **kpi_metadata(latest),
            "latest_day": dg.MetadataValue.md(
                md_table(
                    [
                        "type",
                        "commitment $",
                        "used $",
                        "unused $",
                        "util %",
                        "coverage %",
                        "OD equiv $",
                        "net savings $",
                        "ESR %",
                    ],
                    table,
                )
            ),
        },
        check_results=checks,
    )
