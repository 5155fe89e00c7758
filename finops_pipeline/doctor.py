"""``finops doctor``: probe every AWS permission the configured features need and say how to fix gaps.

Each probe is the smallest real call of an action the pipeline itself makes (the probe table and the
policies in ``iam/`` are tested to hold the same actions), so a passing doctor means the pipeline's calls
are allowed. Cost Explorer bills $0.01 per request: a doctor run costs one request per ``ce:`` action
(7 requests, $0.07, reported as ``ce_requests``). Everything else it calls is free and read-only, except
``ses:SendRawEmail`` (only with ``SES_ENABLED=true``), which it sends to the SES mailbox simulator
(``success@simulator.amazonses.com``), which delivers nothing to anyone.

It also reads ``ListCostAllocationTags`` for the required tag keys (one more request): a required key that
is not an active cost allocation tag has all its spend in ``Key$`` in Cost Explorer, so the report lists
it under ``tag_activation`` with the fix (activate it, then backfill) and the status is ``degraded``.

Exit codes: 0 all granted (also with only non-critical gaps or inactive required tag keys, ``status:
degraded``, unless ``--strict``), 1 a critical permission is missing or the caller sees only part of the
organisation's bill (a member or delegated administrator, ``caller_scope``), 2 authentication or runtime
error.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.mime.text import MIMEText
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline import caller_scope, iam_policies, tag_activation
from finops_pipeline.clock import today_utc
from finops_pipeline.remediation import REFUSAL_FIXES, denied_action, error_kind, fix_for

SES_SIMULATOR = "success@simulator.amazonses.com"
TAG_ACTIVATION_ACTION = "ce:ListCostAllocationTags"
EXIT_OK, EXIT_CRITICAL, EXIT_ERROR = 0, 1, 2
RI_SERVICE = "Amazon Elastic Compute Cloud - Compute"


@dataclass
class Check:
    """One action probed as one principal in one account and region."""

    area: str
    action: str
    critical: bool
    status: str = "ok"  # ok | denied | region_not_enabled | credentials | unsupported | throttled | error
    # or a Cost Explorer refusal that no grant fixes: ce_not_enabled | not_opted_in | data_unavailable | ...
    detail: str = ""
    account_id: str | None = None
    region: str | None = None


@dataclass
class DoctorReport:
    status: str  # ok | degraded | critical | error
    region: str
    auth_strategy: str
    credentials: dict[str, Any]
    caller: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    error_remediation: str | None = None
    ce_requests: int = 0
    tag_activation: dict[str, Any] | None = None  # the required keys' cost allocation tag status
    scope: dict[str, Any] = field(default_factory=dict)  # caller_scope.doctor_entry: whose bill CE shows

    @property
    def critical_missing(self) -> list[str]:
        return sorted({c.action for c in self.checks if c.critical and c.status != "ok"})

    @property
    def missing(self) -> list[str]:
        return sorted({c.action for c in self.checks if c.status != "ok"})

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "degraded": EXIT_OK, "critical": EXIT_CRITICAL}.get(self.status, EXIT_ERROR)

    def permissions(self) -> dict[str, Any]:
        """Per area: status, the actions probed and every failure with account and region."""
        areas: dict[str, Any] = {}
        for check in self.checks:
            area = areas.setdefault(check.area, {"status": "ok", "actions": {}, "failures": []})
            action = area["actions"].setdefault(check.action, "ok")
            if check.status != "ok":
                area["actions"][check.action] = check.status if action == "ok" else action
                area["failures"].append(
                    {
                        "action": check.action,
                        "status": check.status,
                        "account_id": check.account_id,
                        "region": check.region,
                        "detail": check.detail[:300],
                    }
                )
                area["status"] = "missing"
        member = [c for c in self.checks if c.area == "member_role"]
        if member:
            accounts = {c.account_id for c in member}
            failed = {c.account_id for c in member if c.status != "ok"}
            areas["member_role"].update(
                accounts_probed=len(accounts),
                accounts_ok=len(accounts - failed),
                accounts_failed=sorted(failed),
            )
        return areas

    def remediation(self) -> list[dict[str, Any]]:
        fixes: dict[tuple[str, str, str], dict[str, Any]] = {}
        for check in self.checks:
            if check.status == "ok":
                continue
            key = (check.area, check.action, check.status)
            entry = fixes.get(key)
            if entry is None:
                entry = fixes[key] = {
                    "area": check.area,
                    "action": check.action,
                    "status": check.status,
                    "critical": check.critical,
                    "accounts": [],
                    "regions": [],
                    "fix": _fix(check, self.caller.get("arn", "the caller")),
                }
            if check.account_id and check.account_id not in entry["accounts"]:
                entry["accounts"].append(check.account_id)
            if check.region and check.region not in entry["regions"]:
                entry["regions"].append(check.region)
        return list(fixes.values())

    def to_json(self) -> dict[str, Any]:
        remediation = self.remediation()
        if self.tag_activation and self.tag_activation.get("fix"):
            remediation.append(
                {
                    "area": "cost_allocation_tags",
                    "status": "inactive",
                    "critical": False,
                    "tag_keys": self.tag_activation["inactive_required_keys"],
                    "fix": self.tag_activation["fix"],
                }
            )
        if self.scope.get("partial"):
            problem = {"area": "caller_scope", "status": "partial_bill", "critical": True}
            remediation.insert(0, {**problem, "problem": self.scope["description"], "fix": self.scope["fix"]})
        if self.error_remediation:
            remediation.insert(0, {"area": "credentials", "status": "error", "fix": self.error_remediation})
        elif self.credentials.get("remediation") and self.status != "ok":
            remediation.append(
                {"area": "credentials", "status": "info", "fix": self.credentials["remediation"]}
            )
        return {
            "status": self.status,
            "critical_missing": self.critical_missing,
            "missing": self.missing,
            "region": self.region,
            "auth_strategy": self.auth_strategy,
            "credentials": self.credentials,
            "caller": self.caller,
            "caller_scope": self.scope,
            "permissions": self.permissions(),
            "remediation": remediation,
            "error": self.error,
            "tag_activation": self.tag_activation,
            "ce_requests": self.ce_requests,
            "ce_cost_usd": round(self.ce_requests * 0.01, 2),
        }


def _fix(check: Check, caller_arn: str) -> str:
    if check.status == "member_access_disabled":
        return caller_scope.MEMBER_ACCESS_FIX + "."
    if check.status == "unsupported":
        return (
            "the Support API (Trusted Advisor) needs a Business, Enterprise On-Ramp or Enterprise support "
            "plan: upgrade the plan, or set SUPPORT_PROBE_ENABLED=false to skip this probe."
        )
    if check.status == "denied":
        where = iam_policies.where_granted(
            check.action,
            "member" if check.area == "member_role" and check.action != "sts:AssumeRole" else "central",
        )
        policy = f"iam/{where[0]} (statement {where[1]})" if where else "the policies in iam/"
        if check.area == "member_role":
            who = "the member role in account(s) listed here"
            if check.action == "sts:AssumeRole":
                return (
                    "deploy the member role (FINOPS_MEMBER_ROLE_NAME) in the account(s) listed here with "
                    f"iam/member-role-trust-policy.json trusting {caller_arn}, and allow sts:AssumeRole "
                    f"on it for {caller_arn} ({policy})."
                )
        else:
            who = caller_arn
        return f"allow {check.action} for {who}: it is in {policy}."
    if check.status in REFUSAL_FIXES:  # Cost Explorer not enabled, rightsizing not opted in, ...: not IAM
        return REFUSAL_FIXES[check.status]
    kind = {"region_not_enabled": "region", "credentials": "credentials", "throttled": "throttled"}.get(
        check.status, "server"
    )
    return fix_for(kind, check.action, check.region) or "see the detail and run `finops doctor` again."


# ------------------------------------------------------------------------------------------ credentials


def diagnose_credentials(
    role_arn: str | None = None, env: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> dict[str, Any]:
    """How the pipeline would authenticate, without calling AWS and without revealing any secret.

    ``auth_strategy``: ``assume_role`` (AWS_ROLE_ARN over the base chain), ``static_keys``
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), ``default_chain`` (profile, SSO, web identity, instance or
    task role) or ``none``.
    """
    import boto3

    env = os.environ if env is None else env
    has_static_keys = bool(env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"))
    source: str | None = None
    try:
        credentials = boto3.Session(region_name=region).get_credentials()
        base_chain_has_credentials = credentials is not None
        source = getattr(credentials, "method", None) if credentials is not None else None
        load_error = None
    except BotoCoreError as exc:
        base_chain_has_credentials, load_error = False, f"{type(exc).__name__}: {exc}"
    if role_arn:
        strategy = "assume_role"
    elif has_static_keys:
        strategy = "static_keys"
    elif base_chain_has_credentials:
        strategy = "default_chain"
    else:
        strategy = "none"
    remediation = None
    if load_error:
        remediation = (
            f"the AWS configuration could not be read ({load_error}): fix the profile in ~/.aws/config or "
            "AWS_PROFILE, then run `finops doctor` again."
        )
    elif not base_chain_has_credentials:
        remediation = (
            ("AWS_ROLE_ARN is set but there are no base credentials to assume it with. " if role_arn else "")
            + "No AWS credentials were found. Fix: configure a profile (AWS_PROFILE), SSO (aws sso login), "
            "static keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), OIDC web identity or an instance/task "
            "role; for the local sandbox, source .sandbox/sandbox.env."
        )
    elif strategy == "static_keys" and not env.get("AWS_SESSION_TOKEN"):
        remediation = (
            "long-lived static access keys work but never expire: prefer a role (AWS_ROLE_ARN, SSO, OIDC in "
            "CI, instance or task role) whose credentials refresh."
        )
    return {
        "auth_strategy": strategy,
        "role_arn": role_arn,
        "base_chain_has_credentials": base_chain_has_credentials,
        "has_static_keys": has_static_keys,
        "credential_source": source,
        "remediation": remediation,
    }


# ------------------------------------------------------------------------------------------------ probes


def _classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        status_code = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"{code}: {message}"
        if code == "SubscriptionRequiredException":
            return "unsupported", detail
        kind = error_kind(code, status_code, message)
        if kind in REFUSAL_FIXES:
            return kind, detail
        return {
            "access_denied": "denied",
            "credentials": "credentials",
            "region": "region_not_enabled",
            "throttled": "throttled",
        }.get(kind, "error"), detail
    return "error", f"{type(exc).__name__}: {exc}"


def _probe(
    checks: list[Check],
    area: str,
    action: str,
    critical: bool,
    call: Callable[[], Any],
    account_id: str | None = None,
    region: str | None = None,
) -> Any:
    check = Check(area, action, critical, account_id=account_id, region=region)
    checks.append(check)
    try:
        return call()
    except (ClientError, BotoCoreError) as exc:
        check.status, check.detail = _classify(exc)
        if check.status == "denied":
            check.action = denied_action(check.detail) or action
        return None


def ce_probes(today: dt.date) -> list[tuple[str, bool, Callable[[Any], Any]]]:
    """(action, critical, call on a ce client): the smallest request of each action the pipeline uses."""
    yesterday = today - dt.timedelta(days=1)
    return [
        (
            "ce:GetCostAndUsage",
            True,
            lambda ce: ce.get_cost_and_usage(
                TimePeriod={"Start": yesterday.isoformat(), "End": today.isoformat()},
                Granularity="DAILY",
                Metrics=["UnblendedCost"],
            ),
        ),
        (
            "ce:GetAnomalies",
            False,
            lambda ce: ce.get_anomalies(
                DateInterval={"StartDate": yesterday.isoformat(), "EndDate": today.isoformat()}, MaxResults=1
            ),
        ),
        (
            "ce:GetCostForecast",
            False,
            lambda ce: ce.get_cost_forecast(
                TimePeriod={"Start": today.isoformat(), "End": (today + dt.timedelta(days=1)).isoformat()},
                Metric="UNBLENDED_COST",
                Granularity="DAILY",
            ),
        ),
        (
            "ce:GetReservationPurchaseRecommendation",
            False,
            lambda ce: ce.get_reservation_purchase_recommendation(
                Service=RI_SERVICE,
                LookbackPeriodInDays="SEVEN_DAYS",
                TermInYears="ONE_YEAR",
                PaymentOption="NO_UPFRONT",
                PageSize=1,
            ),
        ),
        (
            "ce:GetSavingsPlansPurchaseRecommendation",
            False,
            lambda ce: ce.get_savings_plans_purchase_recommendation(
                SavingsPlansType="COMPUTE_SP",
                TermInYears="ONE_YEAR",
                PaymentOption="NO_UPFRONT",
                LookbackPeriodInDays="SEVEN_DAYS",
                PageSize=1,
            ),
        ),
        (
            "ce:GetRightsizingRecommendation",
            False,
            lambda ce: ce.get_rightsizing_recommendation(Service="AmazonEC2", PageSize=1),
        ),
    ]


# EC2 describe calls of the inventory, smallest pages.
EC2_PROBES: list[tuple[str, Callable[[Any], Any]]] = [
    ("ec2:DescribeInstances", lambda ec2: ec2.describe_instances(MaxResults=5)),
    ("ec2:DescribeVolumes", lambda ec2: ec2.describe_volumes(MaxResults=5)),
    ("ec2:DescribeSnapshots", lambda ec2: ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5)),
    ("ec2:DescribeAddresses", lambda ec2: ec2.describe_addresses()),
]
ORGANIZATIONS_PROBES: list[tuple[str, bool]] = [
    ("organizations:DescribeOrganization", True),
    ("organizations:ListAccounts", True),
    ("organizations:ListRoots", True),
    ("organizations:ListAccountsForParent", True),
    ("organizations:ListOrganizationalUnitsForParent", True),
    ("organizations:ListTagsForResource", False),
]


def probe_actions(settings: Any) -> set[str]:
    """Every action the doctor probes for these settings (tests compare it with ``iam/``)."""
    actions = {a for a, _, _ in ce_probes(dt.date(2026, 1, 2))} | {"tag:GetResources", "budgets:ViewBudget"}
    actions.add(TAG_ACTIVATION_ACTION)
    actions |= {a for a, _ in EC2_PROBES}
    if not settings.single_account_mode:
        actions |= {a for a, _ in ORGANIZATIONS_PROBES} | {"sts:AssumeRole"}
    if getattr(settings, "ses_enabled", False):
        actions.add("ses:SendRawEmail")
    if getattr(settings, "support_probe_enabled", False):
        actions.add("support:DescribeTrustedAdvisorChecks")
    return actions


def _probe_email(sender: str) -> bytes:
    message = MIMEText("finops doctor: checks that ses:SendRawEmail is allowed. Nothing to do.")
    message["Subject"] = "finops doctor permission probe"
    message["From"] = sender
    message["To"] = SES_SIMULATOR
    return message.as_bytes()


def _organization_checks(aws: Any, checks: list[Check], caller: str) -> list[str]:
    """Organizations probes; returns the active member accounts (for the member-role probes)."""
    org = aws.client("organizations")
    critical = dict(ORGANIZATIONS_PROBES)
    _probe(checks, "organizations", "organizations:DescribeOrganization", True, org.describe_organization)
    accounts: list[dict[str, Any]] | None = _probe(
        checks,
        "organizations",
        "organizations:ListAccounts",
        True,
        lambda: [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]],
    )
    roots = _probe(
        checks, "organizations", "organizations:ListRoots", True, lambda: org.list_roots()["Roots"]
    )
    parent = roots[0]["Id"] if roots else None
    if parent is not None:
        _probe(
            checks,
            "organizations",
            "organizations:ListAccountsForParent",
            True,
            lambda: org.list_accounts_for_parent(ParentId=parent, MaxResults=1),
        )
        _probe(
            checks,
            "organizations",
            "organizations:ListOrganizationalUnitsForParent",
            True,
            lambda: org.list_organizational_units_for_parent(ParentId=parent, MaxResults=1),
        )
    _probe(
        checks,
        "organizations",
        "organizations:ListTagsForResource",
        critical["organizations:ListTagsForResource"],
        lambda: org.list_tags_for_resource(ResourceId=caller),
    )
    return sorted(
        a["Id"]
        for a in accounts or []
        if (a.get("Status") or a.get("State")) == "ACTIVE" and a["Id"] != caller
    )


def _member_checks(aws: Any, account_id: str, region: str) -> list[Check]:
    checks: list[Check] = []
    try:
        tagging = aws.client("resourcegroupstaggingapi", region=region, account_id=account_id)
    except (ClientError, BotoCoreError) as exc:  # the role could not be assumed
        check = Check("member_role", "sts:AssumeRole", False, account_id=account_id, region=region)
        check.status, check.detail = _classify(exc)
        return [check]
    checks.append(Check("member_role", "sts:AssumeRole", False, account_id=account_id, region=region))
    _probe(
        checks,
        "member_role",
        "tag:GetResources",
        False,
        lambda: tagging.get_resources(ResourcesPerPage=1),
        account_id,
        region,
    )
    ec2 = aws.client("ec2", region=region, account_id=account_id)
    for action, call in EC2_PROBES:
        _probe(checks, "member_role", action, False, lambda c=call: c(ec2), account_id, region)
    return checks


def run_probes(aws: Any, settings: Any, *, max_member_accounts: int | None = None) -> DoctorReport:
    """Probe with ``aws`` (an AwsResource); errors of authentication end in ``status: error``."""
    from finops_pipeline.aws_session import AwsAccessError, ScanTarget

    credentials = diagnose_credentials(settings.role_arn, region=settings.aws_region)
    report = DoctorReport(
        status="ok",
        region=settings.aws_region,
        auth_strategy=credentials["auth_strategy"],
        credentials=credentials,
    )
    before = aws.counter.snapshot()
    try:
        aws.preflight()
        identity = aws.client("sts").get_caller_identity()
    except AwsAccessError as exc:
        return _failed(report, str(exc), credentials["remediation"] or str(exc))
    except (ClientError, BotoCoreError) as exc:
        status, detail = _classify(exc)
        fix = fix_for("credentials", None, None) if status in ("credentials", "denied") else None
        return _failed(
            report,
            f"the credentials could not be used: {detail}",
            fix
            or f"check AWS_ENDPOINT_URL / network access to AWS STS ({detail}), then run `finops doctor`.",
        )
    caller = identity["Account"]
    report.caller = {"account_id": caller, "arn": identity["Arn"]}
    checks = report.checks
    today = today_utc()
    ce = aws.client("ce")
    for action, critical, call in ce_probes(today):
        _probe(checks, "cost_explorer", action, critical, lambda c=call: c(ce), region="us-east-1")
    tags = _probe(
        checks,
        "cost_explorer",
        TAG_ACTIVATION_ACTION,
        False,
        lambda: tag_activation.list_tags(ce, settings.required_tag_keys),
        region="us-east-1",
    )
    if tags is not None:
        report.tag_activation = tag_activation.judge(tags, settings.required_tag_keys).to_json(today)

    members: list[str] = []
    if not settings.single_account_mode:
        members = _organization_checks(aws, checks, caller)
    scope = _caller_scope(aws, settings, checks)
    report.scope = caller_scope.doctor_entry(scope)
    for region in settings.scan_regions:  # the caller's own tag scan, region by region
        tagging = aws.client("resourcegroupstaggingapi", region=region)
        _probe(
            checks,
            "tagging",
            "tag:GetResources",
            False,
            lambda t=tagging: t.get_resources(ResourcesPerPage=1),
            caller,
            region,
        )
    ec2 = aws.client("ec2", region=settings.aws_region)
    for action, call in EC2_PROBES:
        _probe(checks, "ec2", action, False, lambda c=call: c(ec2), caller, settings.aws_region)
    budgets = aws.client("budgets")
    _probe(
        checks,
        "budgets",
        "budgets:ViewBudget",
        False,
        lambda: budgets.describe_budgets(AccountId=caller, MaxResults=1),
        caller,
    )
    if getattr(settings, "ses_enabled", False) and getattr(settings, "ses_sender_email", None):
        ses = aws.client("ses", region=getattr(settings, "ses_region", settings.aws_region))
        sender = settings.ses_sender_email
        _probe(
            checks,
            "ses",
            "ses:SendRawEmail",
            True,
            lambda: ses.send_raw_email(
                Source=sender, Destinations=[SES_SIMULATOR], RawMessage={"Data": _probe_email(sender)}
            ),
            caller,
            getattr(settings, "ses_region", settings.aws_region),
        )
    if getattr(settings, "support_probe_enabled", False):
        support = aws.client("support", region="us-east-1")
        _probe(
            checks,
            "support",
            "support:DescribeTrustedAdvisorChecks",
            False,
            lambda: support.describe_trusted_advisor_checks(language="en"),
            caller,
        )
    if members:
        if max_member_accounts is not None:
            members = members[:max_member_accounts]
        targets = [ScanTarget(account, settings.aws_region) for account in members]
        outcomes = aws.fan_out(targets, lambda t: _member_checks(aws, t.account_id, t.region))
        for outcome in outcomes:
            checks.extend(outcome.result or [])

    after = aws.counter.snapshot()
    report.ce_requests = sum(after[key][1] - before.get(key, (0, 0))[1] for key in after if key[0] == "ce")
    if any(c.status == "credentials" for c in checks):
        report.status = "error"
        report.error = "the credentials were rejected during the probes (expired or revoked)"
        report.error_remediation = fix_for("credentials", None, None)
    elif report.critical_missing or scope.partial:
        report.status = "critical"
    elif report.missing or (report.tag_activation or {}).get("inactive_required_keys"):
        report.status = "degraded"  # an inactive required tag key: spend coverage unknown, not fatal
    return report


def _caller_scope(aws: Any, settings: Any, checks: list[Check]) -> caller_scope.CallerScope:
    """Whose bill Cost Explorer shows the caller: a member's totals would pass for the organisation's."""
    try:
        scope = caller_scope.detect_caller_scope(
            aws,
            single_account_mode=settings.single_account_mode,
            billing_view_arn=getattr(settings, "billing_view_arn", None),
        )
    except (ClientError, BotoCoreError):
        return caller_scope.CallerScope("", "", "unknown")
    listed = any(c.action == "organizations:ListAccounts" and c.status == "ok" for c in checks)
    scope = caller_scope.with_list_accounts(scope, listed)
    caller_scope.review_doctor_checks(checks, scope)
    return scope


def _failed(report: DoctorReport, error: str, remediation: str) -> DoctorReport:
    report.status, report.error, report.error_remediation = "error", error, remediation
    return report


def doctor(env: Mapping[str, str] | None = None, *, max_member_accounts: int | None = None) -> DoctorReport:
    """Load the settings and probe; a settings error is a runtime error (status ``error``)."""
    from finops_pipeline.aws_session import AwsResource
    from finops_pipeline.settings import SettingsError, load_settings

    try:
        settings = load_settings(env)
    except SettingsError as exc:
        return DoctorReport(
            status="error",
            region="",
            auth_strategy="none",
            credentials={},
            error=str(exc),
            error_remediation=(
                "fix the settings listed in the error (see .env.example), then run `finops doctor`."
            ),
        )
    return run_probes(AwsResource.from_settings(settings), settings, max_member_accounts=max_member_accounts)


# -------------------------------------------------------------------------------------------------- CLI


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check every AWS permission the configured features need; JSON report with the fixes",
        description="Probe the AWS permissions of the configured features and print a JSON report. Exit "
        "0: all granted (or only non-critical gaps, status 'degraded'); 1: a critical permission is "
        "missing; 2: authentication or runtime error. Inactive required cost allocation tags are listed "
        "with the fix (status 'degraded'). Costs one Cost Explorer request ($0.01) per ce: action.",
    )
    parser.add_argument(
        "--member-accounts",
        type=int,
        default=None,
        metavar="N",
        help="probe the member role in the first N active member accounts only (default: all)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on any missing permission, not only critical ones"
    )
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from finops_pipeline.log_config import configure_logging
    from finops_pipeline.settings import SettingsError, load_settings

    with contextlib.suppress(SettingsError):  # reported in the JSON below
        configure_logging(load_settings())
    try:
        report = doctor(max_member_accounts=args.member_accounts)
    except Exception as exc:  # a runtime error still answers in JSON, with exit code 2
        report = DoctorReport(
            status="error",
            region="",
            auth_strategy="none",
            credentials={},
            error=f"{type(exc).__name__}: {exc}",
            error_remediation="re-run with LOG_LEVEL=DEBUG and report the error if it persists.",
        )
    payload = report.to_json()
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    if args.strict and report.status == "degraded":
        return EXIT_CRITICAL
    return report.exit_code


__all__ = ["Check", "DoctorReport", "diagnose_credentials", "doctor", "probe_actions", "run_probes"]
