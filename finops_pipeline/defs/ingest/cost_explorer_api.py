"""Cost Explorer reads: one paginated request stream per grain and window, never one per day.

Every page costs $0.01, so a whole date range goes into one ``GetCostAndUsage`` request and
boto3's missing paginator is replaced by a loop on ``NextPageToken`` that starts again from the first
page when Cost Explorer says the data changed under it (``each_page``). A grain's pages are written to
a stage as they arrive (``stream_grain``): at 1,000 accounts one answer is millions of groups.
"""

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError

from finops_pipeline.lib.remediation import BILL_EXPIRED_CODES, PAGING_RESTART_CODES
from finops_pipeline.tables import raw
from finops_pipeline.tables.arrow import arrow_type
from finops_pipeline.warehouse import Stage

LOGGER = logging.getLogger("finops_pipeline.ingest")
RESTART_CODES = PAGING_RESTART_CODES | BILL_EXPIRED_CODES
MAX_PAGE_RESTARTS = 2  # then the error stands: 3 reads of a stream at most

COST_METRICS = ("UnblendedCost", "AmortizedCost", "NetUnblendedCost")
METRIC_COLUMNS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
}
# The usage-only grain lists the record types it keeps, not those it drops: usage on demand, under a
# Reserved Instance (DiscountedUsage) and under a Savings Plan (covered usage and its negation, which
# cancel in unblended cost and leave the plan's effective rate in amortized cost). Everything else is
# out, including types AWS adds later: Credit, Refund, Tax, Support and Recurring (support plans), Fee,
# Discount, BundledDiscount, EdpDiscount, PrivateRateDiscount, RIFee, SavingsPlanRecurringFee,
# SavingsPlanUpfrontFee, Upfront. Those post once a month, mostly while a month closes; in a grain
# watched for usage anomalies they would be a false spike on the 1st and on every month-close day.
USAGE_RECORD_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
USAGE_ONLY_FILTER = {"Dimensions": {"Key": "RECORD_TYPE", "Values": list(USAGE_RECORD_TYPES)}}
MONEY = arrow_type(raw.MONEY)
QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class CostGrain:
    """One drill-down of daily cost: which GroupBy, into which table and columns."""

    asset_name: str
    table: str
    dimensions: tuple[str, ...]  # CE dimension names, in GroupBy order
    columns: tuple[str, ...]  # table columns the group keys land in
    description: str
    per_tag_key: bool = False  # one request stream per required tag key (LINKED_ACCOUNT × TAG)
    # Usage record types only (USAGE_RECORD_TYPES): no month-close fees, discounts, credits or tax.
    usage_only: bool = False
    # Read over the last FINOPS_DRILLDOWN_DAYS days only: the largest grain, which only the detector's
    # drill-down reads (README "Paying for detail").
    drilldown: bool = False


COST_GRAINS = (
    CostGrain(
        "ce_cost_daily",
        "raw.ce_cost_daily",
        ("LINKED_ACCOUNT", "SERVICE"),
        ("account_id", "service"),
        "Daily unblended, amortized and net unblended cost per account and service from Cost Explorer.",
    ),
    CostGrain(
        "ce_cost_by_region",
        "raw.ce_cost_by_region",
        ("SERVICE", "REGION"),
        ("service", "region"),
        "Daily cost per service and region: the drill-down that locates a cost change.",
    ),
    CostGrain(
        "ce_cost_by_usage_type",
        "raw.ce_cost_by_usage_type",
        ("SERVICE", "USAGE_TYPE"),
        ("service", "usage_type"),
        "Daily cost per service and usage type: the drill-down that explains a cost change.",
    ),
    CostGrain(
        "ce_cost_by_account_usage_type",
        "raw.ce_cost_by_account_usage_type",
        ("LINKED_ACCOUNT", "USAGE_TYPE"),
        ("account_id", "usage_type"),
        "Daily usage cost per account and usage type (record types Usage, DiscountedUsage, "
        "SavingsPlanCoveredUsage and SavingsPlanNegation only: no fees, support, discounts, credits, "
        "refunds or tax): finds one usage type's change inside an account's service.",
        usage_only=True,
        drilldown=True,
    ),
    CostGrain(
        "ce_cost_by_tag",
        "raw.ce_cost_by_tag",
        ("LINKED_ACCOUNT",),
        ("account_id", "tag_value"),
        "Daily cost per account and value of each required tag key ('' = untagged spend).",
        per_tag_key=True,
    ),
)


