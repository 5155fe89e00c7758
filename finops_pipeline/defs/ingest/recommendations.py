"""``ce_recommendations``: RI and Savings Plans purchases and EC2 rightsizing, one snapshot a day.

The three kinds are three separate Cost Explorer reads, and AWS can refuse one alone: rightsizing is
opt-in (AccessDeniedException "... is an opt-in only feature"), RI recommendations answer
DataUnavailableException without enough usage history, and an IAM policy may grant only some of them.
Such a refusal costs only its own kind: the others are kept, and the refused kind is a row in
``raw.scan_status`` (source ``ce_recommendations:<kind>``, status ``not_opted_in`` / ``data_unavailable`` /
``access_denied``) and a warning of the ``every_recommendation_kind_answered`` check, so its absence reads
as unknown, never as zero savings. Cost Explorer not enabled at all, throttling and server errors still
fail the asset: nothing is known then.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dagster as dg
import pyarrow as pa
from botocore.exceptions import ClientError

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget, call_metadata, classify_error
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.defs.ingest.cost_explorer_api import all_pages
from finops_pipeline.lib.fan_out import record_scan_status
from finops_pipeline.lib.money import money
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_rows, scalar

LOOKBACK = "THIRTY_DAYS"
LOOKBACK_DAYS = {"SEVEN_DAYS": 7, "THIRTY_DAYS": 30, "SIXTY_DAYS": 60}
# Rightsizing takes no lookback: AWS analyses "your historical usage over the past 14 days"
# (https://docs.aws.amazon.com/cost-management/latest/userguide/ce-rightsizing.html), not the 30 days asked
# of RI and Savings Plans.
RIGHTSIZING_LOOKBACK_DAYS = 14
HOURS_PER_MONTH = 730  # AWS's monthly-hours convention: an hourly figure × 730 is its monthly one
TERM = "ONE_YEAR"
PAYMENT = "NO_UPFRONT"
SP_TYPE = "COMPUTE_SP"
OFFERING_CLASS = "STANDARD"  # what AWS assumes for EC2 when ServiceSpecification is left out
# The most recommendations one page of each of the three reads holds (PageSize: "max": 6000 in botocore's
# ce model); AWS documents no default, and at 1,000 accounts rightsizing alone is thousands of instances.
PAGE_SIZE = 6000
RI_SERVICES = ("Amazon Elastic Compute Cloud - Compute", "Amazon Relational Database Service")
# Columns of raw.ce_recommendations that are part of a recommendation's identity (with source, action, offer).
IDENTITY_COLUMNS = (
    "service",
    "account_id",
    "region",
    "resource_id",
    "instance_type",
    "term",
    "payment_option",
    "lookback_days",
)
# Every column, stale marks included: kept_rows carries them, and its tables are concatenated with today's.
RECOMMENDATION_COLUMNS = tables.table("raw.ce_recommendations").arrow_schema()


def _monthly(hourly: Any) -> Decimal | None:
    """A USD-per-hour figure as USD per month (× 730): the unit its column says."""
    value = money(hourly)
    return None if value is None else (value * HOURS_PER_MONTH).quantize(Decimal("0.000001"))


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def recommendation_identity(
    source: str, action: str, offer: dict[str, Any], **values: Any
) -> tuple[str, dict[str, Any]]:
    """(recommendation_id, the identity it hashes): everything that tells one offer from another.

    AWS makes one RI recommendation detail per account, region, instance type *and* platform, tenancy,
    engine, edition, deployment option and licence model (botocore ``ce`` model: ``EC2InstanceDetails``,
    ``RDSInstanceDetails``, ``ElastiCacheInstanceDetails``, ``ESInstanceDetails``,
    ``RedshiftInstanceDetails``), and one Savings Plans detail per type, term, payment option, account
    (and, for EC2 Instance SPs, region and family: ``SavingsPlansDetails``). Two details differing in any of
    these are two purchases, and a key that drops one of them merges them: ``marts.recommendations`` then
    joins its previous copy many-to-many and doubles every run (issue #13, item 2). So the identity is:

    - ``source`` and ``action`` (RI purchase, Savings Plan purchase, modify / terminate an instance);
    - ``service``, ``account_id``, ``region``, ``resource_id`` (rightsizing), ``instance_type``;
    - ``term``, ``payment_option``, ``lookback_days`` (asked for, and each its own recommendation);
    - ``offer``: every attribute of the answer's instance details (``Platform``, ``Tenancy``,
      ``DatabaseEngine``, ``DatabaseEdition``, ``DeploymentOption``, ``LicenseModel``, ``NodeType``,
      ``ProductDescription``, ``AvailabilityZone``, … whatever the service returns, so a field AWS adds
      later still separates offers), ``OfferingClass``, ``SavingsPlansType`` and the SP's region / family.

    Figures (quantities, savings, costs) are not identity: they change daily for the same offer. The id is
    the first 20 hex digits of SHA-256 over the canonical JSON of the identity; ``raw.ce_recommendations``
    keeps the ``offer`` part readable in its ``offer`` column.
    """
    identity = {
        "source": source,
        "action": action,
        **{k: values.get(k) for k in IDENTITY_COLUMNS},
        "offer": offer,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:20], identity


def _row(
    source: str, action: str, detail: dict[str, Any], offer: dict[str, Any], **values: Any
) -> dict[str, Any]:
    values = {"term": TERM, "payment_option": PAYMENT, "lookback_days": LOOKBACK_DAYS[LOOKBACK], **values}
    recommendation_id, _ = recommendation_identity(source, action, offer, **values)
    return {
        "recommendation_id": recommendation_id,
        "source": source,
        "action": action,
        "currency": values.pop("currency", None) or "USD",
        "details": json.dumps(detail, ensure_ascii=False, default=str),
        "offer": json.dumps(offer, ensure_ascii=False, sort_keys=True, default=str),
        **values,
    }


def reservation_rows(ce: Any) -> list[dict[str, Any]]:
    rows = []
    for service in RI_SERVICES:
        for page in all_pages(
            ce.get_reservation_purchase_recommendation,
            Service=service,
            LookbackPeriodInDays=LOOKBACK,
            TermInYears=TERM,
            PaymentOption=PAYMENT,
            AccountScope="PAYER",
            PageSize=PAGE_SIZE,
        ):
            for recommendation in page.get("Recommendations", []):
                offering = recommendation.get("ServiceSpecification", {}).get("EC2Specification", {})
                for d in recommendation.get("RecommendationDetails", []):
                    instance = next(iter(d.get("InstanceDetails", {}).values()), {})
                    offer = {
                        **{k: v for k, v in instance.items() if k not in ("Region", "InstanceType")},
                        **(
                            {"OfferingClass": offering.get("OfferingClass", OFFERING_CLASS)}
                            if offering
                            else {}
                        ),
                    }
                    rows.append(
                        _row(
                            "reserved_instances",
                            "purchase_reserved_instances",
                            d,
                            offer,
                            service=service,
                            account_id=d.get("AccountId"),
                            region=instance.get("Region"),
                            resource_id=None,
                            instance_type=instance.get("InstanceType"),
                            recommended_quantity=_number(d.get("RecommendedNumberOfInstancesToPurchase")),
                            upfront_cost=money(d.get("UpfrontCost")),
                            hourly_commitment=None,  # an RI bills a monthly fee, not an hourly commitment
                            recurring_monthly_cost=money(d.get("RecurringStandardMonthlyCost")),
                            estimated_monthly_savings=money(d.get("EstimatedMonthlySavingsAmount")) or 0,
                            estimated_monthly_cost_before=money(d.get("EstimatedMonthlyOnDemandCost")),
                            currency=d.get("CurrencyCode"),
                            term=recommendation.get("TermInYears", TERM),
                            payment_option=recommendation.get("PaymentOption", PAYMENT),
                            lookback_days=LOOKBACK_DAYS.get(
                                recommendation.get("LookbackPeriodInDays", LOOKBACK)
                            ),
                        )
                    )
    return rows


def savings_plan_rows(ce: Any) -> list[dict[str, Any]]:
    rows = []
    for page in all_pages(
        ce.get_savings_plans_purchase_recommendation,
        SavingsPlansType=SP_TYPE,
        TermInYears=TERM,
        PaymentOption=PAYMENT,
        LookbackPeriodInDays=LOOKBACK,
        PageSize=PAGE_SIZE,
    ):
        recommendation = page.get("SavingsPlansPurchaseRecommendation", {})
        for d in recommendation.get("SavingsPlansPurchaseRecommendationDetails", []):
            plan = d.get("SavingsPlansDetails", {})
            offer = {
                "SavingsPlansType": recommendation.get("SavingsPlansType", SP_TYPE),
                **{k: plan[k] for k in ("Region", "InstanceFamily") if plan.get(k)},
            }
            rows.append(
                _row(
                    "savings_plans",
                    "purchase_savings_plan",
                    d,
                    offer,
                    service="Savings Plans (Compute)",
                    account_id=d.get("AccountId"),
                    region=plan.get("Region"),
                    resource_id=None,
                    instance_type=None,
                    recommended_quantity=None,
                    upfront_cost=money(d.get("UpfrontCost")),
                    hourly_commitment=money(d.get("HourlyCommitmentToPurchase")),
                    estimated_monthly_savings=money(d.get("EstimatedMonthlySavingsAmount")) or 0,
                    estimated_monthly_cost_before=_monthly(d.get("CurrentAverageHourlyOnDemandSpend")),
                    currency=d.get("CurrencyCode"),
                    term=recommendation.get("TermInYears", TERM),
                    payment_option=recommendation.get("PaymentOption", PAYMENT),
                    lookback_days=LOOKBACK_DAYS.get(recommendation.get("LookbackPeriodInDays", LOOKBACK)),
                )
            )
    return rows


def rightsizing_rows(ce: Any) -> list[dict[str, Any]]:
    rows = []
    for page in all_pages(
        ce.get_rightsizing_recommendation,
        Service="AmazonEC2",
        Configuration={"RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": True},
        PageSize=PAGE_SIZE,
    ):
        for r in page.get("RightsizingRecommendations", []):
            current = r.get("CurrentInstance", {})
            ec2 = current.get("ResourceDetails", {}).get("EC2ResourceDetails", {})
            if r.get("RightsizingType") == "TERMINATE":
                action, savings = (
                    "terminate_instance",
                    r.get("TerminateRecommendationDetail", {}).get("EstimatedMonthlySavings"),
                )
            else:
                targets = r.get("ModifyRecommendationDetail", {}).get("TargetInstances", [])
                best = next(
                    (t for t in targets if t.get("DefaultTargetInstance")), targets[0] if targets else {}
                )
                action, savings = "modify_instance", best.get("EstimatedMonthlySavings")
            rows.append(
                _row(
                    "rightsizing",
                    action,
                    r,
                    {"Platform": ec2.get("Platform")} if ec2.get("Platform") else {},
                    service="Amazon Elastic Compute Cloud - Compute",
                    account_id=r.get("AccountId"),
                    region=ec2.get("Region"),
                    resource_id=current.get("ResourceId"),
                    instance_type=ec2.get("InstanceType"),
                    recommended_quantity=None,
                    upfront_cost=None,
                    hourly_commitment=None,
                    estimated_monthly_savings=money(savings) or 0,
                    estimated_monthly_cost_before=money(current.get("MonthlyCost")),
                    currency=current.get("CurrencyCode"),
                    lookback_days=RIGHTSIZING_LOOKBACK_DAYS,
                )
            )
    return rows


# A refusal of one kind that leaves the other kinds worth keeping (anything else fails the asset).
DEGRADED_STATUSES = frozenset({"not_opted_in", "data_unavailable", "access_denied"})
STATUS_SOURCE = "ce_recommendations:"  # + kind: its raw.scan_status source
KINDS: tuple[tuple[str, Callable[[Any], list[dict[str, Any]]]], ...] = (
    ("reserved_instances", reservation_rows),
    ("savings_plans", savings_plan_rows),
    ("rightsizing", rightsizing_rows),
)


def read_kinds(ce: Any, target: ScanTarget) -> tuple[list[dict[str, Any]], list[ScanOutcome], list[int]]:
    """Every kind's rows, and each kind's outcome: a refusal of one kind does not cost the others."""
    rows: list[dict[str, Any]] = []
    outcomes: list[ScanOutcome] = []
    counts: list[int] = []
    for _kind, fetch in KINDS:
        try:
            found = fetch(ce)
        except ClientError as exc:
            status, detail = classify_error(exc)
            if status not in DEGRADED_STATUSES:
                raise
            outcomes.append(ScanOutcome(target, status, detail))
            counts.append(0)
            continue
        rows += found
        outcomes.append(ScanOutcome(target, "ok", ""))
        counts.append(len(found))
    return rows, outcomes, counts


# A refused kind's last good rows, carried into today's snapshot (read before today's rows are replaced, so
# a second run of the day carries what the first one stored): stale since the first refusal, with its reason.
KEPT_ROWS_SQL = """
SELECT * REPLACE (CAST($today AS DATE) AS snapshot_date,
                  coalesce(stale_since, CAST($now AS TIMESTAMPTZ)) AS stale_since, $reason AS stale_reason)
