"""IAM action names and "what to do next" for every AWS error the pipeline can meet.

``iam_action(service, operation)`` maps a boto3 call to the IAM action AWS evaluates (the Tagging API is
``tag:``, ``budgets:DescribeBudgets`` is authorised as ``budgets:ViewBudget``, ``sts:GetCallerIdentity``
needs no permission). ``add_fix_hint`` is a botocore ``after-call`` handler that AwsResource registers on
every client: when a call finally fails (after retries), it appends the fix to the AWS error message, so
a failed step, a ``raw.scan_status`` detail and ``finops doctor`` all say what to do next.
"""

from __future__ import annotations

import re
from typing import Any

# boto3 service name or SigV4 signing name -> IAM prefix, where they differ.
IAM_PREFIX = {
    "resourcegroupstaggingapi": "tag",
    "tagging": "tag",
    "sesv2": "ses",
    "email": "ses",
    "monitoring": "cloudwatch",  # CloudWatch signs as "monitoring"; IAM says cloudwatch:
}
# (IAM prefix, operation) -> IAM action, where the operation name is not the action name.
IAM_ACTION_OVERRIDES = {
    ("budgets", "DescribeBudgets"): "budgets:ViewBudget",
    ("budgets", "DescribeBudget"): "budgets:ViewBudget",
    ("budgets", "DescribeBudgetPerformanceHistory"): "budgets:ViewBudget",
    ("budgets", "DescribeNotificationsForBudget"): "budgets:ViewBudget",
    ("budgets", "DescribeSubscribersForNotification"): "budgets:ViewBudget",
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html: ListBuckets
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    # ListObjectsV2 is authorised as s3:ListBucket (S3 API reference, ListObjectsV2 "Permissions")
    ("s3", "ListObjectsV2"): "s3:ListBucket",
}
# Calls AWS answers for every authenticated principal, whatever its policies say.
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})
# moto's IAM enforcement spells two actions its own way (GUIDE §5): AWS name -> moto name.
MOTO_SPELLING = {
    "tag:GetResources": "tagging:GetResources",
    "budgets:ViewBudget": "budgets:DescribeBudgets",
    "cloudwatch:GetMetricData": "monitoring:GetMetricData",  # moto checks the signing name, "monitoring"
}

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "AccessDeniedForDependencyException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidToken",
    }
)
# Answers of a region that is not enabled for the account (and of revoked credentials).
REGION_CODES = frozenset({"UnrecognizedClientException", "AuthFailure", "OptInRequired"})
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
SERVER_CODES = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "InternalServerError"})
# Cost Explorer refusals that no IAM grant fixes (see sandbox/finops_sandbox/cost_explorer/refusals.py for the
# references). Two come as AccessDeniedException and are told apart from a missing permission by message.
CE_NOT_ENABLED_RE = re.compile(r"not enabled for cost explorer", re.IGNORECASE)
NOT_OPTED_IN_RE = re.compile(r"opt-in only feature", re.IGNORECASE)
DATA_UNAVAILABLE_CODES = frozenset({"DataUnavailableException"})
# The data or the token changed under a paginated read: start again from the first page.
PAGING_RESTART_CODES = frozenset({"RequestChangedException", "InvalidNextTokenException"})
BILL_EXPIRED_CODES = frozenset({"BillExpirationException"})
REFUSAL_FIXES = {
    "ce_not_enabled": (
        "Cost Explorer is not enabled for this account, and no IAM grant changes that: sign in to the "
        "management (payer) account and open Cost Explorer once in the Billing and Cost Management console "
        "(Cost Explorer > Launch Cost Explorer), which enables it for the organisation; its data and API "
        "answers can take up to 24 hours to appear, then re-run."
    ),
    "not_opted_in": (
        "rightsizing recommendations are opt-in, and no IAM grant changes that: in the management (payer) "
        "account open Cost Explorer > Preferences and enable 'Receive Amazon EC2 resource recommendations'; "
        "recommendations can take up to 24 hours to appear. RI and Savings Plans recommendations are "
        "still read; rightsizing stays 'not_opted_in' in raw.scan_status until then."
    ),
    "data_unavailable": (
        "Cost Explorer has too little cost history to answer (a new account, or Cost Explorer enabled "
        "recently); nothing to grant or configure: it answers once enough history has accumulated. Until "
        "then the forecast is recorded as 'data_unavailable' and budget_status uses the run rate."
    ),
    "paging_restart": (
        "Cost Explorer's data (or the page token) changed between pages, as happens while AWS refreshes "
        "the data up to three times a day; nothing to grant: the pipeline restarted the read from the first "
        "page, and kept failing, so re-run later (runs are idempotent and earlier rows are kept)."
    ),
    "bill_expired": (
        "Cost Explorer's report for part of the requested dates expired while it was read (the bill behind "
        "it was replaced, as happens while AWS finalises or restates a month); nothing to grant: the "
        "pipeline re-read it from the first page and it kept failing, so re-run later, or backfill a "
        "shorter range (earlier rows are kept)."
    ),
}
# What helps when a service keeps throttling, by IAM prefix: FINOPS_MAX_CONCURRENCY bounds only the
# account x region scans (Tagging API, EC2); Cost Explorer requests are sequential per grain and limited
# per account, Organizations, Budgets and SES have account-wide rates of their own.
THROTTLE_FIXES = {
    "ce": (
        "Cost Explorer limits requests per account (shared with every other tool and person using it), and "
        "this pipeline sends them one at a time, so FINOPS_MAX_CONCURRENCY does not help: re-run later, "
        "or ask less per run (fewer REQUIRED_TAG_KEYS, each one more request stream; a shorter backfill "
        "range) and check other Cost Explorer users of the account."
    ),
    "organizations": (
        "Organizations limits ListAccounts and related calls per organisation: re-run later, and avoid "
        "other tools listing accounts at the same moment; FINOPS_MAX_CONCURRENCY does not change these calls."
    ),
    "tag": (
        "the Tagging API is throttled per account and region: lower FINOPS_MAX_CONCURRENCY (parallel "
        "account x region scans) or scan fewer regions (FINOPS_SCAN_REGIONS), then re-run."
    ),
    "ec2": (
        "EC2 throttles API calls per account and region: lower FINOPS_MAX_CONCURRENCY (parallel account x "
        "region scans) or scan fewer regions (FINOPS_SCAN_REGIONS), then re-run."
    ),
    "budgets": (
        "AWS Budgets limits requests per account: re-run later; FINOPS_MAX_CONCURRENCY does not change "
        "these calls."
    ),
    "ses": (
        "SES limits the sending rate per account and region (see the SES console's sending limits): the "
        "e-mail sensors retry on their next ticks (SES_MAX_SEND_ATTEMPTS); ask AWS for a higher sending "
        "rate if this keeps happening."
    ),
}
NOT_AUTHORIZED_RE = re.compile(r"not authorized to perform:?\s*([a-z0-9-]+:[A-Za-z0-9*]+)")
HINT_MARK = " Fix: "


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action AWS checks for ``service``'s ``operation`` (None: no permission needed)."""
    prefix = IAM_PREFIX.get(service, service)
    action = IAM_ACTION_OVERRIDES.get((prefix, operation), f"{prefix}:{operation}")
    return None if action in NO_PERMISSION_NEEDED else action


