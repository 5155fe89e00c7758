"""The throttling fix names what helps for the service that throttled (issue #14)."""

from types import SimpleNamespace

import pytest

from finops_pipeline.remediation import add_fix_hint, fix_for


@pytest.mark.parametrize(
    ("action", "says", "never"),
    [
        ("ce:GetCostAndUsage", ("does not help", "fewer REQUIRED_TAG_KEYS", "re-run later"), "lower FINOPS"),
        ("organizations:ListAccounts", ("per organisation", "re-run later"), "lower FINOPS"),
        ("tag:GetResources", ("lower FINOPS_MAX_CONCURRENCY", "FINOPS_SCAN_REGIONS"), "Cost Explorer"),
        ("ec2:DescribeVolumes", ("lower FINOPS_MAX_CONCURRENCY", "per account and region"), "Cost Explorer"),
        ("budgets:ViewBudget", ("AWS Budgets", "re-run later"), "lower FINOPS"),
        ("ses:SendRawEmail", ("sending rate", "SES_MAX_SEND_ATTEMPTS"), "lower FINOPS"),
        ("sts:AssumeRole", ("re-run later",), "FINOPS_MAX_CONCURRENCY"),
    ],
)
def test_each_service_gets_its_own_throttling_fix(action: str, says: tuple[str, ...], never: str) -> None:
    fix = fix_for("throttled", action, "us-east-1") or ""
    assert fix.startswith("AWS kept throttling after retries: ")
    for fragment in says:
        assert fragment in fix
    assert never not in fix


def test_a_throttled_cost_explorer_call_does_not_blame_concurrency() -> None:
    parsed = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
    model = SimpleNamespace(name="GetCostAndUsage", service_model=SimpleNamespace(signing_name="ce"))
    add_fix_hint(http_response=SimpleNamespace(status_code=400), parsed=parsed, model=model)
    message = parsed["Error"]["Message"]
    assert message.startswith("Rate exceeded Fix: AWS kept throttling after retries: Cost Explorer limits")
    assert "FINOPS_MAX_CONCURRENCY does not help" in message
