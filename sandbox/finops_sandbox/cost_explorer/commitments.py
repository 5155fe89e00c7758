"""Savings Plans and Reserved Instance utilization and coverage, answered from the ledger.

Operations and the AWS API reference each follows (request fields, refusals and response shapes; the
response shapes are also botocore's ``ce`` model, which the tests validate answers against):
- ``GetSavingsPlansUtilization`` (API_GetSavingsPlansUtilization): DAILY or MONTHLY, no GroupBy, no
  pagination; Filter on LINKED_ACCOUNT, SAVINGS_PLAN_ARN, SAVINGS_PLANS_TYPE, REGION, PAYMENT_OPTION,
  INSTANCE_TYPE_FAMILY.
- ``GetSavingsPlansUtilizationDetails`` (API_GetSavingsPlansUtilizationDetails): one detail per plan over
  the whole TimePeriod, ``MaxResults`` / ``NextToken`` pages.
- ``GetSavingsPlansCoverage`` (API_GetSavingsPlansCoverage): GroupBy INSTANCE_FAMILY, REGION or SERVICE
  only, and "Granularity can't be set if GroupBy is set"; Filter on LINKED_ACCOUNT, REGION, SERVICE,
  INSTANCE_FAMILY; ``MaxResults`` / ``NextToken``.
- ``GetReservationUtilization`` (API_GetReservationUtilization): "Groups only by SUBSCRIPTION_ID", and with
  GroupBy no Granularity; defaults to DAILY; ``MaxResults`` / ``NextPageToken``.
- ``GetReservationCoverage`` (API_GetReservationCoverage): GroupBy AZ, CACHE_ENGINE, DATABASE_ENGINE,
  DEPLOYMENT_OPTION, INSTANCE_TYPE, LINKED_ACCOUNT, OPERATING_SYSTEM, PLATFORM, REGION, TENANCY, and with
  GroupBy no Granularity; "If you don't provide a SERVICE filter, Cost Explorer defaults to EC2".
All: TimePeriod End exclusive, Start within the 13 months kept, End not in the future.

What each figure is, from the ledger (``world/ledger.py``; the plans are ``commitment_inventory``):
- a plan's UsedCommitment is the amortized cost of its ``SavingsPlanCoveredUsage`` lines, its
  UnusedCommitment the amortized cost of its ``SavingsPlanRecurringFee`` line of the day, TotalCommitment
  their sum; OnDemandCostEquivalent the unblended (on-demand) cost of the covered lines; NetSavings
  OnDemandCostEquivalent - TotalCommitment. So the figures add up to ``GetCostAndUsage``'s amortized cost.
- Savings Plans coverage: SpendCoveredBySavingsPlans is the covered lines' on-demand cost, OnDemandCost the
  eligible usage left on demand (EC2 instance hours, Lambda duration, Fargate), TotalCost their sum.
- an RI's PurchasedHours are its instances × 24 on every day of its term (a day it covered nothing too:
  0% utilized, not absent), TotalActualHours its ``DiscountedUsage`` hours (at most the purchased ones),
  AmortizedRecurringFee the purchased hours at its recurring rate (the ledger's ``RIFee`` per day),
  OnDemandCostOfRIHoursUsed the used hours at the on-demand rate (the recurring rate over
  ``catalog.RDS_RI_RATE``, the reservation's effective price), NetRISavings the on-demand cost minus the fee.
- RI coverage: ReservedHours the ``DiscountedUsage`` hours, OnDemandHours and OnDemandCost the reservable
  instance hours billed on demand (``Usage`` lines).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from finops_sandbox import catalog as cat
from finops_sandbox import offers
from finops_sandbox.cost_explorer.commitment_inventory import SP_TYPE, commitments_table
from finops_sandbox.cost_explorer.common import (
    CEError,
    fingerprint,
    fmt_amount,
    page_bounds,
    page_size_arg,
    parse_interval,
)
from finops_sandbox.cost_explorer.filter import FilterTranslator

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

SP_TYPE_VALUE = "ComputeSavingsPlans"  # SAVINGS_PLANS_TYPE dimension value of a Compute plan
PAYMENT_OPTION = "No Upfront"
SERVICE_EC2 = "Amazon Elastic Compute Cloud - Compute"
_SP_GROUP_BY = {"INSTANCE_FAMILY": "instance_family", "REGION": "region", "SERVICE": "service"}
_RI_COVERAGE_GROUP_BY = {
    "AZ": "az",
    "CACHE_ENGINE": "cache_engine",
    "DATABASE_ENGINE": "database_engine",
    "DEPLOYMENT_OPTION": "deployment_option",
    "INSTANCE_TYPE": "instance_type",
    "LINKED_ACCOUNT": "account_id",
    "OPERATING_SYSTEM": "platform",
    "PLATFORM": "platform",
    "REGION": "region",
    "TENANCY": "tenancy",
}
_sp_filter = FilterTranslator(
    {
        "LINKED_ACCOUNT": "account_id",
        "SAVINGS_PLAN_ARN": "commitment_id",
        "SAVINGS_PLANS_TYPE": "sp_type",
        "REGION": "region",
        "PAYMENT_OPTION": "payment_option",
        "INSTANCE_TYPE_FAMILY": "instance_family",
    },
    None,
)
_sp_coverage_filter = FilterTranslator(
    {
        "LINKED_ACCOUNT": "account_id",
        "REGION": "region",
        "SERVICE": "service",
        "INSTANCE_FAMILY": "instance_family",
    },
    None,
)
_ri_filter = FilterTranslator(
    {
        "AZ": "az",
        "CACHE_ENGINE": "cache_engine",
        "DATABASE_ENGINE": "database_engine",
        "DEPLOYMENT_OPTION": "deployment_option",
        "INSTANCE_TYPE": "instance_type",
        "LINKED_ACCOUNT": "account_id",
        "OPERATING_SYSTEM": "platform",
        "PLATFORM": "platform",
        "REGION": "region",
        "SERVICE": "service",
        "SCOPE": "scope",
        "TENANCY": "tenancy",
    },
    None,
)
# Eligible usage of a Compute Savings Plan (https://aws.amazon.com/savingsplans/compute-pricing/): EC2
# instance hours, Lambda duration, Fargate vCPU and memory.
_SP_ELIGIBLE = (
    "((service = 'Amazon Elastic Compute Cloud - Compute' AND regexp_matches(usage_type, "
    "'(BoxUsage|DedicatedUsage|HostUsage):')) OR (service = 'AWS Lambda' AND contains(usage_type, "
    "'Lambda-GB-Second')) OR contains(usage_type, 'Fargate-'))"
)
_RI_ELIGIBLE = (
    "((service = 'Amazon Relational Database Service' AND regexp_matches(usage_type, "
    "'(InstanceUsage|Multi-AZUsage):')) OR (service = 'Amazon Elastic Compute Cloud - Compute' AND "
    "regexp_matches(usage_type, '(BoxUsage|DedicatedUsage|HostUsage):')))"
)
# DATABASE_ENGINE of a reservation, from its operation (as the ledger's RDS lines show it, ``offers``).
_RDS_ENGINE_VALUES = ", ".join(f"('{op}', '{engine}')" for op, (engine, _, _) in offers.RDS_ENGINES.items())
_FACTS_SQL = f"""
CREATE TABLE cm_sp AS
SELECT l.usage_date, l.account_id, c.commitment_id, '{SP_TYPE_VALUE}' AS sp_type, '' AS region,
       '{PAYMENT_OPTION}' AS payment_option, '' AS instance_family, c.start_date, c.end_date,
       c.hourly_commitment,
       coalesce(sum(l.amortized_cost) FILTER (WHERE l.record_type = 'SavingsPlanCoveredUsage'), 0) AS used,
       coalesce(sum(l.amortized_cost) FILTER (WHERE l.record_type = 'SavingsPlanRecurringFee'), 0) AS unused,
       coalesce(sum(l.unblended_cost) FILTER (WHERE l.record_type = 'SavingsPlanCoveredUsage'), 0) AS od