def group_by(grain: CostGrain, tag_key: str | None) -> list[dict[str, str]]:
    groups = [{"Type": "DIMENSION", "Key": key} for key in grain.dimensions]
    if tag_key is not None:
        groups.append({"Type": "TAG", "Key": tag_key})
    return groups


def each_page(
    call: Callable[..., dict[str, Any]],
    max_pages: int | None = None,
    on_restart: Callable[[], None] = lambda: None,
    **request: Any,
) -> Iterator[dict[str, Any]]:
    """Every page of one Cost Explorer answer as it arrives, read from the first page again when AWS asks.

    ``RequestChangedException`` (the data changed between pages: it refreshes up to three times a day),
    ``InvalidNextTokenException`` (the token no longer valid) and ``BillExpirationException`` (the report
    behind the pages expired) all say "try again without a pagination token" (botocore's Cost Explorer
    model). Pages already yielded belong to the old answer: ``on_restart`` is called before the first
    page of the new one, so the consumer drops them rather than mixing both. The restarts are bounded
    (each page is a billed request), then the last error is raised with its fix. No boto3 paginator
    exists for these operations. With ``max_pages`` the read stops after that many pages (the last one
    then still has a ``NextPageToken``): a request budget, see ``restatement``.
    """
    restarts = 0
    while True:
        try:
            yield from _pages_once(call, request, max_pages)
            return
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in RESTART_CODES or restarts >= MAX_PAGE_RESTARTS:
                raise
            restarts += 1
            LOGGER.warning(
                "%s: %s; reading again from the first page (restart %d of %d)",
                getattr(exc, "operation_name", "Cost Explorer"),
                code,
                restarts,
                MAX_PAGE_RESTARTS,
            )
            on_restart()


def all_pages(
    call: Callable[..., dict[str, Any]], max_pages: int | None = None, **request: Any
) -> list[dict[str, Any]]:
    """Every page of one answer held in a list (``each_page``): for the short answers of small grains."""
    answers: list[dict[str, Any]] = []
    answers.extend(each_page(call, max_pages, answers.clear, **request))
    return answers


def _pages_once(
    call: Callable[..., dict[str, Any]], request: dict[str, Any], max_pages: int | None = None
) -> Iterator[dict[str, Any]]:
    token: str | None = None
    read = 0
    while True:
        answer = call(**request, **({"NextPageToken": token} if token else {}))
        yield answer
        read += 1
        token = answer.get("NextPageToken")
        if not token or (max_pages is not None and read >= max_pages):
            return


def pages(client: Any, max_pages: int | None = None, **request: Any) -> list[dict[str, Any]]:
    """Every page of a ``GetCostAndUsage`` answer (see ``all_pages``), or the first ``max_pages``."""
    return all_pages(client.get_cost_and_usage, max_pages, **request)


def grain_request(grain: CostGrain, start: dt.date, end: dt.date, tag_key: str | None) -> dict[str, Any]:
    """The ``GetCostAndUsage`` request of one grain's window at daily granularity."""
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": list(COST_METRICS),
        "GroupBy": group_by(grain, tag_key),
        **({"Filter": USAGE_ONLY_FILTER} if grain.usage_only else {}),
    }


