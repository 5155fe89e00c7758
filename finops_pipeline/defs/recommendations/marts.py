"""``marts.recommendations`` as a plain function of a DuckDB connection (asset, tests and bench share it)."""

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from finops_pipeline.lib.idle_rules import rules_table
from finops_pipeline.warehouse import transaction

HOURS_PER_MONTH = 730  # AWS's own monthly-hours convention
# Days an instance must have been stopped before it is recommended for termination: a shorter stop is usually
# maintenance or an off-hours schedule. AWS Config's ec2-stopped-instance rule defaults to 30 days
# (https://docs.aws.amazon.com/config/latest/developerguide/ec2-stopped-instance.html); two weeks already
# covers any schedule and a holiday, and the stopped instance keeps billing its volumes every day it waits.
STOPPED_INSTANCE_MIN_DAYS = 14
PRICES_PATH = Path(__file__).resolve().parents[2] / "data" / "aws_list_prices.json"
_SQL = resources.files("finops_pipeline.defs.recommendations").joinpath("sql")
RECOMMENDATIONS_SQL = _SQL.joinpath("recommendations.sql").read_text()
IDLE_WASTE_SQL = _SQL.joinpath("idle_waste.sql").read_text()
KINDS = (
    "reserved_instances",
    "savings_plans",
    "rightsizing",
    "unattached_ebs_volume",
    "unassociated_elastic_ip",
    "stopped_instance",
    "old_snapshot",
    "old_ami",
    "idle_load_balancer",
    "idle_nat_gateway",
    "idle_rds_instance",
    "idle_lambda_provisioned_concurrency",
)
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600  # provisioned concurrency bills per GB-second


def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def register_prices(conn: duckdb.DuckDBPyConnection, prices: dict[str, Any]) -> str:
    """The list prices the estimates use (and the idle rules), as temp tables; returns the reference printed
    in each estimate."""
    ebs = [
        (vtype, region, float(price))
        for vtype, by_region in prices["ebs_gb_month"].items()
        for region, price in by_region.items()
    ]
    tables = {
        "price_ebs": pa.table(
            {
                "volume_type": [r[0] for r in ebs],
                "region": [r[1] for r in ebs],
                "usd_gb_month": pa.array([r[2] for r in ebs], pa.float64()),
            }
        ),
        "price_snapshot": pa.table(
            {
                "region": list(prices["ebs_snapshot_gb_month"]),
                "usd_gb_month": pa.array(
                    [float(v) for v in prices["ebs_snapshot_gb_month"].values()], pa.float64()
                ),
            }
        ),
        "price_ipv4": pa.table(
            {
                "region": list(prices["public_ipv4_hourly"]["idle"]),
                "usd_hour": pa.array(
                    [float(v) for v in prices["public_ipv4_hourly"]["idle"].values()], pa.float64()
                ),
            }
        ),
    }
    tables |= {
        "price_elb": _regional_table(
            "lb_type",
            [(t, r, p) for t, by_region in _items(prices["elb_hourly"]) for r, p in by_region.items()],
        ),
        "price_nat": _regional_table(None, [(None, r, p) for r, p in prices["nat_gateway_hourly"].items()]),
        "price_rds": _regional_table(
            "db_class",
            [
                (c, r, p)
                for c, by_region in _items(prices["rds_instance_hourly"])
                for r, p in by_region.items()
            ],
        ),
        "price_lambda_pc": pa.table(
            {
                "region": list(prices["lambda_provisioned_concurrency_gb_second"]["price"]),
                "usd_gb_second": pa.array(
                    [float(v) for v in prices["lambda_provisioned_concurrency_gb_second"]["price"].values()],
                    pa.float64(),
                ),
            }
        ),
        "idle_rules": rules_table(),
    }
    for name, table in tables.items():
        conn.register(f"{name}_in", table)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_in")
        conn.unregister(f"{name}_in")
    return f"list price of {prices['as_of']}, data/aws_list_prices.json"


def _items(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """The priced members of a list-price entry (its "note" is text, not a price)."""
    return [(k, v) for k, v in entry.items() if isinstance(v, dict)]


def _regional_table(key: str | None, rows: list[tuple[Any, str, Any]]) -> pa.Table:
    """(key, region, USD an hour) rows as a price table; ``key`` None: a price per region only."""
    columns: dict[str, Any] = {} if key is None else {key: [r[0] for r in rows]}
    columns |= {
        "region": [r[1] for r in rows],
        "usd_hour": pa.array([float(r[2]) for r in rows], pa.float64()),
    }
    return pa.table(columns)


def write_recommendations(
    conn: duckdb.DuckDBPyConnection,
    snapshot_date: dt.date,
    max_snapshot_age_days: int,
    prices: dict[str, Any] | None = None,
) -> int:
    """Replace ``marts.recommendations`` with today's snapshot, keeping each recommendation's first day."""
    reference = register_prices(conn, prices or load_prices())
    params = {
        "snapshot_date": snapshot_date,
        "max_snapshot_age_days": max_snapshot_age_days,
        "hours_per_month": HOURS_PER_MONTH,
        "stopped_min_days": STOPPED_INSTANCE_MIN_DAYS,
        "price_ref": reference,
    }
    idle_params = {k: params[k] for k in ("hours_per_month", "price_ref")}
    idle_params["seconds_per_month"] = SECONDS_PER_MONTH
    conn.execute(f"CREATE OR REPLACE TEMP TABLE idle_waste AS {IDLE_WASTE_SQL}", idle_params)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE new_recommendations AS {RECOMMENDATIONS_SQL}", params)
    with transaction(conn):
        conn.execute("DELETE FROM marts.recommendations")
        conn.execute("INSERT INTO marts.recommendations BY NAME SELECT * FROM new_recommendations")
    conn.execute("DROP TABLE new_recommendations")
    conn.execute("DROP TABLE idle_waste")
    return int(conn.execute("SELECT count(*) FROM marts.recommendations").fetchall()[0][0])