FROM (SELECT usage_date, CAST(account_id AS VARCHAR) AS account_id,
             CAST(record_type AS VARCHAR) AS record_type,
             amortized_cost, unblended_cost FROM ledger
      WHERE record_type IN ('SavingsPlanCoveredUsage', 'SavingsPlanRecurringFee')) l
JOIN cm_inventory c ON c.kind = 'savings_plan' AND c.account_id = l.account_id
     AND l.usage_date >= c.start_date AND l.usage_date < c.end_date
GROUP BY ALL;
CREATE TABLE cm_sp_coverage AS
SELECT usage_date, account_id, service, region, instance_family,
       coalesce(sum(unblended_cost) FILTER (WHERE record_type = 'SavingsPlanCoveredUsage'), 0) AS covered,
       coalesce(sum(unblended_cost) FILTER (WHERE record_type = 'Usage'), 0) AS on_demand
FROM (SELECT usage_date, CAST(account_id AS VARCHAR) AS account_id, CAST(service AS VARCHAR) AS service,
             CAST(region AS VARCHAR) AS region, CAST(usage_type AS VARCHAR) AS usage_type,
             CAST(record_type AS VARCHAR) AS record_type, unblended_cost,
             coalesce(CAST(dim_instance_type_family AS VARCHAR), '') AS instance_family FROM ledger
      WHERE record_type IN ('SavingsPlanCoveredUsage', 'Usage'))
