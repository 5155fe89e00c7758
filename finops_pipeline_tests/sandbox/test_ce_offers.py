"""RI and Savings Plans recommendations are distinct per offer, as AWS's are: near-duplicate offers of the
default world (one type or class, another platform / tenancy / engine / deployment / licence) come back as
details of their own, each with the savings the world's ledger implies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from finops_pipeline_tests.sandbox.ce_fixture import ok
from finops_pipeline_tests.sandbox.offer_truth import EC2, RDS, ledger_truth, offer_key
from finops_sandbox import offers
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import World, WorldConfig, build_world

BODY = {"LookbackPeriodInDays": "THIRTY_DAYS", "TermInYears": "ONE_YEAR", "PaymentOption": "NO_UPFRONT"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(WorldConfig(accounts=12, as_of=dt.date(2026, 11, 27)))


@pytest.fixture(scope="module")
def ce(world: World) -> CostExplorerEmulator:
    return CostExplorerEmulator(world)


def details(ce: CostExplorerEmulator, service: str) -> list[dict[str, Any]]:
    [recommendation] = ok(ce, "GetReservationPurchaseRecommendation", BODY | {"Service": service})[
        "Recommendations"
    ]
    return recommendation["RecommendationDetails"]


@pytest.mark.parametrize("service", [EC2, RDS])
def test_one_detail_per_offer_with_the_ledgers_savings(
    world: World, ce: CostExplorerEmulator, service: str
) -> None:
    got = {offer_key(d): d["EstimatedMonthlySavingsAmount"] for d in details(ce, service)}
    assert len(got) == len(details(ce, service))  # no two details describe one offer
    assert got == ledger_truth(world, service)


def test_near_duplicate_offers_are_separate_details(ce: CostExplorerEmulator) -> None:
    ec2 = [offer_key(d) for d in details(ce, EC2)]
    rds = [offer_key(d) for d in details(ce, RDS)]

    def variants(keys: list[tuple], position: int) -> set[str]:
        """Values of one attribute among offers that share account, region and type with another offer."""
        by_type: dict[tuple, set] = {}
        for key in keys:
            by_type.setdefault(key[:3], set()).add(key[position])
        return set().union(*(v for v in by_type.values() if len(v) > 1))

    assert {"Linux/UNIX", "Windows"} <= variants(ec2, 3)
    assert {"shared", "dedicated"} <= variants(ec2, 4)
    assert {"MySQL", "PostgreSQL", "Oracle"} <= variants(rds, 5)
    assert {"Single-AZ", "Multi-AZ"} <= variants(rds, 7)
    assert {"Bring your own license", "License included"} <= variants(rds, 8)
    oracle = [
        d
        for d in details(ce, RDS)
        if d["InstanceDetails"]["RDSInstanceDetails"]["DatabaseEngine"] == "Oracle"
    ]
    assert {d["InstanceDetails"]["RDSInstanceDetails"]["DatabaseEdition"] for d in oracle} == {"Standard Two"}


def test_resources_say_which_offer_bills_them(world: World) -> None:
    """Every instance and database names its usage type and operation, the ledger bills exactly those, and
    the twin workload runs each near-duplicate offer."""
    resources = [r for r in world.resources.to_pylist() if r["resource_type"] in ("ec2:instance", "rds:db")]
    assert all(r["usage_type"] and r["operation"] for r in resources)
    con = duckdb.connect()
    con.register("l", world.ledger)
    billed = set(
        con.execute(
            "SELECT DISTINCT account_id, usage_type, operation FROM l "
            "WHERE record_type IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') "
            "AND service IN (?, ?)",
            [EC2, RDS],
        ).fetchall()
    )
    running = {
        (r["account_id"], r["usage_type"], r["operation"]) for r in resources if r["state"] != "stopped"
    }
    assert running <= billed
    twins = {(offers.usage_code(r["usage_type"]), r["operation"]) for r in resources if "-twin-" in r["name"]}
    fleet = {
        (offers.usage_code(r["usage_type"]), r["operation"])
        for r in resources
        if r["name"].endswith("-fleet")
    }
    assert twins == set(offers.TWIN_RDS_OFFERS) and fleet == set(offers.TWIN_EC2_OFFERS)


def test_savings_plans_are_distinct_per_type_term_and_payment(ce: CostExplorerEmulator) -> None:
    ids, savings = set(), set()
    for sp_type in ("COMPUTE_SP", "EC2_INSTANCE_SP"):
        for term in ("ONE_YEAR", "THREE_YEARS"):
            for payment in ("NO_UPFRONT", "ALL_UPFRONT"):
                body = {"SavingsPlansType": sp_type, "TermInYears": term, "PaymentOption": payment}
                answer = ok(ce, "GetSavingsPlansPurchaseRecommendation", BODY | body)
                recommendation = answer["SavingsPlansPurchaseRecommendation"]
                assert (recommendation["SavingsPlansType"], recommendation["TermInYears"]) == (sp_type, term)
                assert recommendation["PaymentOption"] == payment
                for d in recommendation["SavingsPlansPurchaseRecommendationDetails"]:
                    ids.add(d["RecommendationDetailId"])
                savings.add(
                    recommendation["SavingsPlansPurchaseRecommendationSummary"]["EstimatedSavingsAmount"]
                )
    assert len(savings) == 8  # every combination prices differently
    assert len(ids) >= 8
