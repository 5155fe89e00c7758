"""RI / Savings Plans purchase and EC2 rightsizing recommendations, derived from the world.

Purchase recommendations look at the ledger's on-demand EC2 / RDS usage over the lookback window: the
steady state (the minimum daily usage, expressed per hour) is what a commitment can cover, and the
savings are that steady-state on-demand spend times a typical discount for the term and payment option.
As in AWS, one RI detail per offer: account, region, instance type and the usage type's and operation's
platform, tenancy, engine, edition, deployment option and licence (``sandbox/offers.py``), so one
database class run as MySQL and as PostgreSQL, or Single-AZ and Multi-AZ, is two details.
Rightsizing looks at the world's running EC2 instances and their CPU utilisation.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from functools import cache
from typing import TYPE_CHECKING, Any

from finops_sandbox.catalog import PRICES_PATH
from finops_sandbox.cost_explorer.anomalies import stable_uuid
from finops_sandbox.cost_explorer.aws_reference import REGION_NAMES, SIZE_FACTORS
from finops_sandbox.cost_explorer.common import (
    DIMENSION_COLUMNS,
    CEError,
    fingerprint,
    page_bounds,
    page_size_arg,
)
from finops_sandbox.cost_explorer.filter import FilterTranslator
from finops_sandbox.offers import (
    CONVERTIBLE_FACTOR,
    EC2_CODES,
    RDS_CODES,
    RI_DISCOUNT,
    SP_DISCOUNT,
    instance_details,
    instance_type_of,
)

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

HOURS_PER_MONTH = 730
# PageSize of the three recommendation operations: "min": 0, "max": 6000 in botocore's ce model (the API
# reference gives only the minimum); the defaults when it is left out are the sandbox's.
PAGE_SIZE_MAX = 6000
LOOKBACK_DAYS = {"SEVEN_DAYS": 7, "THIRTY_DAYS": 30, "SIXTY_DAYS": 60}
TERM_MONTHS = {"ONE_YEAR": 12, "THREE_YEARS": 36}
PAYMENT_OPTIONS = ("NO_UPFRONT", "PARTIAL_UPFRONT", "ALL_UPFRONT")
EC2_SERVICE = "Amazon Elastic Compute Cloud - Compute"
RDS_SERVICE = "Amazon Relational Database Service"
# Services AWS makes RI recommendations for that the synthetic ledger has no reservable usage of.
_OTHER_RI_SERVICES = {"Amazon ElastiCache", "Amazon Redshift", "Amazon OpenSearch Service", "Amazon MemoryDB"}
_SIZES = list(SIZE_FACTORS)
_MEMORY_PER_VCPU = {"t": 4, "m": 4, "c": 2, "r": 8, "x": 16, "z": 8}
IDLE_CPU = 5.0  # p95 CPU below this: nothing runs there, terminate
OVERSIZED_CPU = 35.0  # p95 CPU below this: half the capacity would do, one size down
RIGHTSIZING_LOOKBACK_DAYS = 7  # AWS looks at 14 days, but the API enum has no FOURTEEN_DAYS
PRICE_FILE = PRICES_PATH  # the product's price file (see catalog.py)
_translate_resources = FilterTranslator({"LINKED_ACCOUNT": "account_id", "REGION": "region"}, None)
_translate_ledger = FilterTranslator(DIMENSION_COLUMNS)


def _s(value: float, digits: int = 2) -> str:
    """Recommendation figures are strings in AWS answers, rounded like the console shows them."""
    return f"{round(value, digits):.{digits}f}"


def split_instance_type(instance_type: str) -> tuple[str, str]:
    """("m5", "xlarge") from "m5.xlarge" and ("db.r5", "large") from "db.r5.large"."""
    family, _, size = instance_type.rpartition(".")
    return family, size


def _enum(body: dict[str, Any], field: str, allowed: Any, default: str) -> str:
    value = body.get(field, default)
    if value not in allowed:
        raise CEError(f"Invalid {field} {value!r}; valid: {sorted(allowed)}")
    return value


def _purchase_page(
    body: dict[str, Any], details: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """The asked page of purchase details and the next token (None on the last): RI and SP page alike."""
    size = page_size_arg(body, "PageSize", 1000, PAGE_SIZE_MAX)
    lo, hi, token = page_bounds(body, fingerprint(body, "NextPageToken"), len(details), size)
    return details[lo:hi], token


def _reservation_detail(
    service: str, row: tuple, discount: float, term: str, payment: str, days: int
) -> tuple[dict[str, Any], float, float]:
    """One RI detail from a :meth:`Recommendations._steady_usage` row, with its monthly savings and on-demand
    cost for the summary. The recommended count is the steady state (whole instances always running), so
    the reservation is never idle; normalised units let size-flexible RIs be compared across sizes."""
    account, region, usage_type, operation, min_hours, max_hours, avg_hours, rate = row
    count = math.floor(min_hours / 24)
    instance_type = instance_type_of(usage_type)
    factor = SIZE_FACTORS.get(split_instance_type(instance_type)[1], 1)
    covered_monthly = count * rate * HOURS_PER_MONTH
    on_demand_monthly = avg_hours / 24 * rate * HOURS_PER_MONTH
    savings = covered_monthly * discount
    ri_monthly = covered_monthly - savings
    # All upfront pays the whole term at purchase, partial upfront half of it and the rest monthly.
    months = TERM_MONTHS[term]
    upfront = {"ALL_UPFRONT": ri_monthly * months, "PARTIAL_UPFRONT": ri_monthly * months / 2}.get(
        payment, 0.0
    )
    recurring = {"ALL_UPFRONT": 0.0, "PARTIAL_UPFRONT": ri_monthly / 2}.get(payment, ri_monthly)
    detail = {
        "AccountId": account,
        "InstanceDetails": instance_details(
            service == EC2_SERVICE, instance_type, region, usage_type, operation
        ),
        "RecommendedNumberOfInstancesToPurchase": str(count),
        "RecommendedNormalizedUnitsToPurchase": _s(count * factor, 1),
        "MinimumNumberOfInstancesUsedPerHour": _s(min_hours / 24, 1),
        "MinimumNormalizedUnitsUsedPerHour": _s(min_hours / 24 * factor, 1),
        "MaximumNumberOfInstancesUsedPerHour": _s(max_hours / 24, 1),
        "MaximumNormalizedUnitsUsedPerHour": _s(max_hours / 24 * factor, 1),
        "AverageNumberOfInstancesUsedPerHour": _s(avg_hours / 24, 1),
        "AverageNormalizedUnitsUsedPerHour": _s(avg_hours / 24 * factor, 1),
        "AverageUtilization": "100.0",
        "EstimatedBreakEvenInMonths": _s(upfront / (covered_monthly - recurring) if upfront else 0.0, 1),
        "CurrencyCode": "USD",
        "EstimatedMonthlySavingsAmount": _s(savings),
        "EstimatedMonthlySavingsPercentage": _s(
            savings / on_demand_monthly * 100 if on_demand_monthly else 0
        ),
        "EstimatedMonthlyOnDemandCost": _s(on_demand_monthly),
        "EstimatedReservationCostForLookbackPeriod": _s(ri_monthly / HOURS_PER_MONTH * 24 * days),
        "UpfrontCost": _s(upfront),
        "RecurringStandardMonthlyCost": _s(recurring),
    }
    return detail, savings, on_demand_monthly


def _savings_plan_figures(
    min_hourly: float, avg_hourly: float, discount: float, hours: int
) -> dict[str, float] | None:
    """Lookback-window figures of a plan committing to the steady (minimum) hourly spend, at plan rates;
    None when that commitment rounds to nothing (AWS recommends no plan then). ``remaining`` is the
    on-demand spend the plan leaves uncovered, ``monthly`` the savings scaled to a month."""
    commitment = round(min_hourly * (1 - discount), 3)
    if commitment <= 0:
        return None
    covered = commitment / (1 - discount)  # on-demand spend per hour the commitment absorbs
    on_demand = avg_hourly * hours
    sp_cost = commitment * hours
    remaining = on_demand - covered * hours
    savings = on_demand - sp_cost - remaining
    monthly = savings / hours * HOURS_PER_MONTH
    return {
        "commit": commitment,
        "savings": savings,
        "monthly": monthly,
        "on_demand": on_demand,
        "sp_cost": sp_cost,
        "remaining": remaining,
    }


def _savings_plan_summary(totals: dict[str, float], count: int) -> dict[str, Any]:
    """The summary over every detail (not just the page), from the summed :func:`_savings_plan_figures`."""
    return {
        "EstimatedROI": _s(totals["savings"] / totals["sp_cost"] * 100),
        "CurrencyCode": "USD",
        "EstimatedTotalCost": _s(totals["sp_cost"] + totals["remaining"]),
        "CurrentOnDemandSpend": _s(totals["on_demand"]),
        "EstimatedSavingsAmount": _s(totals["savings"]),
        "TotalRecommendationCount": str(count),
        "DailyCommitmentToPurchase": _s(totals["commit"] * 24, 3),
        "HourlyCommitmentToPurchase": _s(totals["commit"], 3),
        "EstimatedSavingsPercentage": _s(totals["savings"] / totals["on_demand"] * 100),
        "EstimatedMonthlySavingsAmount": _s(totals["monthly"]),
        "EstimatedOnDemandCostWithCurrentCommitment": _s(totals["on_demand"]),
    }


class Recommendations:
    """The RI, Savings Plans and rightsizing recommendation operations."""

    def __init__(self, emulator: CostExplorerEmulator) -> None:
        self.em = emulator
        self.world = emulator.world
        self.generated = dt.datetime.combine(self.world.data_end, dt.time(0), dt.UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )

    def _window(self, body: dict[str, Any]) -> tuple[str, int, dt.date]:
        lookback = _enum(body, "LookbackPeriodInDays", LOOKBACK_DAYS, "SEVEN_DAYS")
        days = LOOKBACK_DAYS[lookback]
        return lookback, days, self.world.data_end - dt.timedelta(days=days)

    def _metadata(self, *parts: object) -> dict[str, Any]:
        return {
            "RecommendationId": stable_uuid(self.world.config.seed, *parts),
            "GenerationTimestamp": self.generated,
        }

    # ---------------------------------------------------------------- reserved instances
    def get_reservation_purchase_recommendation(self, body: dict[str, Any]) -> dict[str, Any]:
        """One recommendation for the asked service, term and payment: a detail per offer in steady use."""
        service = body.get("Service")
        if service not in (EC2_SERVICE, RDS_SERVICE, *_OTHER_RI_SERVICES):
            raise CEError(f"Service {service!r} is not supported for reservation recommendations")
        scope = _enum(body, "AccountScope", ("PAYER", "LINKED"), "PAYER")
        term = _enum(body, "TermInYears", TERM_MONTHS, "ONE_YEAR")
        payment = _enum(body, "PaymentOption", PAYMENT_OPTIONS, "NO_UPFRONT")
        lookback, days, first = self._window(body)
        spec = (body.get("ServiceSpecification") or {}).get("EC2Specification") or {}
        offering = _enum(spec, "OfferingClass", ("STANDARD", "CONVERTIBLE"), "STANDARD")
        discount = RI_DISCOUNT[(term, payment)] * (CONVERTIBLE_FACTOR if offering == "CONVERTIBLE" else 1)
        rows = [] if service in _OTHER_RI_SERVICES else self._steady_usage(body, service, scope, days, first)
        details = []
        total_savings = total_on_demand = 0.0
        for row in rows:
            detail, savings, on_demand_monthly = _reservation_detail(
                service, row, discount, term, payment, days
            )
            details.append(detail)
            total_savings += savings
            total_on_demand += on_demand_monthly
        page, token = _purchase_page(body, details)
        recommendation: dict[str, Any] = {
            "AccountScope": scope,
            "LookbackPeriodInDays": lookback,
            "TermInYears": term,
            "PaymentOption": payment,
            "RecommendationDetails": page,
            "RecommendationSummary": {
                "TotalEstimatedMonthlySavingsAmount": _s(total_savings),
                "TotalEstimatedMonthlySavingsPercentage": _s(
                    total_savings / total_on_demand * 100 if total_on_demand else 0
                ),
                "CurrencyCode": "USD",
            },
        }
        if service == EC2_SERVICE:
            recommendation["ServiceSpecification"] = {"EC2Specification": {"OfferingClass": offering}}
        answer: dict[str, Any] = {
            "Metadata": self._metadata("ri", service, scope, term, payment, lookback, offering),
            "Recommendations": [recommendation] if details else [],
        }
        if token:
            answer["NextPageToken"] = token
        return answer

    def _steady_usage(
        self, body: dict[str, Any], service: str, scope: str, days: int, first: dt.date
    ) -> list[tuple]:
        """Per offer (account, region, usage type, operation): min / max / mean daily on-demand hours and the
        hourly rate. Usage types carry tenancy and deployment option, operations platform, engine, edition
        and licence; a ledger without operations reads as one default operation."""
        codes = EC2_CODES if service == EC2_SERVICE else RDS_CODES
        filter_sql, params = _translate_ledger(body.get("Filter"))
        account_sql, account_params = (
            ("?", [self.world.management_account_id]) if scope == "PAYER" else ("account_id", [])
        )
        if body.get("AccountId"):
            filter_sql += " AND account_id = ?"
            params = [*params, body["AccountId"]]
        source, operation = self._offer_source()
        sql = f"""
            WITH daily AS (
                SELECT {account_sql} AS account, region, CAST(usage_type AS VARCHAR) AS usage_type,
                       {operation} AS operation, usage_date,
                       CAST(sum(usage_quantity) AS DOUBLE) AS hours,
                       CAST(sum(unblended_cost) AS DOUBLE) AS cost
                FROM {source}
                WHERE service = ? AND record_type = 'Usage'
                  AND (usage_type LIKE ? OR usage_type LIKE ?)
                  AND usage_date >= ? AND usage_date < ? AND ({filter_sql})
                GROUP BY ALL)
            SELECT account, region, usage_type, operation,
                   CASE WHEN count(*) = ? THEN min(hours) ELSE 0 END AS min_hours,
                   max(hours), sum(hours) / ?, sum(cost) / nullif(sum(hours), 0)
            FROM daily GROUP BY ALL HAVING min_hours >= 24
            ORDER BY account, region, usage_type, operation NULLS FIRST
        """
        likes = [f"%{code}%" for code in codes]
        with self.em.lock:
            return self.em.con.execute(
                sql, [*account_params, service, *likes, first, self.world.data_end, *params, days, days]
            ).fetchall()

    def _offer_source(self) -> tuple[str, str]:
        """The table to read offers from and its operation expression (NULL when the ledger has none)."""
        columns = {"account_id", "service", "region", "usage_type", "record_type"}
        try:
            return self.em.source_for(columns | {"operation"}), "CAST(operation AS VARCHAR)"
        except StopIteration:
            return self.em.source_for(columns), "CAST(NULL AS VARCHAR)"

    # ---------------------------------------------------------------- savings plans
    def get_savings_plans_purchase_recommendation(self, body: dict[str, Any]) -> dict[str, Any]:
        """A detail per account (and region / family for EC2 Instance SPs) with steady spend to commit to."""
        sp_type = _enum(
            body, "SavingsPlansType", ("COMPUTE_SP", "EC2_INSTANCE_SP", "SAGEMAKER_SP", "DATABASE_SP"), ""
        )
        term = _enum(body, "TermInYears", TERM_MONTHS, "")
        payment = _enum(body, "PaymentOption", PAYMENT_OPTIONS, "")
        scope = _enum(body, "AccountScope", ("PAYER", "LINKED"), "PAYER")
        lookback, days, first = self._window(body)
        discount = SP_DISCOUNT.get(sp_type, {}).get((term, payment), 0.0)
        rows = self._hourly_on_demand(body, sp_type, scope, days, first) if discount else []
        details = []
        totals = dict.fromkeys(("commit", "savings", "monthly", "on_demand", "sp_cost", "remaining"), 0.0)
        for row in rows:
            figures = _savings_plan_figures(row[3], row[5], discount, days * 24)
            if figures is None:
                continue
            details.append(self._savings_plan_detail((sp_type, term, payment, lookback), row, figures))
            for name in totals:
                totals[name] += figures[name]
        page, token = _purchase_page(body, details)
        recommendation: dict[str, Any] = {
            "AccountScope": scope,
            "SavingsPlansType": sp_type,
            "TermInYears": term,
            "PaymentOption": payment,
            "LookbackPeriodInDays": lookback,
            "SavingsPlansPurchaseRecommendationDetails": page,
        }
        if details:
            recommendation["SavingsPlansPurchaseRecommendationSummary"] = _savings_plan_summary(
                totals, len(details)
            )
        answer: dict[str, Any] = {
            "Metadata": self._metadata("sp", sp_type, scope, term, payment, lookback),
            "SavingsPlansPurchaseRecommendation": recommendation,
        }
        if token:
            answer["NextPageToken"] = token
        return answer

    def _savings_plan_detail(
        self, offer: tuple[str, str, str, str], row: tuple, figures: dict[str, float]
    ) -> dict[str, Any]:
        """One SP detail: ``offer`` is (type, term, payment, lookback), ``row`` from `_hourly_on_demand`.

        The offering id depends on the plan alone, as in AWS; the detail id also on the account and the
        lookback, and on the world's seed so that two worlds never share ids.
        """
        sp_type, term, payment, lookback = offer
        account, region, family, min_hourly, max_hourly, avg_hourly = row
        commitment, savings, on_demand = figures["commit"], figures["savings"], figures["on_demand"]
        upfront_share = {"ALL_UPFRONT": 1.0, "PARTIAL_UPFRONT": 0.5}.get(payment, 0.0)
        upfront = upfront_share * commitment * 8760 * (TERM_MONTHS[term] // 12)
        plan: dict[str, Any] = {
            "OfferingId": stable_uuid("sp-offering", sp_type, term, payment, region, family)
        }
        if sp_type == "EC2_INSTANCE_SP":
            plan |= {"Region": region, "InstanceFamily": family}
        return {
            "SavingsPlansDetails": plan,
            "AccountId": account,
            "UpfrontCost": _s(upfront),
            "EstimatedROI": _s(savings / figures["sp_cost"] * 100),
            "CurrencyCode": "USD",
            "EstimatedSPCost": _s(figures["sp_cost"]),
            "EstimatedOnDemandCost": _s(figures["remaining"]),
            "EstimatedOnDemandCostWithCurrentCommitment": _s(on_demand),
            "EstimatedSavingsAmount": _s(savings),
            "EstimatedSavingsPercentage": _s(savings / on_demand * 100),
            "HourlyCommitmentToPurchase": _s(commitment, 3),
            "EstimatedAverageUtilization": "100.0",
            "EstimatedMonthlySavingsAmount": _s(figures["monthly"]),
            "CurrentMinimumHourlyOnDemandSpend": _s(min_hourly, 3),
            "CurrentMaximumHourlyOnDemandSpend": _s(max_hourly, 3),
            "CurrentAverageHourlyOnDemandSpend": _s(avg_hourly, 3),
            "RecommendationDetailId": stable_uuid(
                self.world.config.seed, "sp", sp_type, term, payment, lookback, account, region, family
            ),
        }

    def _hourly_on_demand(
        self, body: dict[str, Any], sp_type: str, scope: str, days: int, first: dt.date
    ) -> list:
        """Per account (and region / family for EC2 Instance SPs): min / max / mean hourly on-demand spend."""
        filter_sql, params = _translate_ledger(body.get("Filter"))
        account_sql, account_params = (
            ("?", [self.world.management_account_id]) if scope == "PAYER" else ("account_id", [])
        )
        if sp_type == "EC2_INSTANCE_SP":
            keys = "region AS r, split_part(split_part(usage_type, ':', 2), '.', 1) AS f"
            eligible = (
                "service = ? AND (usage_type LIKE '%BoxUsage:%' OR usage_type LIKE '%DedicatedUsage:%')"
            )
        else:  # Compute SPs also cover Lambda (and Fargate, absent from the ledger)
            keys = "'' AS r, '' AS f"
            eligible = (
                "((service = ? AND (usage_type LIKE '%BoxUsage:%' OR usage_type LIKE '%DedicatedUsage:%'))"
                " OR service = 'AWS Lambda')"
            )
        eligible_params = [EC2_SERVICE]
        source = self.em.source_for({"account_id", "service", "region", "usage_type", "record_type"})
        sql = f"""
            WITH daily AS (
                SELECT {account_sql} AS account, {keys}, usage_date,
                       CAST(sum(unblended_cost) AS DOUBLE) / 24 AS hourly
                FROM {source}
                WHERE {eligible} AND record_type = 'Usage' AND usage_date >= ? AND usage_date < ?
                  AND ({filter_sql})
                GROUP BY ALL)
            SELECT account, r, f, CASE WHEN count(*) = ? THEN min(hourly) ELSE 0 END,
                   max(hourly), sum(hourly) / ?
            FROM daily GROUP BY ALL ORDER BY ALL
        """
        with self.em.lock:
            return self.em.con.execute(
                sql,
                [*account_params, *eligible_params, first, self.world.data_end, *params, days, days],
            ).fetchall()

    # ---------------------------------------------------------------- rightsizing
    def get_rightsizing_recommendation(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("Service") != "AmazonEC2":
            raise CEError("Service must be AmazonEC2: rightsizing covers EC2 instances only")
        config = body.get("Configuration") or {
            "RecommendationTarget": "SAME_INSTANCE_FAMILY",
            "BenefitsConsidered": True,
        }
        _enum(config, "RecommendationTarget", ("SAME_INSTANCE_FAMILY", "CROSS_INSTANCE_FAMILY"), "")
        if not isinstance(config.get("BenefitsConsidered"), bool):
            raise CEError("Configuration.BenefitsConsidered must be a boolean")
        filter_sql, params = _translate_resources(body.get("Filter"))
        recommendations = [r for r in self._rightsizing_rows(filter_sql, params) if r is not None]
        recommendations.sort(key=lambda r: (-float(r[0]), r[1]["CurrentInstance"]["ResourceId"]))
        savings = sum(float(r[0]) for r in recommendations)
        current = sum(float(r[1]["CurrentInstance"]["MonthlyCost"]) for r in recommendations)
        size = page_size_arg(body, "PageSize", 100, PAGE_SIZE_MAX)
        lo, hi, token = page_bounds(body, fingerprint(body, "NextPageToken"), len(recommendations), size)
        answer: dict[str, Any] = {
            "Metadata": self._metadata("rightsizing", config["RecommendationTarget"])
            | {"LookbackPeriodInDays": "SEVEN_DAYS"},
            "Summary": {
                "TotalRecommendationCount": str(len(recommendations)),
                "EstimatedTotalMonthlySavingsAmount": _s(savings),
                "SavingsCurrencyCode": "USD",
                "SavingsPercentage": _s(savings / current * 100 if current else 0),
            },
            "RightsizingRecommendations": [r[1] for r in recommendations[lo:hi]],
            "Configuration": config,
        }
        if token:
            answer["NextPageToken"] = token
        return answer

    def _rightsizing_rows(
        self, filter_sql: str, params: list[Any]
    ) -> list[tuple[str, dict[str, Any]] | None]:
        with self.em.lock:
            cols = {r[0] for r in self.em.con.execute("DESCRIBE resources").fetchall()}
        id_sql = "coalesce(resource_id, resource_key)" if "resource_id" in cols else "resource_key"
        sql = f"""
            SELECT {id_sql}, account_id, region, name, tags, instance_type, CAST(monthly_cost_usd AS DOUBLE),
                   CAST(cpu_utilization_p95 AS DOUBLE), created_at
            FROM resources
            WHERE resource_type = 'ec2:instance' AND state = 'running' AND instance_type IS NOT NULL
              AND cpu_utilization_p95 < ? AND ({filter_sql})
            ORDER BY 1
        """
        with self.em.lock:
            rows = self.em.con.execute(sql, [OVERSIZED_CPU, *params]).fetchall()
        return [self._rightsizing(*row) for row in rows]

    def _rightsizing(
        self,
        resource_id: str,
        account: str,
        region: str,
        name: str | None,
        tags_json: str | None,
        instance_type: str,
        monthly: float,
        cpu: float,
        created_at: dt.datetime | None,
    ) -> tuple[str, dict[str, Any]] | None:
        hourly = monthly / HOURS_PER_MONTH
        tags = json.loads(tags_json or "{}")
        lookback_hours = RIGHTSIZING_LOOKBACK_DAYS * 24
        if created_at is not None:
            age = self.world.data_end - created_at.date()
            lookback_hours = max(0, min(lookback_hours, age.days * 24))
        current = {
            "ResourceId": resource_id,
            "InstanceName": name or "",
            "Tags": [{"Key": k, "Values": [str(v)]} for k, v in sorted(tags.items())],
            "ResourceDetails": {"EC2ResourceDetails": self._ec2_details(instance_type, region, hourly)},
            "ResourceUtilization": {"EC2ResourceUtilization": self._utilisation(cpu)},
            "ReservationCoveredHoursInLookbackPeriod": "0",
            "SavingsPlansCoveredHoursInLookbackPeriod": "0",
            "OnDemandHoursInLookbackPeriod": str(lookback_hours),
            "TotalRunningHoursInLookbackPeriod": str(lookback_hours),
            "MonthlyCost": _s(monthly),
            "CurrencyCode": "USD",
        }
        base = {"AccountId": account, "CurrentInstance": current}
        if cpu < IDLE_CPU:
            savings = _s(monthly)
            return savings, base | {
                "RightsizingType": "TERMINATE",
                "TerminateRecommendationDetail": {"EstimatedMonthlySavings": savings, "CurrencyCode": "USD"},
                "FindingReasonCodes": ["CPU_OVER_PROVISIONED"],
            }
        target = self._size_down(instance_type)
        if target is None:
            return None
        listed = ec2_catalog().get(target, {}).get("price", {}).get(region)
        ratio = (
            SIZE_FACTORS[split_instance_type(target)[1]] / SIZE_FACTORS[split_instance_type(instance_type)[1]]
        )
        target_hourly = (
            listed if listed is not None else hourly * ratio
        )  # same family: price scales with size
        target_monthly = target_hourly * HOURS_PER_MONTH
        savings = _s(monthly - target_monthly)
        return savings, base | {
            "RightsizingType": "MODIFY",
            "ModifyRecommendationDetail": {
                "TargetInstances": [
                    {
                        "EstimatedMonthlyCost": _s(target_monthly),
                        "EstimatedMonthlySavings": savings,
                        "CurrencyCode": "USD",
                        "DefaultTargetInstance": True,
                        "ResourceDetails": {
                            "EC2ResourceDetails": self._ec2_details(target, region, target_hourly)
                        },
                        "ExpectedResourceUtilization": {
                            "EC2ResourceUtilization": self._utilisation(min(cpu * 2, 100))
                        },
                        "PlatformDifferences": [],
                    }
                ]
            },
            "FindingReasonCodes": ["CPU_OVER_PROVISIONED"],
        }

    @staticmethod
    def _utilisation(cpu: float) -> dict[str, Any]:
        zero = "0.0"
        return {
            "MaxCpuUtilizationPercentage": _s(cpu, 1),
            "EBSResourceUtilization": {
                "EbsReadOpsPerSecond": zero,
                "EbsWriteOpsPerSecond": zero,
                "EbsReadBytesPerSecond": zero,
                "EbsWriteBytesPerSecond": zero,
            },
        }

    @staticmethod
    def _size_down(instance_type: str) -> str | None:
        """The next smaller size of the same family (from the price catalog when it lists the family)."""
        family, size = split_instance_type(instance_type)
        if size not in SIZE_FACTORS:
            return None
        known = [t for t in ec2_catalog() if split_instance_type(t)[0] == family]
        smaller = sorted(
            (SIZE_FACTORS.get(split_instance_type(t)[1], 0), t)
            for t in known
            if 0 < SIZE_FACTORS.get(split_instance_type(t)[1], 0) < SIZE_FACTORS[size]
        )
        if known:
            return smaller[-1][1] if smaller else None
        half = [s for s in _SIZES if SIZE_FACTORS[s] * 2 == SIZE_FACTORS[size]]
        smallest = "nano" if family.startswith("t") else "large"
        return f"{family}.{half[0]}" if half and _SIZES.index(half[0]) >= _SIZES.index(smallest) else None

    @staticmethod
    def _ec2_details(instance_type: str, region: str, hourly: float) -> dict[str, Any]:
        family, size = split_instance_type(instance_type)
        factor = SIZE_FACTORS.get(size, 4)
        spec = ec2_catalog().get(instance_type) or {
            "vcpu": max(1, round(factor / 2)),
            "memory_gib": max(0.5, factor / 2 * _MEMORY_PER_VCPU.get(family[:1], 4)),
        }
        return {
            "HourlyOnDemandRate": _s(hourly, 4),
            "InstanceType": instance_type,
            "Platform": "Linux/UNIX",
            "Region": REGION_NAMES.get(region, region),
            "Sku": stable_uuid("sku", instance_type, region).replace("-", "")[:16].upper(),
            "Memory": f"{spec['memory_gib']:g} GiB",
            "NetworkPerformance": "Up to 10 Gigabit" if factor <= 16 else "10 Gigabit",
            "Storage": "EBS only",
            "Vcpu": str(spec["vcpu"]),
        }


@cache
def ec2_catalog() -> dict[str, dict[str, Any]]:
    """instance type -> {"vcpu", "memory_gib", "price": {region: hourly USD}} from the list-price file."""
    if not PRICE_FILE.exists():
        return {}
    return json.loads(PRICE_FILE.read_text())["ec2_instance_hourly"]