WHERE record_type = 'SavingsPlanCoveredUsage' OR {_SP_ELIGIBLE}
GROUP BY ALL;
CREATE TABLE cm_ri AS
WITH used AS (
    SELECT usage_date, CAST(account_id AS VARCHAR) AS account_id, CAST(region AS VARCHAR) AS region,
           coalesce(CAST(operation AS VARCHAR), '') AS operation,
           regexp_extract(CAST(usage_type AS VARCHAR), ':(.*)$', 1) AS instance_class,
           sum(usage_quantity) AS hours
    FROM ledger WHERE record_type = 'DiscountedUsage' GROUP BY ALL
), days AS (
    SELECT CAST(unnest(range(min(usage_date), max(usage_date) + 1, INTERVAL 1 DAY)) AS DATE) AS usage_date
    FROM ledger
)
SELECT days.usage_date, c.account_id, c.commitment_id, c.lease_id, c.region,
       c.instance_class AS instance_type, 'Amazon Relational Database Service' AS service,
       coalesce(e.engine, 'NoDatabaseEngine') AS database_engine,
       CASE WHEN c.multi_az THEN 'Multi-AZ' ELSE 'Single-AZ' END AS deployment_option,
       'NoAZ' AS az, 'NoCacheEngine' AS cache_engine, 'NoPlatform' AS platform, 'Regional' AS scope,
       'NoTenancy' AS tenancy, c.hourly_commitment, c.instance_count * 24 AS purchased_hours,
       least(coalesce(u.hours, 0), c.instance_count * 24) AS actual_hours
FROM cm_inventory c
JOIN days ON days.usage_date >= c.start_date AND days.usage_date < c.end_date
LEFT JOIN (VALUES {_RDS_ENGINE_VALUES}) e(operation, engine) ON e.operation = c.operation
LEFT JOIN used u ON u.account_id = c.account_id AND u.region = c.region
     AND u.instance_class = c.instance_class AND u.operation = c.operation AND u.usage_date = days.usage_date
WHERE c.kind = 'reserved_instance';
CREATE TABLE cm_ri_coverage AS
SELECT usage_date, account_id, service, region, instance_type, database_engine, deployment_option, az,
       'NoCacheEngine' AS cache_engine, platform, tenancy, 'Regional' AS scope,
       coalesce(sum(usage_quantity) FILTER (WHERE record_type = 'DiscountedUsage'), 0) AS reserved_hours,
       coalesce(sum(usage_quantity) FILTER (WHERE record_type = 'Usage'), 0) AS on_demand_hours,
       coalesce(sum(unblended_cost) FILTER (WHERE record_type = 'Usage'), 0) AS on_demand_cost
FROM (SELECT usage_date, CAST(account_id AS VARCHAR) AS account_id, CAST(service AS VARCHAR) AS service,
             CAST(region AS VARCHAR) AS region, CAST(usage_type AS VARCHAR) AS usage_type,
             CAST(record_type AS VARCHAR) AS record_type, usage_quantity, unblended_cost,
             coalesce(CAST(dim_instance_type AS VARCHAR), 'NoInstanceType') AS instance_type,
             coalesce(CAST(dim_database_engine AS VARCHAR), 'NoDatabaseEngine') AS database_engine,
             coalesce(CAST(dim_deployment_option AS VARCHAR), 'NoDeploymentOption') AS deployment_option,
             coalesce(CAST(dim_az AS VARCHAR), 'NoAZ') AS az,
             coalesce(CAST(dim_platform AS VARCHAR), 'NoPlatform') AS platform,
             coalesce(CAST(dim_tenancy AS VARCHAR), 'NoTenancy') AS tenancy
      FROM ledger WHERE record_type IN ('DiscountedUsage', 'Usage'))
