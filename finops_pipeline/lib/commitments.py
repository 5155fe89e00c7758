"""Savings Plans and Reserved Instance answers of Cost Explorer, read into rows (plain Python, no Dagster).

Why per account with a filter: AWS documents that ``GetSavingsPlansUtilization`` takes no GroupBy, that
``GetReservationUtilization`` "groups only by SUBSCRIPTION_ID" and that ``GetSavingsPlansCoverage`` /
``GetReservationCoverage`` refuse a Granularity with a GroupBy (API reference of each operation). A daily
series per account is therefore one DAILY request filtered by LINKED_ACCOUNT, and the accounts come from
the requests that list the window's commitments (``owners``). The commitments' terms come from the
inventories (``defs/commitments/inventory.py``), not from these answers. Requests per run: 1 + 1 per RI
service for the lists, 1 per commitment-owning account and type for utilization, 1 + RI services per
account for coverage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from finops_pipeline.lib.money import money

SP_PREFIX = "Savings Plans: "
RI_PREFIX = "Reserved Instances: "
# Services whose reservations the RI calls read (GetReservationCoverage defaults to EC2 without a filter).
RI_SERVICES = ("Amazon Elastic Compute Cloud - Compute", "Amazon Relational Database Service")
# Savings Plans types as CE's SAVINGS_PLANS_TYPE values and as API_SavingsPlan.savingsPlanType spells them.
_SP_TYPES = {
    "ComputeSavingsPlans": "Compute",
    "EC2InstanceSavingsPlans": "EC2 Instance",
    "EC2Instance": "EC2 Instance",
    "SageMakerSavingsPlans": "SageMaker",
}


def _amount(value: Any) -> Decimal:
    return money(value) or Decimal(0)


def _day(value: str) -> dt.date:
    return dt.date.fromisoformat(value[:10])


def _period(start: dt.date, end: dt.date) -> dict[str, str]:
    return {"Start": start.isoformat(), "End": end.isoformat()}


def _accounts(account_id: str) -> dict[str, Any]:
    return {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [account_id]}}


def _and(*parts: dict[str, Any]) -> dict[str, Any]:
    return parts[0] if len(parts) == 1 else {"And": list(parts)}


def _service(service: str) -> dict[str, Any]:
    return {"Dimensions": {"Key": "SERVICE", "Values": [service]}}


def sp_type(name: str | None) -> str:
    """'Savings Plans: Compute' from CE's ``ComputeSavingsPlans`` or the Savings Plans API's ``Compute``."""
    raw = name or "Compute"
    return SP_PREFIX + _SP_TYPES.get(raw, raw)


def owners(ce: Any, start: dt.date, end: dt.date) -> dict[str, set[str]]:
    """account -> the commitment types it owns with figures in [start, end): whose utilization to read.

    Every page of ``GetSavingsPlansUtilizationDetails`` (one detail per plan) and of
    ``GetReservationUtilization`` grouped by subscription, per RI service.
    """
    found: dict[str, set[str]] = {}
    token = None
    while True:
        answer = ce.get_savings_plans_utilization_details(
            TimePeriod=_period(start, end), **({"NextToken": token} if token else {})
        )
        for detail in answer.get("SavingsPlansUtilizationDetails", []):
            attrs = detail.get("Attributes", {})
            found.setdefault(attrs["AccountId"], set()).add(sp_type(attrs.get("SavingsPlansType")))
        token = answer.get("NextToken")
        if not token:
            break
    for service in RI_SERVICES:
        for answer in _pages(
            ce.get_reservation_utilization,
            TimePeriod=_period(start, end),
            GroupBy=[{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
            Filter=_service(service),
        ):
            for period in answer.get("UtilizationsByTime", []):
                for group in period.get("Groups", []):
                    found.setdefault(group["Attributes"]["accountId"], set()).add(RI_PREFIX + service)
    return found


def sp_utilization(ce: Any, start: dt.date, end: dt.date, account_id: str, kind: str) -> list[dict[str, Any]]:
    """One account's daily Savings Plans utilization (one request: the operation has no pages)."""
    answer = ce.get_savings_plans_utilization(
        TimePeriod=_period(start, end), Granularity="DAILY", Filter=_accounts(account_id)
    )
    rows = []
    for period in answer.get("SavingsPlansUtilizationsByTime", []):
        used = period.get("Utilization", {})
        savings = period.get("Savings", {})
        rows.append(
            {
                "usage_date": _day(period["TimePeriod"]["Start"]),
                "account_id": account_id,
                "commitment_type": kind,
                "total_commitment": _amount(used.get("TotalCommitment")),
                "used_commitment": _amount(used.get("UsedCommitment")),
                "unused_commitment": _amount(used.get("UnusedCommitment")),
                "on_demand_equivalent": _amount(savings.get("OnDemandCostEquivalent")),
                "net_savings": _amount(savings.get("NetSavings")),
                "purchased_hours": None,
                "used_hours": None,
            }
        )
    return rows


