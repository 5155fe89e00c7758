"""Cost Explorer refusals that are not IAM: each answers with AWS's code, HTTP status and message, and
only the operations (and, for the paging ones, only the first follow-up page) it applies to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from finops_pipeline_tests.conftest import SANDBOX_AS_OF, set_aws_env
from finops_sandbox.cost_explorer.refusals import RIGHTSIZING_OPT_IN_MESSAGE
from finops_sandbox.faults import Faults

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
YEAR_AGO = (SANDBOX_AS_OF - dt.timedelta(days=330)).isoformat()
# Daily cost per account and usage type over most of a year: more groups than one page holds.
PAGED_REQUEST = {
    "TimePeriod": {"Start": YEAR_AGO, "End": SANDBOX_AS_OF.isoformat()},
    "Granularity": "DAILY",
    "Metrics": ["UnblendedCost"],
    "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
}
IN_3_DAYS = (SANDBOX_AS_OF + dt.timedelta(days=3)).isoformat()
FORECAST = {
    "TimePeriod": {"Start": SANDBOX_AS_OF.isoformat(), "End": IN_3_DAYS},
    "Metric": "UNBLENDED_COST",
    "Granularity": "DAILY",
}
CALLS: dict[str, Callable[[Any], Any]] = {
    "GetCostAndUsage": lambda ce: ce.get_cost_and_usage(
        TimePeriod={"Start": YEAR_AGO, "End": SANDBOX_AS_OF.isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    ),
    "GetCostForecast": lambda ce: ce.get_cost_forecast(**FORECAST),
    "GetRightsizingRecommendation": lambda ce: ce.get_rightsizing_recommendation(Service="AmazonEC2"),
    "GetSavingsPlansPurchaseRecommendation": lambda ce: ce.get_savings_plans_purchase_recommendation(
        SavingsPlansType="COMPUTE_SP",
        TermInYears="ONE_YEAR",
        PaymentOption="NO_UPFRONT",
        LookbackPeriodInDays="THIRTY_DAYS",
    ),
}


@pytest.fixture
def ce_with(
    sandbox_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], tuple[Any, Any]]:
    """A Cost Explorer client of the session world served with ``--ce-refusals <names>``."""

    def start(names: str) -> tuple[Any, Any]:
        view = sandbox_factory(faults=Faults(ce_refusals=names))
        set_aws_env(monkeypatch, view.env(), tmp_path)
        return view, boto3.client("ce", config=NO_RETRY)

    return start


def _refusal(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    error, meta = caught.value.response["Error"], caught.value.response["ResponseMetadata"]
    return error["Code"], meta["HTTPStatusCode"], error["Message"]


NOT_ENABLED = ("AccessDeniedException", 400, "User not enabled for cost explorer access")


@pytest.mark.parametrize(
    ("names", "refused", "answer"),
    [
        ("not-enabled", set(CALLS), NOT_ENABLED),
        (
            "rightsizing-opt-in",
            {"GetRightsizingRecommendation"},
            ("AccessDeniedException", 400, RIGHTSIZING_OPT_IN_MESSAGE),
        ),
        (
            "forecast-data-unavailable",
            {"GetCostForecast"},
            ("DataUnavailableException", 400, "Insufficient amount of historical data."),
        ),
        (
            "bill-expired",
            {"GetCostAndUsage"},
            (
                "BillExpirationException",
                400,
                "The requested report expired. Update the date interval and try again.",
            ),
        ),
    ],
)
def test_each_refusal_answers_as_aws_and_only_where_it_applies(
    ce_with: Callable[[str], tuple[Any, Any]], names: str, refused: set[str], answer: tuple[str, int, str]
) -> None:
    view, ce = ce_with(names)
    for operation, call in CALLS.items():
        if operation in refused:
            assert _refusal(lambda call=call: call(ce)) == answer, operation
        else:
            call(ce)
    assert view.stats["refused"] == len(refused)


@pytest.mark.parametrize(
    ("names", "code", "message"),
    [
        (
            "request-changed",
            "RequestChangedException",
            "Your request parameters changed between pages. Try again with the old parameters or without a "
            "pagination token.",
        ),
        (
            "invalid-next-token",
            "InvalidNextTokenException",
            "The pagination token is invalid. Try again without a pagination token.",
        ),
    ],
)
def test_paging_refusals_hit_the_first_follow_up_page_of_each_stream_once(
    ce_with: Callable[[str], tuple[Any, Any]], names: str, code: str, message: str
) -> None:
    view, ce = ce_with(names)
    first = ce.get_cost_and_usage(**PAGED_REQUEST)
    token = first["NextPageToken"]  # the request really is paged
    follow_up = _refusal(lambda: ce.get_cost_and_usage(**PAGED_REQUEST, NextPageToken=token))
    assert follow_up == (code, 400, message)
    # From the first page again (what the error says to do), the stream answers to its end.
    again = ce.get_cost_and_usage(**PAGED_REQUEST)
    assert again["ResultsByTime"] == first["ResultsByTime"]
    pages = 1
    while token := again.get("NextPageToken"):
        again = ce.get_cost_and_usage(**PAGED_REQUEST, NextPageToken=token)
        pages += 1
    assert pages >= 2
    assert view.stats["refused"] == 1
