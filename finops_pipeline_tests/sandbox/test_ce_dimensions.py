"""Every GroupBy dimension botocore documents: the emulator answers each, and its groups are the world's bill.

The expected key of each line is worked out here from the ledger's raw columns (usage type, operation,
record type), independently of the emulator's reading, and summed per month; the answer must match it
exactly and add up to the ungrouped total to the cent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal

import duckdb
import pytest

from finops_pipeline_tests.sandbox.ce_fixture import error, ok
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import World, WorldConfig, build_world

EC2 = "Amazon Elastic Compute Cloud - Compute"
RDS = "Amazon Relational Database Service"
ENGINES = {
    "CreateDBInstance:0002": "MySQL",
    "CreateDBInstance:0014": "PostgreSQL",
    "CreateDBInstance:0018": "MariaDB",
    "CreateDBInstance:0019": "Oracle",
    "CreateDBInstance:0020": "Oracle",
}
PLATFORMS = {
    "RunInstances": "Linux/UNIX",
    "RunInstances:0002": "Windows",
    "RunInstances:0010": "Red Hat Enterprise Linux",
}
Line = tuple[str, str, str | None, str, str]  # service, usage-type code, operation, record type, region


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(WorldConfig(accounts=12))


@pytest.fixture(scope="module")
def ce(world: World) -> CostExplorerEmulator:
    return CostExplorerEmulator(world)  # the default page size: answers take several pages


@pytest.fixture(scope="module")
def lines(world: World) -> list[tuple[dt.date, Line, Decimal]]:
    """(month, line kind, unblended cost) straight from the ledger."""
    con = duckdb.connect()
    con.register("ledger", world.ledger)
    rows = con.execute(
        "SELECT CAST(date_trunc('month', usage_date) AS DATE), service, "
        "regexp_replace(usage_type, '^(USE1|USE2|USW1|USW2|EU|EUW2|EUC1|APS1|APS2|APN1)-', ''), "
        "operation, record_type, region, sum(unblended_cost) FROM ledger GROUP BY ALL"
    ).fetchall()
    return [(r[0], tuple(r[1:6]), r[6]) for r in rows]  # type: ignore[misc]


def _instance(line: Line) -> str | None:
    service, code, _op, _rt, _region = line
    prefix, _, rest = code.partition(":")
    if service == EC2 and prefix in ("BoxUsage", "DedicatedUsage"):
        return rest
    if service == RDS and prefix in ("InstanceUsage", "Multi-AZUsage", "HeavyUsage"):
        return rest
    return rest if prefix == "Host" else None  # SageMaker hosting instances


def _ec2(line: Line) -> bool:
    return line[0] == EC2 and line[1].startswith(("BoxUsage:", "DedicatedUsage:"))


def _rds_instance(line: Line) -> bool:
    return line[0] == RDS and _instance(line) is not None


EXPECTED: dict[str, Callable[[Line], str]] = {
    "INSTANCE_TYPE": lambda ln: _instance(ln) or "NoInstanceType",
    "INSTANCE_TYPE_FAMILY": lambda ln: _instance(ln).split(".")[0] if _ec2(ln) else "NoInstanceTypeFamily",  # type: ignore[union-attr]
    "PLATFORM": lambda ln: PLATFORMS[ln[2] or "RunInstances"] if _ec2(ln) else "NoPlatform",
    "TENANCY": lambda ln: (
        ("Dedicated" if ln[1].startswith("Dedicated") else "Shared") if _ec2(ln) else "NoTenancy"
    ),
    "DATABASE_ENGINE": lambda ln: (
        ENGINES[ln[2] or "CreateDBInstance:0002"] if _rds_instance(ln) else "NoDatabaseEngine"
    ),
    "DEPLOYMENT_OPTION": lambda ln: (
        {"InstanceUsage": "SingleAZ", "Multi-AZUsage": "MultiAZ"}.get(
            ln[1].partition(":")[0], "NoDeploymentOption"
        )
        if _rds_instance(ln)
        else "NoDeploymentOption"
    ),
    "PURCHASE_TYPE": lambda ln: {
        "Usage": "On Demand Instances",
        "SavingsPlanCoveredUsage": "Savings Plans",
        "SavingsPlanNegation": "Savings Plans",
        "SavingsPlanRecurringFee": "Savings Plans",
        "DiscountedUsage": "Standard Reserved Instances",
        "RIFee": "Standard Reserved Instances",
    }.get(ln[3], "NoPurchaseType"),
    "SAVINGS_PLANS_TYPE": lambda ln: (
        "ComputeSavingsPlans" if ln[3].startswith("SavingsPlan") else "NoSavingsPlansType"
    ),
    "OPERATION": lambda ln: ln[2] or "NoOperation",
    "REGION": lambda ln: ln[4],
    "LEGAL_ENTITY_NAME": lambda ln: "Amazon Web Services, Inc.",
    "INVOICING_ENTITY": lambda ln: "Amazon Web Services, Inc.",
    "BILLING_ENTITY": lambda ln: "AWS",
    "CACHE_ENGINE": lambda ln: "NoCacheEngine",
}
FAMILIES = {
    "compute": ["INSTANCE_TYPE", "INSTANCE_TYPE_FAMILY", "PLATFORM", "TENANCY"],
    "database": ["DATABASE_ENGINE", "DEPLOYMENT_OPTION", "CACHE_ENGINE"],
    "purchase": ["PURCHASE_TYPE", "SAVINGS_PLANS_TYPE"],
    "operation_and_place": ["OPERATION", "REGION"],
    "seller": ["LEGAL_ENTITY_NAME", "INVOICING_ENTITY", "BILLING_ENTITY"],
}


def grouped(
    ce: CostExplorerEmulator, world: World, group_by: list[str], **extra: object
) -> dict[tuple, Decimal]:
    """Every page of a monthly answer over the whole history, as {(month, *keys): unblended}."""
    body = {
        "TimePeriod": {"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        **extra,
    }
    if group_by:
        body["GroupBy"] = [{"Type": "DIMENSION", "Key": k} for k in group_by]
    out: dict[tuple, Decimal] = defaultdict(Decimal)
    token = None
    while True:
        answer = ok(ce, "GetCostAndUsage", body | ({"NextPageToken": token} if token else {}))
        for result in answer["ResultsByTime"]:
            month = dt.date.fromisoformat(result["TimePeriod"]["Start"]).replace(day=1)
            if result["Total"]:
                out[(month,)] += Decimal(result["Total"]["UnblendedCost"]["Amount"])
            for group in result["Groups"]:
                out[(month, *group["Keys"])] += Decimal(group["Metrics"]["UnblendedCost"]["Amount"])
        token = answer.get("NextPageToken")
        if not token:
            return dict(out)


def truth(lines: list[tuple[dt.date, Line, Decimal]], *dimensions: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = defaultdict(Decimal)
    for month, line, cost in lines:
        out[(month, *(EXPECTED[d](line) for d in dimensions))] += cost
    return {k: v for k, v in out.items()}


def _nonzero(d: dict[tuple, Decimal]) -> dict[tuple, Decimal]:
    return {k: v for k, v in d.items() if v != 0}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_dimension_groups_the_bill_as_the_world_bills_it(
    family: str, ce: CostExplorerEmulator, world: World, lines: list
) -> None:
    totals = grouped(ce, world, [])
    for dimension in FAMILIES[family]:
        answer = grouped(ce, world, [dimension])
        assert _nonzero(answer) == _nonzero(truth(lines, dimension)), dimension
        per_month: dict[dt.date, Decimal] = defaultdict(Decimal)
        for (month, _key), value in answer.items():
            per_month[month] += value
        assert {m: round(v, 2) for m, v in per_month.items()} == {
            m: round(v, 2) for (m,), v in totals.items()
        }


def test_the_values_are_those_aws_spells(ce: CostExplorerEmulator, world: World) -> None:
    keys = {
        d: {k[1] for k in grouped(ce, world, [d])} for d in ("PURCHASE_TYPE", "DATABASE_ENGINE", "TENANCY")
    }
    assert keys["PURCHASE_TYPE"] == {
        "On Demand Instances",
        "Savings Plans",
        "Standard Reserved Instances",
        "NoPurchaseType",  # tax, support, credits, refunds
    }
    assert {"MySQL", "PostgreSQL", "MariaDB", "Oracle", "NoDatabaseEngine"} <= keys["DATABASE_ENGINE"]
    assert keys["TENANCY"] == {"Shared", "Dedicated", "NoTenancy"}


def test_az_is_a_zone_of_the_region_for_zonal_usage_only(
    ce: CostExplorerEmulator, world: World, lines: list
) -> None:
    answer = grouped(ce, world, ["REGION", "AZ"])
    zones = {k[2] for k in answer}
    assert "NoAZ" in zones and len(zones) > 3
    for (_month, region, az), value in answer.items():
        assert az == "NoAZ" or (az[:-1] == region and az[-1] in "abc"), (region, az, value)
    # Global lines (tax, support, credits, the Savings Plans fee) have no zone.
    assert all(az == "NoAZ" for (_m, region, az) in answer if region == "global")
    zonal = {
        m: sum((v for (mm, _r, az), v in answer.items() if mm == m and az != "NoAZ"), Decimal(0))
        for (m, *_rest) in answer
    }
    expected: dict[dt.date, Decimal] = defaultdict(Decimal)
    for month, (_service, code, _op, record, _region), cost in lines:
        is_zonal = code.startswith(("BoxUsage:", "DedicatedUsage:", "InstanceUsage:", "EBS:VolumeUsage"))
        is_zonal = is_zonal or code == "NatGateway-Hours"
        if is_zonal and record in (
            "Usage",
            "SavingsPlanCoveredUsage",
            "SavingsPlanNegation",
            "DiscountedUsage",
        ):
            expected[month] += cost
    assert {m: v for m, v in zonal.items() if v} == {m: v for m, v in expected.items() if v}


def test_reservation_id_splits_exactly_the_ri_lines(
    ce: CostExplorerEmulator, world: World, lines: list
) -> None:
    answer = grouped(ce, world, ["RESERVATION_ID"])
    ri = {k[1] for k in answer if k[1] != "NoReservationId"}
    assert ri and all(r.startswith("ri-") for r in ri)
    per_month: dict[dt.date, Decimal] = defaultdict(Decimal)
    for (month, key), value in answer.items():
        if key != "NoReservationId":
            per_month[month] += value
    expected: dict[dt.date, Decimal] = defaultdict(Decimal)
    for month, line, cost in lines:
        if line[3] in ("DiscountedUsage", "RIFee"):
            expected[month] += cost
    assert {m: v for m, v in per_month.items() if v} == {m: v for m, v in expected.items() if v}
    # The fee and the discounted usage of one reservation share its id.
    both = grouped(ce, world, ["RESERVATION_ID", "RECORD_TYPE"])
    for reservation in ri:
        assert {k[2] for k in both if k[1] == reservation} <= {"DiscountedUsage", "RIFee"}


def test_two_new_dimensions_together_sum_to_the_bill(
    ce: CostExplorerEmulator, world: World, lines: list
) -> None:
    answer = grouped(ce, world, ["INSTANCE_TYPE", "PURCHASE_TYPE"])
    assert _nonzero(answer) == _nonzero(truth(lines, "INSTANCE_TYPE", "PURCHASE_TYPE"))


def test_filters_and_dimension_values_know_the_new_dimensions(
    ce: CostExplorerEmulator, world: World, lines: list
) -> None:
    sp = grouped(ce, world, [], Filter={"Dimensions": {"Key": "PURCHASE_TYPE", "Values": ["Savings Plans"]}})
    expected = truth(lines, "PURCHASE_TYPE")
    assert _nonzero(sp) == _nonzero({(m,): v for (m, k), v in expected.items() if k == "Savings Plans"})
    period = {"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()}
    values = ok(ce, "GetDimensionValues", {"TimePeriod": period, "Dimension": "INSTANCE_TYPE"})
    listed = {v["Value"] for v in values["DimensionValues"]}
    assert listed == {k for (_m, k) in truth(lines, "INSTANCE_TYPE")} - {"NoInstanceType"}


def test_resource_id_is_refused_in_a_group_by_as_aws_does(ce: CostExplorerEmulator, world: World) -> None:
    body = {
        "TimePeriod": {"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
    }
    assert "Group Definition dimension is invalid" in error(ce, "GetCostAndUsage", body)
