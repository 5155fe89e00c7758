"""The doctor's probes: the smallest request of each action the pipeline calls, one principal at a time.

Kept apart from ``doctor.py`` (the report, its exit codes and the CLI) so the list of probed actions, which
``test_iam`` compares with ``iam/``, is in one short file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from email.mime.text import MIMEText
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline.clock import utc_now
from finops_pipeline.lib.remediation import REFUSAL_FIXES, denied_action, error_kind

SES_SIMULATOR = "success@simulator.amazonses.com"
TAG_ACTIVATION_ACTION = "ce:ListCostAllocationTags"
BACKFILL_HISTORY_ACTION = "ce:ListCostAllocationTagBackfillHistory"  # backfills move tag trust back
RI_SERVICE = "Amazon Elastic Compute Cloud - Compute"
FOCUS_EXPORT_ACTIONS = ("s3:ListBucket", "s3:GetObject")  # the FOCUS import's (lib/focus/source.py)


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


def classify(exc: BaseException) -> tuple[str, str]:
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


def probe(
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
        check.status, check.detail = classify(exc)
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
        *commitment_probes(yesterday, today),
    ]


def commitment_probes(start: dt.date, end: dt.date) -> list[tuple[str, bool, Callable[[Any], Any]]]:
    """The commitments ingest's five reads (issue #16), one day each: not critical, the rest still runs."""
    period = {"Start": start.isoformat(), "End": end.isoformat()}
    by_subscription = [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}]
    return [
        (
            "ce:GetSavingsPlansUtilizationDetails",
            False,
            lambda ce: ce.get_savings_plans_utilization_details(TimePeriod=period, MaxResults=1),
        ),
        (
            "ce:GetSavingsPlansUtilization",
            False,
            lambda ce: ce.get_savings_plans_utilization(TimePeriod=period, Granularity="DAILY"),
        ),
        (
            "ce:GetSavingsPlansCoverage",
            False,
            lambda ce: ce.get_savings_plans_coverage(TimePeriod=period, Granularity="DAILY", MaxResults=1),
        ),
        (
            "ce:GetReservationUtilization",
            False,
            lambda ce: ce.get_reservation_utilization(
                TimePeriod=period, GroupBy=by_subscription, MaxResults=1
            ),
        ),
        (
            "ce:GetReservationCoverage",
            False,
            lambda ce: ce.get_reservation_coverage(TimePeriod=period, Granularity="DAILY", MaxResults=1),
        ),
    ]


# EC2 describe calls of the inventory, smallest pages.
EC2_PROBES: list[tuple[str, Callable[[Any], Any]]] = [
    ("ec2:DescribeInstances", lambda ec2: ec2.describe_instances(MaxResults=5)),
    ("ec2:DescribeRegions", lambda ec2: ec2.describe_regions(AllRegions=True)),
    ("ec2:DescribeReservedInstances", lambda ec2: ec2.describe_reserved_instances()),
    ("ec2:DescribeVolumes", lambda ec2: ec2.describe_volumes(MaxResults=5)),
    ("ec2:DescribeSnapshots", lambda ec2: ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5)),
    ("ec2:DescribeAddresses", lambda ec2: ec2.describe_addresses()),
    ("ec2:DescribeNatGateways", lambda ec2: ec2.describe_nat_gateways(MaxResults=5)),
    ("ec2:DescribeImages", lambda ec2: ec2.describe_images(Owners=["self"], MaxResults=5)),
]


def _metric_probe(cloudwatch: Any) -> Any:
    """One query over the last hour: enough to be authorised, nothing to read."""
    end = utc_now().replace(minute=0, second=0, microsecond=0)
    metric = {"Namespace": "AWS/NATGateway", "MetricName": "BytesOutToDestination"}
    query = {"Id": "probe", "MetricStat": {"Metric": metric, "Period": 3600, "Stat": "Sum"}}
    return cloudwatch.get_metric_data(
        MetricDataQueries=[query], StartTime=end - dt.timedelta(hours=1), EndTime=end
    )