WHERE record_type = 'DiscountedUsage' OR {_RI_ELIGIBLE}
GROUP BY ALL;
"""


def _pct(part: Decimal, whole: Decimal) -> str:
    return fmt_amount(round(part / whole * 100, 2)) if whole else "0"


def _granularity(body: dict[str, Any], *, grouped: bool, default: str | None = "DAILY") -> str | None:
    """DAILY or MONTHLY; AWS refuses HOURLY here and, where documented, Granularity with GroupBy."""
    value = body.get("Granularity")
    if value is None:
        return None if grouped else default
    if grouped:
        raise CEError("Granularity can't be set if GroupBy is set")
    if value not in ("DAILY", "MONTHLY"):
        raise CEError(f"Invalid Granularity {value!r}: this operation supports only DAILY and MONTHLY")
    return value


def _group_by(body: dict[str, Any], allowed: dict[str, str], what: str) -> list[tuple[str, str]]:
    groups = body.get("GroupBy") or []
    if not isinstance(groups, list):
        raise CEError("GroupBy must be a list")
    resolved = []
    for g in groups:
        if not isinstance(g, dict) or g.get("Type") != "DIMENSION" or g.get("Key") not in allowed:
            raise CEError(f"{what}: GroupBy supports only the dimensions {', '.join(sorted(allowed))}")
        resolved.append((g["Key"], allowed[g["Key"]]))
    return resolved


class Commitments:
    """The five operations, over fact tables built once from the ledger and the inventory."""

    def __init__(self, emulator: CostExplorerEmulator) -> None:
        self.emulator = emulator
        world = emulator.world
        self.inventory = commitments_table(
            world.ledger, world.config.seed, world.data_end, world.history_start
        )
        con = emulator.con
        with emulator.lock:
            con.register("cm_inventory_arrow", self.inventory)
            con.execute("CREATE TABLE cm_inventory AS SELECT * FROM cm_inventory_arrow")
            con.unregister("cm_inventory_arrow")
            con.execute(_FACTS_SQL)

    # ------------------------------------------------------------ shared
    def _period(self, body: dict[str, Any]) -> tuple[dt.date, dt.date]:
        start, end = parse_interval(body.get("TimePeriod"))
        self.emulator.check_history(start)
        if end > self.emulator.world.data_end:
            raise CEError("End date can't be in the future: it must be on or before the current date")
        return start, end

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.emulator.lock:
            return self.emulator.con.execute(sql, params).fetchall()

    @staticmethod
    def _period_sql(granularity: str | None, start: dt.date) -> tuple[str, list[Any]]:
        """The SQL of a row's result period start: its day, its month (clipped to Start), or Start."""
        if granularity == "MONTHLY":
            return "greatest(CAST(date_trunc('month', usage_date) AS DATE), CAST(? AS DATE))", [start]
        if granularity == "DAILY":
            return "usage_date", []
        return "CAST(? AS DATE)", [start]

    @staticmethod
    def _period_end(p_start: dt.date, granularity: str | None, end: dt.date) -> dt.date:
        if granularity == "DAILY":
            return p_start + dt.timedelta(days=1)
        if granularity == "MONTHLY":
            return min(dt.date(p_start.year + p_start.month // 12, p_start.month % 12 + 1, 1), end)
        return end

    # ------------------------------------------------------------ Savings Plans
    @staticmethod
    def _sp_aggregates(used: Decimal, unused: Decimal, od: Decimal) -> dict[str, Any]:
        total = used + unused
        return {
            "Utilization": {
                "TotalCommitment": fmt_amount(total),
                "UsedCommitment": fmt_amount(used),
                "UnusedCommitment": fmt_amount(unused),
                "UtilizationPercentage": _pct(used, total),
            },
            "Savings": {"NetSavings": fmt_amount(od - total), "OnDemandCostEquivalent": fmt_amount(od)},
            "AmortizedCommitment": {
                "AmortizedRecurringCommitment": fmt_amount(total),
                "AmortizedUpfrontCommitment": "0",
                "TotalAmortizedCommitment": fmt_amount(total),
            },
        }

    def get_savings_plans_utilization(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("GroupBy"):
            raise CEError("GetSavingsPlansUtilization does not support GroupBy")
        granularity = _granularity(body, grouped=False)
        start, end = self._period(body)
        where, params = _sp_filter(body.get("Filter"))
        period, period_params = self._period_sql(granularity, start)
        rows = self._query(
            f"SELECT {period} AS p, sum(used), sum(unused), sum(od) FROM cm_sp "
            f"WHERE usage_date >= ? AND usage_date < ? AND ({where}) GROUP BY p ORDER BY p",
            [*period_params, start, end, *params],
        )
        by_time = [
            {
                "TimePeriod": {
                    "Start": p.isoformat(),
                    "End": self._period_end(p, granularity, end).isoformat(),
                },
                **self._sp_aggregates(u, n, o),
            }
            for p, u, n, o in rows
        ]
        if not rows:
            raise CEError("No Savings Plans utilization data for the time period", "DataUnavailableException")
        totals = [sum((r[i] for r in rows), Decimal(0)) for i in (1, 2, 3)]
        return {"SavingsPlansUtilizationsByTime": by_time, "Total": self._sp_aggregates(*totals)}

    def get_savings_plans_utilization_details(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = self._period(body)
        where, params = _sp_filter(body.get("Filter"))
        size = page_size_arg(body, "MaxResults", self.emulator.page_size, 1000)
        rows = self._query(
            "SELECT commitment_id, account_id, sum(used), sum(unused), sum(od), start_date, end_date, "
            f"hourly_commitment FROM cm_sp WHERE usage_date >= ? AND usage_date < ? AND ({where}) "
            "GROUP BY ALL ORDER BY 1",
            [start, end, *params],
        )
        key = fingerprint(body, "NextToken", "MaxResults")
        first, stop, token = page_bounds({"NextPageToken": body.get("NextToken")}, key, len(rows), size)
        names = self.emulator.account_names
        details = [
            {
                "SavingsPlanArn": arn,
                "Attributes": {
                    "AccountId": acct,
                    "AccountName": names.get(acct, acct),
                    "SavingsPlansType": SP_TYPE_VALUE,
                    "PaymentOption": PAYMENT_OPTION,
                    "Region": "Any",
                    "InstanceFamily": "Any",
                    "Term": "1 year",
                    "HourlyCommitment": fmt_amount(hourly),
                    "StartDate": f"{s}T00:00:00.000Z",
                    "EndDate": f"{e}T00:00:00.000Z",
                },
                **self._sp_aggregates(u, n, o),
            }
            for arn, acct, u, n, o, s, e, hourly in rows[first:stop]
        ]
        totals = [sum((r[i] for r in rows), Decimal(0)) for i in (2, 3, 4)]
        answer = {
            "SavingsPlansUtilizationDetails": details,
            "Total": self._sp_aggregates(*totals),
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        }
        return {**answer, "NextToken": token} if token else answer

    def get_savings_plans_coverage(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = _group_by(body, _SP_GROUP_BY, "GetSavingsPlansCoverage")
        granularity = _granularity(body, grouped=bool(groups))
        start, end = self._period(body)
        where, params = _sp_coverage_filter(body.get("Filter"))
        cols = [c for _, c in groups]
        select = "".join(f", {c}" for c in cols)
        period, period_params = self._period_sql(granularity, start)
        rows = self._query(
            f"SELECT {period} AS p{select}, sum(covered), sum(on_demand) "
            f"FROM cm_sp_coverage WHERE usage_date >= ? AND usage_date < ? AND ({where}) "
            f"GROUP BY ALL ORDER BY ALL",
            [*period_params, start, end, *params],
        )
        size = page_size_arg(body, "MaxResults", self.emulator.page_size, 1000)
        key = fingerprint(body, "NextToken", "MaxResults")
        first, stop, token = page_bounds({"NextPageToken": body.get("NextToken")}, key, len(rows), size)
        coverages = []
        for row in rows[first:stop]:
            p, keys, (covered, on_demand) = row[0], row[1 : 1 + len(cols)], row[1 + len(cols) :]
            coverages.append(
                {
                    "Attributes": {k: v for (k, _), v in zip(groups, keys, strict=True)},
                    "Coverage": {
                        "SpendCoveredBySavingsPlans": fmt_amount(covered),
                        "OnDemandCost": fmt_amount(on_demand),
                        "TotalCost": fmt_amount(covered + on_demand),
                        "CoveragePercentage": _pct(covered, covered + on_demand),
                    },
                    "TimePeriod": {
                        "Start": p.isoformat(),
                        "End": self._period_end(p, granularity, end).isoformat(),
                    },
                }
            )
        answer: dict[str, Any] = {"SavingsPlansCoverages": coverages}
        return {**answer, "NextToken": token} if token else answer

    # ------------------------------------------------------------ Reserved Instances
    @staticmethod
    def _ri_aggregates(
        purchased: Decimal, actual: Decimal, fee: Decimal, used_fee: Decimal
    ) -> dict[str, str]:
        """ReservationAggregates of hours purchased and used, the recurring fee of those hours and the fee
        of the used ones. Summed per reservation, never derived from the totals: reservations of different
        rates, one idle and one busy, would otherwise share one utilization's fee."""
        unused = purchased - actual
        unused_fee = fee - used_fee
        od_used = used_fee / Decimal(str(cat.RDS_RI_RATE))
        od_all = fee / Decimal(str(cat.RDS_RI_RATE))
        hours = {
            "PurchasedHours": fmt_amount(purchased),
            "TotalActualHours": fmt_amount(actual),
            "UnusedHours": fmt_amount(unused),
        }
        return {
            "UtilizationPercentage": _pct(actual, purchased),
            "UtilizationPercentageInUnits": _pct(actual, purchased),
            **hours,
            "PurchasedUnits": hours["PurchasedHours"],
            "TotalActualUnits": hours["TotalActualHours"],
            "UnusedUnits": hours["UnusedHours"],
            "OnDemandCostOfRIHoursUsed": fmt_amount(round(od_used, 6)),
            "NetRISavings": fmt_amount(round(od_used - fee, 6)),
            "TotalPotentialRISavings": fmt_amount(round(od_all - fee, 6)),
            "AmortizedUpfrontFee": "0",
            "AmortizedRecurringFee": fmt_amount(round(fee, 6)),
            "TotalAmortizedFee": fmt_amount(round(fee, 6)),
            "RICostForUnusedHours": fmt_amount(round(unused_fee, 6)),
            "RealizedSavings": fmt_amount(round(od_used - (fee - unused_fee), 6)),
            "UnrealizedSavings": fmt_amount(round(-unused_fee, 6)),
        }

    def get_reservation_utilization(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = _group_by(body, {"SUBSCRIPTION_ID": "lease_id"}, "GetReservationUtilization")
        granularity = _granularity(body, grouped=bool(groups))
        start, end = self._period(body)
        where, params = _ri_filter(body.get("Filter"))
        fee = "sum(purchased_hours * hourly_commitment)"
        sub = ", lease_id" if groups else ""
        period, period_params = self._period_sql(granularity, start)
        rows = self._query(
            f"SELECT {period} AS p{sub}, sum(purchased_hours), sum(actual_hours), {fee}, "
            "sum(actual_hours * hourly_commitment) "
            f"FROM cm_ri WHERE usage_date >= ? AND usage_date < ? AND ({where}) GROUP BY ALL ORDER BY ALL",
            [*period_params, start, end, *params],
        )
        size = page_size_arg(body, "MaxResults", self.emulator.page_size, 1000)
        key = fingerprint(body, "NextPageToken", "MaxResults")
        first, stop, token = page_bounds(body, key, len(rows), size)
        by_period: dict[dt.date, list[tuple[Any, ...]]] = {}
        for row in rows[first:stop]:
            by_period.setdefault(row[0], []).append(row)
        inventory = {r["lease_id"]: r for r in self.inventory.to_pylist()}
        names = self.emulator.account_names
        result = []
        for p, period_rows in by_period.items():
            sums = [sum((r[i] for r in period_rows), Decimal(0)) for i in range(-4, 0)]
            entry: dict[str, Any] = {
                "TimePeriod": {
                    "Start": p.isoformat(),
                    "End": self._period_end(p, granularity, end).isoformat(),
                },
                "Groups": [],
                "Total": self._ri_aggregates(*sums),
            }
            for r in period_rows if groups else []:
                ri = inventory[r[1]]
                entry["Groups"].append(
                    {
                        "Key": "SUBSCRIPTION_ID",
                        "Value": ri["lease_id"],
                        "Attributes": {
                            "accountId": ri["account_id"],
                            "accountName": names.get(ri["account_id"], ri["account_id"]),
                            "leaseId": ri["lease_id"],
                            "reservationId": ri["commitment_id"],
                            "subscriptionId": ri["lease_id"],
                            "subscriptionStatus": "Active" if ri["state"] == "active" else "Retired",
                            "region": ri["region"],
                            "instanceType": ri["instance_class"],
                            "numberOfInstances": str(ri["instance_count"]),
                            "startDateTime": f"{ri['start_date']}T00:00:00.000Z",
                            "endDateTime": f"{ri['end_date']}T00:00:00.000Z",
                            "service": "Amazon Relational Database Service",
                        },
                        "Utilization": self._ri_aggregates(*r[-4:]),
                    }
                )
            result.append(entry)
        totals = [sum((r[i] for r in rows), Decimal(0)) for i in range(-4, 0)]
        answer = {"UtilizationsByTime": result, "Total": self._ri_aggregates(*totals)}
        return {**answer, "NextPageToken": token} if token else answer

    def get_reservation_coverage(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = _group_by(body, _RI_COVERAGE_GROUP_BY, "GetReservationCoverage")
        granularity = _granularity(body, grouped=bool(groups))
        start, end = self._period(body)
        expression = body.get("Filter")
        if "SERVICE" not in str(expression):  # AWS: without a SERVICE filter, EC2
            service = {"Dimensions": {"Key": "SERVICE", "Values": [SERVICE_EC2]}}
            expression = {"And": [expression, service]} if expression else service
        where, params = _ri_filter(expression)
        cols = [c for _, c in groups]
        select = "".join(f", {c}" for c in cols)
        period, period_params = self._period_sql(granularity, start)
        rows = self._query(
            f"SELECT {period} AS p{select}, sum(reserved_hours), sum(on_demand_hours), "
            f"sum(on_demand_cost) FROM cm_ri_coverage WHERE usage_date >= ? AND usage_date < ? AND ({where}) "
            "GROUP BY ALL ORDER BY ALL",
            [*period_params, start, end, *params],
        )
        size = page_size_arg(body, "MaxResults", self.emulator.page_size, 1000)
        key = fingerprint(body, "NextPageToken", "MaxResults")
        first, stop, token = page_bounds(body, key, len(rows), size)
        by_period: dict[dt.date, list[tuple[Any, ...]]] = {}
        for row in rows[first:stop]:
            by_period.setdefault(row[0], []).append(row)
        result = []
        for p, period_rows in by_period.items():
            sums = [sum((r[i] for r in period_rows), Decimal(0)) for i in range(-3, 0)]
            result.append(
                {
                    "TimePeriod": {
                        "Start": p.isoformat(),
                        "End": self._period_end(p, granularity, end).isoformat(),
                    },
                    "Groups": [
                        {
                            "Attributes": {
                                k: v for (k, _), v in zip(groups, r[1 : 1 + len(cols)], strict=True)
                            },
                            "Coverage": self._coverage(*r[-3:]),
                        }
                        for r in (period_rows if groups else [])
                    ],
                    "Total": self._coverage(*sums),
                }
            )
        totals = [sum((r[i] for r in rows), Decimal(0)) for i in range(-3, 0)]
        answer = {"CoveragesByTime": result, "Total": self._coverage(*totals)}
        return {**answer, "NextPageToken": token} if token else answer

    @staticmethod
    def _coverage(reserved: Decimal, on_demand: Decimal, od_cost: Decimal) -> dict[str, Any]:
        total = reserved + on_demand
        return {
            "CoverageHours": {
                "OnDemandHours": fmt_amount(on_demand),
                "ReservedHours": fmt_amount(reserved),
                "TotalRunningHours": fmt_amount(total),
                "CoverageHoursPercentage": _pct(reserved, total),
            },
            "CoverageCost": {"OnDemandCost": fmt_amount(od_cost)},
        }


__all__ = ["SP_TYPE", "Commitments"]
