"""The throttling fix names what helps for the service that throttled (issue #14)."""

from types import SimpleNamespace

import pytest

from finops_pipeline.lib.remediation import add_fix_hint, fix_for


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


@pytest.mark.parametrize(
    ("code", "message", "kind", "says"),
    [
        (
            "AccessDeniedException",
            "User not enabled for cost explorer access",
            "ce_not_enabled",
            "Launch Cost Explorer",
        ),
        (
            "AccessDeniedException",
            "Rightsizing EC2 recommendation is an opt-in only feature. You can enable this feature ...",
            "not_opted_in",
            "Cost Explorer > Preferences",
        ),
        ("DataUnavailableException", "Insufficient amount of historical data.", "data_unavailable", "little"),
        ("RequestChangedException", "Your request parameters changed", "paging_restart", "first page"),
        ("InvalidNextTokenException", "The pagination token is invalid.", "paging_restart", "first page"),
        ("BillExpirationException", "The requested report expired.", "bill_expired", "expired"),
    ],
)
def test_cost_explorer_refusals_get_their_own_fix_never_an_iam_grant(
    code: str, message: str, kind: str, says: str
) -> None:
    from finops_pipeline.lib.remediation import error_kind

    assert error_kind(code, 400, message) == kind
    parsed = {"Error": {"Code": code, "Message": message}}
    model = SimpleNamespace(name="GetCostAndUsage", service_model=SimpleNamespace(signing_name="ce"))
    add_fix_hint(http_response=SimpleNamespace(status_code=400), parsed=parsed, model=model)
    fix = parsed["Error"]["Message"].split(" Fix: ", 1)[1]
    assert says in fix
    assert "nothing to grant" in fix or "no IAM grant" in fix
    assert "grant ce:" not in fix


def test_a_real_access_denied_still_gets_the_grant_fix() -> None:
    from finops_pipeline.lib.remediation import error_kind

    message = "User: arn:aws:iam::1:user/x is not authorized to perform: ce:GetCostAndUsage"
    assert error_kind("AccessDeniedException", 400, message) == "access_denied"