def page_rows(answer: dict[str, Any], grain: CostGrain, tag_key: str | None) -> pa.Table:
    """One page's groups as rows ready for the raw table (amounts to the micro-dollar, as stored)."""
    columns: dict[str, list[Any]] = {
        name: []
        for name in ("usage_date", *grain.columns, *METRIC_COLUMNS.values(), "is_estimated", "currency")
    }
    prefix = f"{tag_key}$" if tag_key is not None else ""
    for period in answer.get("ResultsByTime", []):
        day = dt.date.fromisoformat(period["TimePeriod"]["Start"])
        estimated = bool(period.get("Estimated", False))
        for group in period.get("Groups", []):
            keys = list(group["Keys"])
            if tag_key is not None:
                keys[-1] = keys[-1].removeprefix(prefix)
            columns["usage_date"].append(day)
            for column, key in zip(grain.columns, keys, strict=True):
                columns[column].append(key)
            metrics = group["Metrics"]
            for metric, column in METRIC_COLUMNS.items():
                columns[column].append(Decimal(metrics[metric]["Amount"]).quantize(QUANTUM))
            columns["is_estimated"].append(estimated)
            columns["currency"].append(metrics["UnblendedCost"].get("Unit", "USD"))
    table = pa.table(
        {
            "usage_date": pa.array(columns["usage_date"], pa.date32()),
            **{column: pa.array(columns[column], pa.string()) for column in grain.columns},
            **{column: pa.array(columns[column], MONEY) for column in METRIC_COLUMNS.values()},
            "is_estimated": pa.array(columns["is_estimated"], pa.bool_()),
            "currency": pa.array(columns["currency"], pa.string()),
        }
    )
    if tag_key is not None:
        table = table.append_column("tag_key", pa.array([tag_key] * table.num_rows, pa.string()))
    return table


def pages_ahead(first: pa.Table, days: int, max_pages: int | None = None) -> int:
    """The pages still to come after ``first`` in a stream of ``days`` days, extrapolated from it.

    Cost Explorer sorts an answer by day, so the first page's complete days (all but its last) give the
    groups per day; a first page inside one day says at least one page per day.
    """
    if not first.num_rows:
        return 0
    dates = first["usage_date"]
    complete = first.filter(pc.less(dates, pc.max(dates)))
    complete_days = pc.count_distinct(complete["usage_date"]).as_py() if complete.num_rows else 0
    per_day = complete.num_rows / complete_days if complete_days else first.num_rows
    total = math.ceil(days * per_day / first.num_rows)
    return max(min(total, max_pages or total) - 1, 0)


def stream_grain(
    client: Any,
    grain: CostGrain,
    window: tuple[dt.date, dt.date],
    tag_key: str | None,
    stage: Stage,
    max_pages: int | None = None,
    reserve: Callable[[int, str], None] | None = None,
) -> dt.date:
    """Write the groups of ``[start, end)`` to ``stage`` page by page; the day the complete rows end.

    Nothing but the page in hand is held, so memory stays bounded at any organisation size. After the
    first page, the pages still to come are ``reserve``d against the run's request budget (refused
    before they are spent). With ``max_pages`` the read may stop early: Cost Explorer sorts an answer by
    period, so every period before the last one seen is complete and the last one may not be. Its rows
    are dropped from the stage and that day is returned (``end`` when the whole answer was read).
    """
    start, end = window
    stream = stage.new_stream()
    last: dict[str, Any] = {}
    request = grain_request(grain, start, end, tag_key)
    for read, answer in enumerate(
        each_page(client.get_cost_and_usage, max_pages, lambda: stage.drop(stream), **request)
    ):
        rows = page_rows(answer, grain, tag_key)
        if read == 0 and reserve is not None and answer.get("NextPageToken"):
            what = f"{grain.asset_name} over {start}..{end - dt.timedelta(days=1)}"
            reserve(pages_ahead(rows, (end - start).days, max_pages), what)
        stage.append(stream, rows)
        last = answer
    if last.get("NextPageToken") and last.get("ResultsByTime"):
        cut = dt.date.fromisoformat(last["ResultsByTime"][-1]["TimePeriod"]["Start"])
        stage.drop(stream, from_day=cut)
        return cut
    return end


def month_total(client: Any, start: dt.date, end: dt.date, metric: str = "UnblendedCost") -> Decimal:
    """Cost Explorer's own total for ``[start, end)``: what the reconciliation check compares to."""
    total = Decimal(0)
    for answer in pages(
        client,
        TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
        Granularity="MONTHLY",
        Metrics=[metric],
    ):
        for period in answer.get("ResultsByTime", []):
            total += Decimal(period["Total"][metric]["Amount"])
    return total
