"""The commitment operations of the Cost Explorer emulator: AWS's documented refusals and pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

END = SANDBOX_AS_OF
PERIOD = {"Start": (END - dt.timedelta(days=7)).isoformat(), "End": END.isoformat()}
BY_ACCOUNT = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]


@pytest.fixture(scope="module")
def ce(sandbox: Any) -> CostExplorerEmulator:
    return CostExplorerEmulator(sandbox.world, page_size=2)


def _refused(ce: CostExplorerEmulator, operation: str, body: dict[str, Any]) -> str:
    status, answer = ce.handle(operation, body)
    assert status == 400 and answer["__type"] == "ValidationException", answer
    return answer["Message"]


def test_documented_refusals(ce: CostExplorerEmulator) -> None:
    assert "GroupBy" in _refused(ce, "GetSavingsPlansCoverage", {"TimePeriod": PERIOD, "GroupBy": BY_ACCOUNT})
    both = {"TimePeriod": PERIOD, "Granularity": "DAILY", "GroupBy": [{"Type": "DIMENSION", "Key": "REGION"}]}
    assert "Granularity" in _refused(ce, "GetSavingsPlansCoverage", both)
    by_sub = [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]
    assert "Granularity" in _refused(
        ce, "GetReservationUtilization", {"TimePeriod": PERIOD, "Granularity": "DAILY", "GroupBy": by_sub}
    )
    assert "only" in _refused(ce, "GetReservationUtilization", {"TimePeriod": PERIOD, "GroupBy": BY_ACCOUNT})
    assert "HOURLY" in _refused(ce, "GetReservationCoverage", {"TimePeriod": PERIOD, "Granularity": "HOURLY"})
    future = {"Start": PERIOD["Start"], "End": (END + dt.timedelta(days=1)).isoformat()}
    assert "future" in _refused(ce, "GetSavingsPlansUtilization", {"TimePeriod": future})
    assert "GroupBy" in _refused(
        ce, "GetSavingsPlansUtilization", {"TimePeriod": PERIOD, "GroupBy": BY_ACCOUNT}
    )


def test_coverage_pages_add_up_to_the_ledger(ce: CostExplorerEmulator, sandbox: Any) -> None:
    """Two coverages a page: every page followed, the covered spend is the ledger's covered usage."""
    body: dict[str, Any] = {"TimePeriod": PERIOD, "Granularity": "DAILY"}
    covered, pages = Decimal(0), 0
    while True:
        status, answer = ce.handle("GetSavingsPlansCoverage", body)
        assert status == 200
        pages += 1
        covered += sum(
            Decimal(c["Coverage"]["SpendCoveredBySavingsPlans"]) for c in answer["SavingsPlansCoverages"]
        )
        if "NextToken" not in answer:
            break
        body = {**body, "NextToken": answer["NextToken"]}
    con = duckdb.connect()
    con.register("ledger", sandbox.world.ledger)
    (truth,) = con.execute(
        "SELECT sum(unblended_cost) FROM ledger WHERE record_type = 'SavingsPlanCoveredUsage' "
        "AND usage_date >= ? AND usage_date < ?",
        [dt.date.fromisoformat(PERIOD["Start"]), END],
    ).fetchone()
    assert pages == 4 and covered == truth  # 7 days, 2 a page
    status, answer = ce.handle("GetSavingsPlansCoverage", {**body, "NextToken": "bogus"})
    assert status == 400


def test_reservation_groups_carry_the_subscription(ce: CostExplorerEmulator) -> None:
    body = {
        "TimePeriod": PERIOD,
        "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
        "MaxResults": 100,
    }
    status, answer = ce.handle("GetReservationUtilization", body)
    assert status == 200
    groups = [g for period in answer["UtilizationsByTime"] for g in period["Groups"]]
    assert groups and all(g["Key"] == "SUBSCRIPTION_ID" and g["Attributes"]["accountId"] for g in groups)
    purchased = sum(Decimal(g["Utilization"]["PurchasedHours"]) for g in groups)
    assert purchased == Decimal(answer["Total"]["PurchasedHours"]) == 24 * 7 * len(groups)
