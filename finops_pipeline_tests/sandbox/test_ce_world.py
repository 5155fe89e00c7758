"""Cost Explorer emulator on a generated 12-account world: answers reconcile with the world's ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from finops_pipeline_tests.sandbox.ce_fixture import ok
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import World, WorldConfig, build_world

METRICS = ["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "BlendedCost", "UsageQuantity"]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(WorldConfig(accounts=12))


@pytest.fixture(scope="module")
def ce(world: World) -> CostExplorerEmulator:
    return CostExplorerEmulator(world, page_size=2000)


def fetch_all(ce: CostExplorerEmulator, body: dict) -> dict[tuple, Decimal]:
    """Every page of a GetCostAndUsage answer, as {(period start, *keys): amount}."""
    metric = body["Metrics"][0]
    out: dict[tuple, Decimal] = defaultdict(Decimal)
    token = None
    while True:
        answer = ok(ce, "GetCostAndUsage", body | ({"NextPageToken": token} if token else {}))
        for result in answer["ResultsByTime"]:
            start = dt.date.fromisoformat(result["TimePeriod"]["Start"])
            if result["Total"]:
                out[(start,)] += Decimal(result["Total"][metric]["Amount"])
            for group in result["Groups"]:
                out[(start, *group["Keys"])] += Decimal(group["Metrics"][metric]["Amount"])
        token = answer.get("NextPageToken")
        if not token:
            return dict(out)


def truth(world: World, granularity: str, group_by: list[str], metric: str) -> dict[tuple, Decimal]:
    table = world.truth_totals(granularity, group_by, metric).to_pylist()
    out: dict[tuple, Decimal] = {}
    for row in table:
        keys = tuple(f"{g[4:]}${row[g]}" if g.startswith("TAG:") else row[g] for g in group_by)
        out[(row["period_start"], *keys)] = row["amount"]
    return out


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("granularity", ["MONTHLY", "DAILY"])
@pytest.mark.parametrize(
    "group_by", [[], ["LINKED_ACCOUNT", "SERVICE"], ["TAG:Environment"], ["RECORD_TYPE"]]
)
def test_answers_match_ground_truth_to_the_cent(
    world: World, ce: CostExplorerEmulator, metric: str, granularity: str, group_by: list[str]
) -> None:
    body = {
        "TimePeriod": {"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()},
        "Granularity": granularity,
        "Metrics": [metric],
    }
    if group_by:
        body["GroupBy"] = [
            {"Type": "TAG", "Key": g[4:]} if g.startswith("TAG:") else {"Type": "DIMENSION", "Key": g}
            for g in group_by
        ]
    got = {k: v for k, v in fetch_all(ce, body).items() if v != 0 or len(k) > 1}
    expected = {k: v for k, v in truth(world, granularity, group_by, metric).items() if v != 0 or len(k) > 1}
    assert got == expected


def test_every_operation_answers_validly(world: World, ce: CostExplorerEmulator) -> None:
    today = world.data_end
    ok(
        ce,
        "GetDimensionValues",
        {
            "TimePeriod": {"Start": world.history_start.isoformat(), "End": today.isoformat()},
            "Dimension": "LINKED_ACCOUNT",
        },
    )
    ok(ce, "GetTags", {"TimePeriod": {"Start": world.history_start.isoformat(), "End": today.isoformat()}})
    month_end = dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
    forecast = ok(
        ce,
        "GetCostForecast",
        {
            "TimePeriod": {"Start": today.isoformat(), "End": month_end.isoformat()},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
        },
    )
    assert Decimal(forecast["Total"]["Amount"]) > 0
    for service in ("Amazon Elastic Compute Cloud - Compute", "Amazon Relational Database Service"):
        ok(
            ce,
            "GetReservationPurchaseRecommendation",
            {"Service": service, "LookbackPeriodInDays": "SIXTY_DAYS"},
        )
    sp = ok(
        ce,
        "GetSavingsPlansPurchaseRecommendation",
        {
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
        },
    )
    assert (
        Decimal(
            sp["SavingsPlansPurchaseRecommendation"]["SavingsPlansPurchaseRecommendationSummary"][
                "EstimatedMonthlySavingsAmount"
            ]
        )
        > 0
    )
    rightsizing = ok(ce, "GetRightsizingRecommendation", {"Service": "AmazonEC2"})
    assert int(rightsizing["Summary"]["TotalRecommendationCount"]) > 0


def test_anomalies_are_a_realistic_subset_of_the_labels(world: World, ce: CostExplorerEmulator) -> None:
    arn = ok(ce, "GetAnomalyMonitors", {})["AnomalyMonitors"][0]["MonitorArn"]
    start = world.data_end - dt.timedelta(days=90)
    reported = ok(
        ce,
        "GetAnomalies",
        {"DateInterval": {"StartDate": start.isoformat()}, "MonitorArn": arn, "MaxResults": 100},
    )["Anomalies"]
    labels = [a for a in world.anomalies.to_pylist() if a["end_date"] >= start and a["impact_usd"] > 0]
    label_keys = {(a["account_id"], a["service"], a["start_date"].isoformat()) for a in labels}
    hits = [
        a
        for a in reported
        if (a["RootCauses"][0]["LinkedAccount"], a["DimensionValue"], a["AnomalyStartDate"]) in label_keys
    ]
    assert reported and len(reported) - len(hits) <= max(1, len(hits) // 5)  # a few false positives
    if len(labels) >= 5:
        assert len(hits) / len(labels) >= 0.4
    assert all(a["Impact"]["TotalImpact"] > 0 for a in reported)  # AWS reports increases only
    for a in reported:
        impact = a["Impact"]
        assert abs(
            impact["TotalActualSpend"] - impact["TotalExpectedSpend"] - impact["TotalImpact"]
        ) <= 0.02 or (impact["TotalExpectedSpend"] == 0)