FROM raw.ce_recommendations
WHERE source = $kind AND snapshot_date = (
    SELECT max(snapshot_date) FROM raw.ce_recommendations WHERE source = $kind AND snapshot_date <= $today)
"""


def kept_rows(conn: Any, refused: dict[str, str], now: dt.datetime) -> pa.Table:
    """The last good recommendations of each refused kind, marked stale: a refusal (rightsizing opt-in
    withdrawn, a kind access-denied) must not make yesterday's savings vanish from the marts."""
    tables = [
        conn.sql(KEPT_ROWS_SQL, params={"today": now.date(), "now": now, "reason": why, "kind": kind})
        .to_arrow_table()
        .select(RECOMMENDATION_COLUMNS.names)
        .cast(RECOMMENDATION_COLUMNS)
        for kind, why in refused.items()
    ]
    return pa.concat_tables([RECOMMENDATION_COLUMNS.empty_table(), *tables])


@dg.asset(
    group_name=layers.RAW_SAVINGS,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="Cost Explorer's RI, Savings Plans and rightsizing recommendations: today's snapshot; "
    "a kind AWS refuses (rightsizing not opted in, ...) is recorded in raw.scan_status and keeps its last "
    "good rows, stale.",
    metadata=tables.definition_metadata("ce_recommendations"),
)
def ce_recommendations(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    now = utc_now()
    with aws.tracked() as calls:
        ce = aws.client("ce")
        target = ScanTarget(aws.caller_account_id(), aws.region)
        rows, outcomes, counts = read_kinds(ce, target)
    table = pa.Table.from_pylist(
        [{**row, "snapshot_date": now.date(), "fetched_at": now} for row in rows],
        schema=RECOMMENDATION_COLUMNS,
    )
    refused = {
        kind: f"{o.status}: {o.detail}"
        for (kind, _), o in zip(KINDS, outcomes, strict=True)
        if o.status != "ok"
    }
    with warehouse.connect() as conn:
        kept = kept_rows(conn, refused, now)
        table = pa.concat_tables([table, kept])
        replace_rows(conn, "raw.ce_recommendations", table, "snapshot_date = ?", (now.date(),))
        for (kind, _), outcome, count in zip(KINDS, outcomes, counts, strict=True):
            record_scan_status(conn, STATUS_SOURCE + kind, [outcome], [count])
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "ce_recommendations")
    statuses = {kind: outcome.status for (kind, _), outcome in zip(KINDS, outcomes, strict=True)}
    for kind, outcome in zip(statuses, outcomes, strict=True):
        if outcome.status != "ok":
            context.log.warning("%s recommendations unknown (%s): %s", kind, outcome.status, outcome.detail)
    savings = {  # a refused kind has no figure: unknown, not zero
        f"{kind}_monthly_savings_usd": round(
            sum(float(r["estimated_monthly_savings"]) for r in rows if r["source"] == kind), 2
        )
        for kind, status in statuses.items()
        if status == "ok"
    }
    return dg.MaterializeResult(
        metadata={
            **counted,
            "recommendations": table.num_rows,
            "recommendations_stale": kept.num_rows,
            **savings,
            **{f"{kind}_status": status for kind, status in statuses.items()},
            **call_metadata(calls),
        }
    )


UNANSWERED_SQL = """
SELECT substr(source, length(?) + 1), status, detail FROM raw.scan_status
WHERE source LIKE ? || '%' AND status <> 'ok' ORDER BY source
"""


@dg.asset_check(
    asset=ce_recommendations,
    name="every_recommendation_kind_answered",
    description="RI, Savings Plans and rightsizing each answered; a refused kind (rightsizing not opted "
    "in, no usage history, access denied) is unknown, listed here with its fix.",
)
def every_recommendation_kind_answered(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        failed = conn.execute(UNANSWERED_SQL, [STATUS_SOURCE, STATUS_SOURCE]).fetchall()
        answered = scalar(
            conn, "SELECT count(*) FROM raw.scan_status WHERE source LIKE ? || '%'", [STATUS_SOURCE]
        )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "kinds_read": int(answered or 0),
            "unknown_kinds": [kind for kind, _, _ in failed],
            "statuses": {kind: status for kind, status, _ in failed},
            "failures": dg.MetadataValue.md(
                "| kind | status | detail |\n|---|---|---|\n"
                + "\n".join(f"| {k} | {s} | {d[:300]} |" for k, s, d in failed)
                if failed
                else "none"
            ),
        },
    )