def _provisioned_concurrency_probe(client: Any) -> Any:
    """ListProvisionedConcurrencyConfigs needs a function: the first one listed, or a name no account has.
    AWS authorises before it looks the function up, so ResourceNotFoundException proves the permission."""
    functions = client.list_functions(MaxItems=1).get("Functions", [])
    name = functions[0]["FunctionArn"] if functions else "finops-doctor-probe"
    try:
        return client.list_provisioned_concurrency_configs(FunctionName=name, MaxItems=1)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None


# The other list calls of the complete inventory and the idle rules' metrics: (action, boto3 service, call).
SERVICE_PROBES: list[tuple[str, str, Callable[[Any], Any]]] = [
    ("rds:DescribeDBInstances", "rds", lambda rds: rds.describe_db_instances(MaxRecords=20)),
    ("lambda:ListFunctions", "lambda", lambda client: client.list_functions(MaxItems=1)),
    ("lambda:ListProvisionedConcurrencyConfigs", "lambda", _provisioned_concurrency_probe),
    ("s3:ListAllMyBuckets", "s3", lambda s3: s3.list_buckets(MaxBuckets=1)),
    ("dynamodb:ListTables", "dynamodb", lambda client: client.list_tables(Limit=1)),
    (
        "elasticloadbalancing:DescribeLoadBalancers",
        "elbv2",
        lambda client: client.describe_load_balancers(PageSize=1),
    ),
    ("cloudwatch:GetMetricData", "cloudwatch", _metric_probe),
]
# The commitment inventory's other reads (issue #16): (action, service, region or None for the scan region).
COMMITMENT_PROBES: list[tuple[str, str, str | None, Callable[[Any], Any]]] = [
    (
        "rds:DescribeReservedDBInstances",
        "rds",
        None,
        lambda rds: rds.describe_reserved_db_instances(MaxRecords=20),
    ),
    (
        "savingsplans:DescribeSavingsPlans",
        "savingsplans",
        "us-east-1",
        lambda sp: sp.describe_savings_plans(maxResults=1),
    ),
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
    actions |= {TAG_ACTIVATION_ACTION, BACKFILL_HISTORY_ACTION}
    actions |= {a for a, _ in EC2_PROBES} | {a for a, _, _ in SERVICE_PROBES}
    actions |= {a for a, *_ in COMMITMENT_PROBES}
    if not settings.single_account_mode:
        actions |= {a for a, _ in ORGANIZATIONS_PROBES} | {"sts:AssumeRole"}
    if getattr(settings, "ses_enabled", False):
        actions.add("ses:SendRawEmail")
    if getattr(settings, "support_probe_enabled", False):
        actions.add("support:DescribeTrustedAdvisorChecks")
    if str(getattr(settings, "focus_export_uri", None) or "").startswith("s3://"):
        actions |= set(FOCUS_EXPORT_ACTIONS)
    return actions


def _probe_email(sender: str) -> bytes:
    message = MIMEText("finops doctor: checks that ses:SendRawEmail is allowed. Nothing to do.")
    message["Subject"] = "finops doctor permission probe"
    message["From"] = sender
    message["To"] = SES_SIMULATOR
    return message.as_bytes()


def organization_checks(aws: Any, checks: list[Check], caller: str) -> list[str]:
    """Organizations probes; returns the active member accounts (for the member-role probes)."""
    org = aws.client("organizations")
    critical = dict(ORGANIZATIONS_PROBES)
    probe(checks, "organizations", "organizations:DescribeOrganization", True, org.describe_organization)
    accounts: list[dict[str, Any]] | None = probe(
        checks,
        "organizations",
        "organizations:ListAccounts",
        True,
        lambda: [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]],
    )
    roots = probe(checks, "organizations", "organizations:ListRoots", True, lambda: org.list_roots()["Roots"])
    parent = roots[0]["Id"] if roots else None
    if parent is not None:
        probe(
            checks,
            "organizations",
            "organizations:ListAccountsForParent",
            True,
            lambda: org.list_accounts_for_parent(ParentId=parent, MaxResults=1),
        )
        probe(
            checks,
            "organizations",
            "organizations:ListOrganizationalUnitsForParent",
            True,
            lambda: org.list_organizational_units_for_parent(ParentId=parent, MaxResults=1),
        )
    probe(
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


def member_checks(aws: Any, account_id: str, region: str) -> list[Check]:
    checks: list[Check] = []
    try:
        tagging = aws.client("resourcegroupstaggingapi", region=region, account_id=account_id)
    except (ClientError, BotoCoreError) as exc:  # the role could not be assumed
        check = Check("member_role", "sts:AssumeRole", False, account_id=account_id, region=region)
        check.status, check.detail = classify(exc)
        return [check]
    checks.append(Check("member_role", "sts:AssumeRole", False, account_id=account_id, region=region))
    probe(
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
        probe(checks, "member_role", action, False, lambda c=call: c(ec2), account_id, region)
    for action, service, call in SERVICE_PROBES:
        client = aws.client(service, region=region, account_id=account_id)
        probe(checks, "member_role", action, False, lambda c=call, k=client: c(k), account_id, region)
    for action, service, where, call in COMMITMENT_PROBES:
        client = aws.client(service, region=where or region, account_id=account_id)
        probe(
            checks, "member_role", action, False, lambda c=call, k=client: c(k), account_id, where or region
        )
    return checks


def caller_checks(aws: Any, settings: Any, checks: list[Check], caller: str) -> None:
    """The caller's own probes: the tag scan region by region, EC2, Budgets, and SES / Support if enabled."""
    for region in settings.scan_regions:
        tagging = aws.client("resourcegroupstaggingapi", region=region)
        probe(
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
        probe(checks, "ec2", action, False, lambda c=call: c(ec2), caller, settings.aws_region)
    for action, service, call in SERVICE_PROBES:
        client = aws.client(service, region=settings.aws_region)
        probe(checks, "inventory", action, False, lambda c=call, k=client: c(k), caller, settings.aws_region)
    for action, service, where, call in COMMITMENT_PROBES:
        client = aws.client(service, region=where or settings.aws_region)
        probe(
            checks,
            "commitments",
            action,
            False,
            lambda c=call, k=client: c(k),
            caller,
            where or settings.aws_region,
        )
    budgets = aws.client("budgets")
    probe(
        checks,
        "budgets",
        "budgets:ViewBudget",
        False,
        lambda: budgets.describe_budgets(AccountId=caller, MaxResults=1),
        caller,
    )
    if getattr(settings, "ses_enabled", False) and getattr(settings, "ses_sender_email", None):
        ses_region = getattr(settings, "ses_region", settings.aws_region)
        ses = aws.client("ses", region=ses_region)
        sender = settings.ses_sender_email
        probe(
            checks,
            "ses",
            "ses:SendRawEmail",
            True,
            lambda: ses.send_raw_email(
                Source=sender, Destinations=[SES_SIMULATOR], RawMessage={"Data": _probe_email(sender)}
            ),
            caller,
            ses_region,
        )
    uri = str(getattr(settings, "focus_export_uri", None) or "")
    if uri.startswith("s3://"):
        focus_export_checks(aws, uri, checks, caller)
    if getattr(settings, "support_probe_enabled", False):
        support = aws.client("support", region="us-east-1")
        probe(
            checks,
            "support",
            "support:DescribeTrustedAdvisorChecks",
            False,
            lambda: support.describe_trusted_advisor_checks(language="en"),
            caller,
        )


def focus_export_checks(aws: Any, uri: str, checks: list[Check], caller: str) -> None:
    """The FOCUS import's two actions on its export: list one key under the prefix, read its first byte."""
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    s3 = aws.client("s3")
    listed = probe(
        checks,
        "focus_export",
        "s3:ListBucket",
        False,
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1),
        caller,
    )
    if listed is None:  # s3:GetObject cannot be probed without a key: only the listing's action is named
        return
    key = next((o["Key"] for o in listed.get("Contents", [])), None)
    if key is None:
        checks.append(
            Check("focus_export", "s3:GetObject", False, "error", f"no object under {uri} to read", caller)
        )
        return
    probe(
        checks,
        "focus_export",
        "s3:GetObject",
        False,
        lambda: s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-0"),
        caller,
    )
