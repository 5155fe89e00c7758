"""Cost pages decoded as plain JSON equal botocore's own parse, page by page, on the sandbox's answers."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.ce_answers import CostPageParserFactory

GROUPED = {
    "TimePeriod": {"Start": "2026-10-25", "End": "2026-11-03"},  # across a month close, closed and estimated
    "Granularity": "DAILY",
    "Metrics": ["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "UsageQuantity"],
    "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
}


def _pages(client: Any, **request: Any) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        answer = client.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        answer.pop("ResponseMetadata")  # request ids and headers differ per request
        pages.append(answer)
        token = answer.get("NextPageToken")
        if not token:
            return pages


def test_cost_pages_equal_botocores_parse(aws_env: dict[str, str]) -> None:
    ours = AwsResource().client("ce")
    assert isinstance(ours._endpoint._response_parser_factory, CostPageParserFactory)
    plain = boto3.Session().client("ce", region_name="us-east-1")
    fast, reference = _pages(ours, **GROUPED), _pages(plain, **GROUPED)
    assert len(fast) >= 3  # a stream of several pages, each with its token
    assert fast == reference
    groups = [g for page in fast for day in page["ResultsByTime"] for g in day["Groups"]]
    assert len(groups) > 2_000 and all(
        isinstance(g["Metrics"]["UnblendedCost"]["Amount"], str) for g in groups
    )
    assert {day["Estimated"] for page in fast for day in page["ResultsByTime"]} == {True, False}
    ungrouped = {k: v for k, v in GROUPED.items() if k != "GroupBy"}
    assert _pages(ours, **ungrouped) == _pages(plain, **ungrouped)
    # A client on an assumed role's session parses its pages the same way, and equally
    central = AwsResource(role_arn="arn:aws:iam::123456789012:role/FinOpsCentralReadOnly").client("ce")
    assert isinstance(central._endpoint._response_parser_factory, CostPageParserFactory)
    assert _pages(central, **ungrouped) == _pages(plain, **ungrouped)


def test_other_answers_and_errors_are_botocores(aws_env: dict[str, str]) -> None:
    ce = AwsResource().client("ce")
    request = {"TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"}, "Dimension": "LINKED_ACCOUNT"}
    values = ce.get_dimension_values(**request)
    assert values.pop("ResponseMetadata")["HTTPStatusCode"] == 200
    reference = boto3.Session().client("ce", region_name="us-east-1").get_dimension_values(**request)
    reference.pop("ResponseMetadata")
    assert values == reference and len(values["DimensionValues"]) == 12  # the accounts that spent
    with pytest.raises(ClientError) as refused:
        ce.get_cost_and_usage(
            TimePeriod={"Start": "2026-11-01", "End": "2026-10-01"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "before end date" in refused.value.response["Error"]["Message"]