def moto_action(action: str) -> str:
    return MOTO_SPELLING.get(action, action)


def denied_action(message: str) -> str | None:
    """The action an AccessDenied message names ("... is not authorized to perform: ce:GetAnomalies")."""
    match = NOT_AUTHORIZED_RE.search(message or "")
    if match is None:
        return None
    action = match.group(1)
    return {moto: aws for aws, moto in MOTO_SPELLING.items()}.get(action, action)


def error_kind(code: str, status: int | None, message: str = "") -> str:
    """access_denied | credentials | region | throttled | server | other, or one of the Cost Explorer
    refusals no IAM grant fixes: ce_not_enabled | not_opted_in | data_unavailable | paging_restart |
    bill_expired (checked first: two of them are AccessDeniedException)."""
    refusal = refusal_kind(code, message)
    if refusal is not None:
        return refusal
    if code in ACCESS_DENIED_CODES or (status == 403 and "not authorized" in message):
        return "access_denied"
    if code in CREDENTIAL_CODES:
        return "credentials"
    if code in REGION_CODES:
        return "region"
    if code in THROTTLE_CODES or status == 429:
        return "throttled"
    if code in SERVER_CODES or (status is not None and status >= 500):
        return "server"
    return "other"


def refusal_kind(code: str, message: str = "") -> str | None:
    """The Cost Explorer refusal an error is, or None for any other error."""
    if code in ACCESS_DENIED_CODES and CE_NOT_ENABLED_RE.search(message or ""):
        return "ce_not_enabled"
    if code in ACCESS_DENIED_CODES and NOT_OPTED_IN_RE.search(message or ""):
        return "not_opted_in"
    if code in DATA_UNAVAILABLE_CODES:
        return "data_unavailable"
    if code in PAGING_RESTART_CODES:
        return "paging_restart"
    if code in BILL_EXPIRED_CODES:
        return "bill_expired"
    return None


def fix_for(kind: str, action: str | None, region: str | None) -> str | None:
    """What to do next, in one sentence, for an error of ``kind`` on ``action``."""
    if kind in REFUSAL_FIXES:
        return REFUSAL_FIXES[kind]
    if kind == "access_denied":
        return (
            f"grant {action or 'this action'} to the principal named above (the policies in iam/ list "
            "every action the pipeline needs), then run `finops doctor` to check every permission."
        )
    if kind == "credentials":
        return (
            "the AWS credentials were rejected as expired or invalid: renew them (aws sso login, new access "
            "keys) or use a role (AWS_ROLE_ARN, instance/task role, OIDC) whose credentials refresh, then "
            "run `finops doctor`."
        )
    if kind == "region":
        return (
            f"region {region or '?'} is not enabled for this account (or the credentials were revoked): "
            "enable it (Account > AWS Regions) or remove it from FINOPS_SCAN_REGIONS; if every region "
            "fails, renew the credentials and run `finops doctor`."
        )
    if kind == "throttled":
        prefix = (action or "").split(":", 1)[0]
        return "AWS kept throttling after retries: " + THROTTLE_FIXES.get(prefix, "re-run later.")
    if kind == "server":
        return (
            "AWS answered with server errors on every retry: re-run later (runs are idempotent and "
            "earlier data is kept); https://health.aws.amazon.com shows service events."
        )
    return None


def add_fix_hint(http_response: Any = None, parsed: Any = None, model: Any = None, **kwargs: Any) -> None:
    """botocore ``after-call`` handler: append the fix to a final error's message (once)."""
    status = getattr(http_response, "status_code", None)
    if status is None or status < 300 or not isinstance(parsed, dict):
        return
    error = parsed.setdefault("Error", {})
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    if HINT_MARK in message:
        return
    context = kwargs.get("context") or {}
    region = (context.get("client_region") if isinstance(context, dict) else None) or None
    service = getattr(getattr(model, "service_model", None), "signing_name", None) or ""
    action = denied_action(message) or (iam_action(service, model.name) if model is not None else None)
    fix = fix_for(error_kind(code, status, message), action, region)
    if fix:
        if not message and code:
            message = code
        error["Message"] = f"{message}{HINT_MARK}{fix}"
