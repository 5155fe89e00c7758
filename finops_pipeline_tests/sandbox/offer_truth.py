"""The world's truth about RI offers, computed from its ledger without the emulator: what a Cost Explorer
recommendation for each offer must say (shared by the sandbox and the pipeline tests)."""

from __future__ import annotations

import math
from typing import Any

import duckdb

from finops_sandbox import offers
from finops_sandbox.cost_explorer.recommendations import HOURS_PER_MONTH, RI_DISCOUNT

EC2 = "Amazon Elastic Compute Cloud - Compute"
RDS = "Amazon Relational Database Service"
OFFER_FIELDS = (
    "Platform",
    "Tenancy",
    "DatabaseEngine",
    "DatabaseEdition",
    "DeploymentOption",
    "LicenseModel",
)


def offer_key(detail: dict[str, Any]) -> tuple:
    instance = next(iter(detail["InstanceDetails"].values()))
    return (
        detail["AccountId"],
        instance["Region"],
        instance["InstanceType"],
        *(instance.get(f) for f in OFFER_FIELDS),
    )


def ledger_truth(world: Any, service: str) -> dict[tuple, str]:
    """Offer -> monthly savings, straight from the ledger: whole instances of the steadiest day's on-demand
    usage over the 30 days, at the offer's own rate, 30% off (one year, no upfront)."""
    codes = offers.EC2_CODES if service == EC2 else offers.RDS_CODES
    con = duckdb.connect()
    con.register("l", world.ledger)
    rows = con.execute(
        """
        WITH daily AS (
            SELECT region, usage_type, operation, usage_date,
                   sum(usage_quantity)::DOUBLE AS hours, sum(unblended_cost)::DOUBLE AS cost
            FROM l
            WHERE service = ? AND record_type = 'Usage' AND (usage_type LIKE ? OR usage_type LIKE ?)
              AND usage_date >= ?::DATE - 30 AND usage_date < ?
            GROUP BY ALL)
        SELECT region, usage_type, operation, min(hours), sum(cost) / sum(hours), count(*)
        FROM daily GROUP BY ALL
        """,
        [service, *(f"%{c}%" for c in codes), world.data_end, world.data_end],
    ).fetchall()
    truth = {}
    for region, usage_type, operation, min_hours, rate, days in rows:
        count = math.floor(min_hours / 24)
        if days < 30 or count < 1:
            continue
        instance = offers.instance_details(
            service == EC2, offers.instance_type_of(usage_type), region, usage_type, operation
        )
        key = offer_key({"AccountId": world.management_account_id, "InstanceDetails": instance})
        savings = count * rate * HOURS_PER_MONTH * RI_DISCOUNT[("ONE_YEAR", "NO_UPFRONT")]
        truth[key] = f"{round(savings, 2):.2f}"
    return truth
