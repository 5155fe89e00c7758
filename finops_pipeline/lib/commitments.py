"""Savings Plans and Reserved Instance answers of Cost Explorer, read into rows (plain Python, no Dagster).

What AWS lets a request group by (API reference of each operation): ``GetSavingsPlansUtilization`` takes
no GroupBy; ``GetSavingsPlansUtilizationDetails`` answers one detail per plan, with its AccountId, over the
whole TimePeriod; ``GetReservationUtilization`` "groups only by SUBSCRIPTION_ID" (each group carries the
reservation's accountId); ``GetSavingsPlansCoverage`` groups by INSTANCE_FAMILY, REGION or SERVICE only;
``GetReservationCoverage`` groups by LINKED_ACCOUNT among others; and both coverage operations and the RI
utilization refuse a Granularity with a GroupBy. So a daily series per account can be read two ways:

- **per account**: one DAILY request filtered by LINKED_ACCOUNT covers the whole window of one account;
- **per day**: one grouped request over a one-day TimePeriod covers every account of that day.

Per account costs accounts × operations requests whatever the window; per day costs days × operations
(× pages of 1,000 groups). A full history (395 days, tens of accounts) is cheaper per account; a daily
refresh (a few days, hundreds of accounts) is cheaper per day. ``plan`` picks the cheaper one for each
family from those counts. Savings Plans coverage has no per-account grouping: per account it costs one
request per account on every run. ``FINOPS_SP_COVERAGE_ACCOUNT_DAYS`` trades freshness for requests: a
run reads it per account only when the per-account figures are that many days old, and otherwise the
whole organisation's in one unfiltered request (``organization_sp_coverage``), exact for the
organisation and the account breakdown then as of its last read. The accounts owning commitments come
from the requests that list the window's commitments (``owners``); the commitments' terms from the
inventories (``defs/commitments/inventory.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.parsers import ResponseParserError

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
    for answer in _pages(
        ce.get_savings_plans_utilization_details, "NextToken", TimePeriod=_period(start, end)
    ):
        for detail in answer.get("SavingsPlansUtilizationDetails", []):
            attrs = detail.get("Attributes", {})
            found.setdefault(attrs["AccountId"], set()).add(sp_type(attrs.get("SavingsPlansType")))
    for service, group in _subscription_groups(ce, start, end):
        found.setdefault(group["Attributes"]["accountId"], set()).add(RI_PREFIX + service)
    return found


def sp_utilization(ce: Any, start: dt.date, end: dt.date, account_id: str, kind: str) -> list[dict[str, Any]]:
    """One account's daily utilization of its ``kind`` plans (one request: the operation has no pages).

    Filtered by type too: an account owning Compute and EC2 Instance plans would otherwise get the sum of
    both under each type."""
    ce_type = next(
        (value for value, name in _SP_TYPES.items() if SP_PREFIX + name == kind), kind.removeprefix(SP_PREFIX)
    )
    by_type = {"Dimensions": {"Key": "SAVINGS_PLANS_TYPE", "Values": [ce_type]}}
    answer = ce.get_savings_plans_utilization(
        TimePeriod=_period(start, end), Granularity="DAILY", Filter=_and(_accounts(account_id), by_type)
    )
    return [
        _sp_row(_day(period["TimePeriod"]["Start"]), account_id, kind, period)
        for period in answer.get("SavingsPlansUtilizationsByTime", [])
    ]


def _sp_row(day: dt.date, account_id: str, kind: str, aggregates: dict[str, Any]) -> dict[str, Any]:
    """A utilization row from a by-time entry or a plan's detail (both carry Utilization and Savings)."""
    used = aggregates.get("Utilization", {})
    savings = aggregates.get("Savings", {})
    return {
        "usage_date": day,
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


def _pages(
    call: Callable[..., dict[str, Any]], token_key: str = "NextPageToken", **request: Any
) -> Iterable[dict[str, Any]]:
    """Every page of a commitment read. The Savings Plans operations page on ``NextToken``, the
    reservation ones on ``NextPageToken`` (botocore's Cost Explorer model); no boto3 paginator exists."""
    token = None
    while True:
        answer = call(**request, **({token_key: token} if token else {}))
        yield answer
        token = answer.get(token_key)
        if not token:
            return


def _subscription_groups(ce: Any, start: dt.date, end: dt.date) -> Iterable[tuple[str, dict[str, Any]]]:
    """(RI service, one reservation's group) for every reservation with figures in [start, end)."""
    for service in RI_SERVICES:
        for answer in _pages(
            ce.get_reservation_utilization,
            TimePeriod=_period(start, end),
            GroupBy=[{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
            Filter=_service(service),
        ):
            for period in answer.get("UtilizationsByTime", []):
                for group in period.get("Groups", []):
                    yield service, group


def ri_utilization(
    ce: Any, start: dt.date, end: dt.date, account_id: str, service: str
) -> list[dict[str, Any]]:
    """One account's daily utilization of its ``service`` reservations."""
    return [
        _ri_row(_day(period["TimePeriod"]["Start"]), account_id, service, period.get("Total", {}))
        for answer in _pages(
            ce.get_reservation_utilization,
            TimePeriod=_period(start, end),
            Granularity="DAILY",
            Filter=_and(_accounts(account_id), _service(service)),
        )
        for period in answer.get("UtilizationsByTime", [])
    ]


def _ri_row(day: dt.date, account_id: str, service: str, t: dict[str, Any]) -> dict[str, Any]:
    """A utilization row from ReservationAggregates (a period's Total or one subscription's group)."""
    fee = _amount(t.get("TotalAmortizedFee"))
    unused = _amount(t.get("RICostForUnusedHours"))
    return {
        "usage_date": day,
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


def organization_sp_coverage(ce: Any, start: dt.date, end: dt.date, kind: str) -> list[dict[str, Any]]:
    """The whole organisation's Savings Plans coverage on every day of the window: one request without a
    filter (pages aside); a day AWS answers nothing for (no eligible usage) is a row of zeros, so that
    every day of the window is on record as read."""
    answered = {r["usage_date"]: r for r in _sp_coverage_rows(ce, start, end, "", kind, {})}
    days = (start + dt.timedelta(days=n) for n in range((end - start).days))
    return [
        answered.get(day)
        or {
            "usage_date": day,
            "commitment_type": kind,
            "covered_cost": Decimal(0),
            "on_demand_cost": Decimal(0),
        }
        for day in days
    ]


def sp_coverage(ce: Any, start: dt.date, end: dt.date, account_id: str, kind: str) -> list[dict[str, Any]]:
    """One account's daily Savings Plans coverage of its eligible spend."""
    return _sp_coverage_rows(ce, start, end, account_id, kind, {"Filter": _accounts(account_id)})


def _sp_coverage_rows(
    ce: Any, start: dt.date, end: dt.date, account_id: str, kind: str, scope: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = []
    for answer in _pages(
        ce.get_savings_plans_coverage,
        "NextToken",
        TimePeriod=_period(start, end),
        Granularity="DAILY",
        **scope,
    ):
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
    return rows


def ri_coverage(ce: Any, start: dt.date, end: dt.date, account_id: str, service: str) -> list[dict[str, Any]]:
    """One account's daily RI coverage of ``service``'s reservable hours."""
    return [
        _ri_coverage_row(_day(period["TimePeriod"]["Start"]), account_id, service, period.get("Total", {}))
        for answer in _pages(
            ce.get_reservation_coverage,
            TimePeriod=_period(start, end),
            Granularity="DAILY",
            Filter=_and(_accounts(account_id), _service(service)),
        )
        for period in answer.get("CoveragesByTime", [])
    ]


def _ri_coverage_row(day: dt.date, account_id: str, service: str, coverage: dict[str, Any]) -> dict[str, Any]:
    """A coverage row from a Coverage object (a period's Total or one account's group)."""
    hours, cost = coverage.get("CoverageHours", {}), coverage.get("CoverageCost", {})
    return {
        "usage_date": day,
        "account_id": account_id,
        "commitment_type": RI_PREFIX + service,
        "covered_cost": Decimal(0),
        "on_demand_cost": _amount(cost.get("OnDemandCost")),
        "covered_hours": float(_amount(hours.get("ReservedHours"))),
        "on_demand_hours": float(_amount(hours.get("OnDemandHours"))),
    }


# ------------------------------------------------------------------ the daily refresh's probe of older days
# A day's organisation-wide figures: commitment, used commitment, coverage dollars, coverage hours.
DayTotals = tuple[Decimal, Decimal, Decimal, Decimal]
PROBE_REQUESTS = 2 + 2 * len(RI_SERVICES)  # ``day_totals``' requests, pages aside


def day_totals(ce: Any, start: dt.date, end: dt.date) -> dict[dt.date, DayTotals]:
    """Each day's organisation-wide figures as Cost Explorer answers them now, in ``PROBE_REQUESTS``
    requests whatever the number of accounts (pages aside): Savings Plans utilization and coverage
    without a filter, and RI utilization and coverage per RI service, all DAILY. A day stored with
    other figures has moved since it was read (``defs/commitments/usage.py`` re-reads from the first
    such day)."""
    sums: dict[dt.date, list[Decimal]] = {}

    def add(day: dt.date, *figures: Decimal) -> None:
        into = sums.setdefault(day, [Decimal(0)] * 4)
        for i, figure in enumerate(figures):
            into[i] += figure

    answer = ce.get_savings_plans_utilization(TimePeriod=_period(start, end), Granularity="DAILY")
    for period in answer.get("SavingsPlansUtilizationsByTime", []):
        row = _sp_row(_day(period["TimePeriod"]["Start"]), "", "", period)
        add(row["usage_date"], row["total_commitment"], row["used_commitment"])
    for row in organization_sp_coverage(ce, start, end, ""):
        add(row["usage_date"], Decimal(0), Decimal(0), row["covered_cost"] + row["on_demand_cost"])
    for service in RI_SERVICES:
        for answer in _pages(
            ce.get_reservation_utilization, TimePeriod=_period(start, end), Granularity="DAILY",
            Filter=_service(service),
        ):  # fmt: skip
            for period in answer.get("UtilizationsByTime", []):
                row = _ri_row(_day(period["TimePeriod"]["Start"]), "", service, period.get("Total", {}))
                add(row["usage_date"], row["total_commitment"], row["used_commitment"])
        for answer in _pages(
            ce.get_reservation_coverage, TimePeriod=_period(start, end), Granularity="DAILY",
            Filter=_service(service),
        ):  # fmt: skip
            for period in answer.get("CoveragesByTime", []):
                row = _ri_coverage_row(
                    _day(period["TimePeriod"]["Start"]), "", service, period.get("Total", {})
                )
                hours = Decimal(str(row["covered_hours"])) + Decimal(str(row["on_demand_hours"]))
                add(row["usage_date"], Decimal(0), Decimal(0), row["on_demand_cost"], hours)
    return {day: (f[0], f[1], f[2], f[3]) for day, f in sums.items()}


# ------------------------------------------------------------------ per day, every account in one request
PAGE_GROUPS = 1000  # the most groups AWS answers in one page of these operations (MaxResults' maximum)


@dataclass(frozen=True)
class ReadPlan:
    """How a window is read, chosen from the request counts of both ways (figures go on the run)."""

    utilization_by_day: bool
    ri_coverage_by_day: bool
    sp_coverage_by_account: bool  # else organisation-wide only (FINOPS_SP_COVERAGE_ACCOUNT_DAYS)
    sp_coverage_organization: bool  # the organisation's own figure too (one request)
    requests: int  # of the chosen plan, besides the owners lists
    requests_per_account: int  # had everything been read per account


def plan(
    days: int,
    accounts: int,
    owned_kinds: int,
    sp_coverage_by_account: bool = True,
    sp_organization: bool = False,
) -> ReadPlan:
    """The cheaper way for each family: per account (accounts × operations) or per day (days × pages).

    ``owned_kinds`` counts (account, commitment type) pairs, one per-account utilization request each;
    per day, utilization is one details request (one page up to 1,000 plans) plus one per RI service.
    On a tie the per-account way is kept: a failure there labels one account, not all of them. Savings
    Plans coverage has no per-day grouping by account: per account, or one organisation-wide request.
    """
    sp_coverage = (accounts if sp_coverage_by_account else 0) + (1 if sp_organization else 0)
    utilization_account = owned_kinds
    utilization_day = days * (1 + len(RI_SERVICES))
    coverage_account = accounts * len(RI_SERVICES)
    coverage_day = days * len(RI_SERVICES) * -(-max(accounts, 1) // PAGE_GROUPS)
    by_day_u, by_day_c = utilization_day < utilization_account, coverage_day < coverage_account
    return ReadPlan(
        utilization_by_day=by_day_u,
        ri_coverage_by_day=by_day_c,
        sp_coverage_by_account=sp_coverage_by_account,
        sp_coverage_organization=sp_organization,
        requests=sp_coverage
        + (utilization_day if by_day_u else utilization_account)
        + (coverage_day if by_day_c else coverage_account),
        requests_per_account=accounts + utilization_account + coverage_account,
    )


def _summed(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows added up per ``keys`` (amounts and hours; hours stay None where every part is None)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        into = merged.get(key)
        if into is None:
            merged[key] = dict(row)
            continue
        for name, value in row.items():
            if name not in keys and value is not None:
                into[name] = value if into[name] is None else into[name] + value
    return list(merged.values())


def day_utilization(ce: Any, day: dt.date) -> list[dict[str, Any]]:
    """Every account's utilization on ``day``: one details request (pages of plans) and one grouped
    request per RI service, added up per account and commitment type."""
    end = day + dt.timedelta(days=1)
    rows = [
        _sp_row(
            day,
            detail["Attributes"]["AccountId"],
            sp_type(detail["Attributes"].get("SavingsPlansType")),
            detail,
        )
        for answer in _pages(
            ce.get_savings_plans_utilization_details, "NextToken", TimePeriod=_period(day, end)
        )
        for detail in answer.get("SavingsPlansUtilizationDetails", [])
    ]
    rows += [
        _ri_row(day, group["Attributes"]["accountId"], service, group.get("Utilization", {}))
        for service, group in _subscription_groups(ce, day, end)
    ]
    return _summed(rows, ("usage_date", "account_id", "commitment_type"))


def _linked_account(attributes: dict[str, str]) -> str:
    """The account of a LINKED_ACCOUNT group. AWS documents Attributes only as a string map, so the key is
    matched without regard to case or underscores (``LINKED_ACCOUNT``, ``linkedAccount``)."""
    for key, value in attributes.items():
        if key.replace("_", "").lower() == "linkedaccount":
            return value
    raise ResponseParserError(f"a LINKED_ACCOUNT group without an account attribute: {sorted(attributes)}")


def day_ri_coverage(ce: Any, day: dt.date) -> list[dict[str, Any]]:
    """Every account's RI coverage on ``day``: per RI service one request grouped by LINKED_ACCOUNT."""
    end, rows = day + dt.timedelta(days=1), []
    for service in RI_SERVICES:
        for answer in _pages(
            ce.get_reservation_coverage,
            TimePeriod=_period(day, end),
            GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
            Filter=_service(service),
        ):
            for period in answer.get("CoveragesByTime", []):
                for group in period.get("Groups", []):
                    account = _linked_account(group.get("Attributes", {}))
                    rows.append(_ri_coverage_row(day, account, service, group.get("Coverage", {})))
    return rows