def _pages(call: Callable[..., dict[str, Any]], **request: Any) -> Iterable[dict[str, Any]]:
    token = None
    while True:
        answer = call(**request, **({"NextPageToken": token} if token else {}))
        yield answer
        token = answer.get("NextPageToken")
        if not token:
            return


def ri_utilization(
    ce: Any, start: dt.date, end: dt.date, account_id: str, service: str
) -> list[dict[str, Any]]:
    """One account's daily utilization of its ``service`` reservations."""
    rows = []
    for answer in _pages(
        ce.get_reservation_utilization,
        TimePeriod=_period(start, end),
        Granularity="DAILY",
        Filter=_and(_accounts(account_id), _service(service)),
    ):
        for period in answer.get("UtilizationsByTime", []):
            t = period.get("Total", {})
            fee = _amount(t.get("TotalAmortizedFee"))
            unused = _amount(t.get("RICostForUnusedHours"))
            rows.append(
                {
                    "usage_date": _day(period["TimePeriod"]["Start"]),
                    "account_id": account_id,
                    "commitment_type": RI_PREFIX + service,
                    "total_commitment": fee,
                    "used_commitment": fee - unused,
                    "unused_commitment": unused,
                    "on_demand_equivalent": _amount(t.get("OnDemandCostOfRIHoursUsed")),
                    "net_savings": _amount(t.get("NetRISavings")),
                    "purchased_hours": float(_amount(t.get("PurchasedHours"))),
                    "used_hours": float(_amount(t.get("TotalActualHours"))),
                }
            )
    return rows


def sp_coverage(ce: Any, start: dt.date, end: dt.date, account_id: str, kind: str) -> list[dict[str, Any]]:
    """One account's daily Savings Plans coverage of its eligible spend."""
    rows, token = [], None
    while True:
        answer = ce.get_savings_plans_coverage(
            TimePeriod=_period(start, end),
            Granularity="DAILY",
            Filter=_accounts(account_id),
            **({"NextToken": token} if token else {}),
        )
        for item in answer.get("SavingsPlansCoverages", []):
            c = item.get("Coverage", {})
            rows.append(
                {
                    "usage_date": _day(item["TimePeriod"]["Start"]),
                    "account_id": account_id,
                    "commitment_type": kind,
                    "covered_cost": _amount(c.get("SpendCoveredBySavingsPlans")),
                    "on_demand_cost": _amount(c.get("OnDemandCost")),
                    "covered_hours": None,
                    "on_demand_hours": None,
                }
            )
        token = answer.get("NextToken")
        if not token:
            return rows


def ri_coverage(ce: Any, start: dt.date, end: dt.date, account_id: str, service: str) -> list[dict[str, Any]]:
    """One account's daily RI coverage of ``service``'s reservable hours."""
    rows = []
    for answer in _pages(
        ce.get_reservation_coverage,
        TimePeriod=_period(start, end),
        Granularity="DAILY",
        Filter=_and(_accounts(account_id), _service(service)),
    ):
        for period in answer.get("CoveragesByTime", []):
            total = period.get("Total", {})
            hours, cost = total.get("CoverageHours", {}), total.get("CoverageCost", {})
            rows.append(
                {
                    "usage_date": _day(period["TimePeriod"]["Start"]),
                    "account_id": account_id,
                    "commitment_type": RI_PREFIX + service,
                    "covered_cost": Decimal(0),
                    "on_demand_cost": _amount(cost.get("OnDemandCost")),
                    "covered_hours": float(_amount(hours.get("ReservedHours"))),
                    "on_demand_hours": float(_amount(hours.get("OnDemandHours"))),
                }
            )
    return rows
