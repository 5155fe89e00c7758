"""Conformance, dynamic half: the sandbox's answer to every operation the pipeline calls validates
against botocore's output shape for it (``finops_sandbox.shape_check``).

JSON-protocol services (Cost Explorer, Organizations, Budgets, the Tagging API) are checked on the raw
body as it came over the wire (botocore's ``before-parse`` event), where an unknown member, a wrong type
or an enum value AWS never sends shows. EC2, STS and SES speak query/XML: botocore's parser keeps only
modelled members, so those are checked on the parsed answer (types and enums, not unknown members).
"""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from typing import Any

import boto3
import pytest

from finops_pipeline_tests.test_aws_conformance import _modules, called_operations
from finops_sandbox.moto_seed.common import MEMBER_ROLE_NAME
from finops_sandbox.shape_check import check_output

# Not served by the sandbox, with why: the doctor's optional probe (support plans only; Trusted Advisor).
NOT_SERVED = {("support", "DescribeTrustedAdvisorChecks")}
# Called only with FOCUS_EXPORT_URI set, on the export bucket: defs/focus/test_focus_export_ingest.py
# reads the sandbox's published export through them (the conformance sandbox publishes none).
EXPORT_ONLY = {("s3", "ListObjectsV2"), ("s3", "GetObject")}
# Called in member accounts through the scan role (the management account holds few resources).
MEMBER_SCOPED = {
    "ec2",
    "resourcegroupstaggingapi",
    "rds",
    "lambda",
    "s3",
    "dynamodb",
    "elbv2",
    "cloudwatch",
    "savingsplans",
}
# boto3 method names several services share whose call in the pipeline is the other service's.
NOT_CALLED = {
    ("ce", "ListTagsForResource"),
    ("budgets", "ListTagsForResource"),
    ("rds", "ListTagsForResource"),
    ("cloudwatch", "ListTagsForResource"),
    ("lambda", "ListTags"),
    ("savingsplans", "ListTagsForResource"),
}


def params_member(sandbox: Any) -> str:
    """The first active member account: the one the conformance requests scan."""
    world = sandbox.world
    return next(
        a["account_id"]
        for a in world.accounts.to_pylist()
        if a["account_id"] != world.management_account_id and a["status"] == "ACTIVE"
    )


def _busiest_region(sandbox: Any, account: str) -> str:
    regions = [r["region"] for r in sandbox.world.resources.to_pylist() if r["account_id"] == account]
    return max(sorted(set(regions)), key=regions.count)


def _lambda_function(sandbox: Any, account: str) -> str:
    """The ARN of a function the conformance member runs in its busiest region, one with provisioned
    concurrency first (its answer then holds a config to check)."""
    region = _busiest_region(sandbox, account)
    functions = [
        r
        for r in sandbox.world.resources.to_pylist()
        if (r["account_id"], r["region"], r["resource_type"]) == (account, region, "lambda:function")
    ]
    return max(functions, key=lambda r: (bool(r.get("provisioned_concurrency")), r["arn"]))["arn"]


def _requests(sandbox: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """One pipeline-like request per (service, Operation) the pipeline calls."""
    world = sandbox.world
    end = world.data_end
    start = end - dt.timedelta(days=20)
    period = {"Start": start.isoformat(), "End": end.isoformat()}
    member = params_member(sandbox)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = (
        "finops@example.com",
        "success@simulator.amazonses.com",
        "probe",
    )
    mail.set_content("conformance")
    group_by = [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    return {
        ("sts", "GetCallerIdentity"): {},
        ("sts", "AssumeRole"): {
            "RoleArn": f"arn:aws:iam::{member}:role/{MEMBER_ROLE_NAME}",
            "RoleSessionName": "conformance",
        },
        ("ce", "GetCostAndUsage"): {
            "TimePeriod": period,
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost", "AmortizedCost"],
            "GroupBy": group_by,
        },
        ("ce", "GetCostForecast"): {
            "TimePeriod": {"Start": end.isoformat(), "End": (end + dt.timedelta(days=30)).isoformat()},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": 80,
        },
        ("ce", "GetAnomalies"): {
            "DateInterval": {
                "StartDate": (end - dt.timedelta(days=89)).isoformat(),
                "EndDate": end.isoformat(),
            },
            "MaxResults": 100,
        },
        ("ce", "GetReservationPurchaseRecommendation"): {
            "Service": "Amazon Elastic Compute Cloud - Compute",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "AccountScope": "PAYER",
        },
        ("ce", "GetSavingsPlansPurchaseRecommendation"): {
            "SavingsPlansType": "COMPUTE_SP",
            "TermInYears": "ONE_YEAR",
            "PaymentOption": "NO_UPFRONT",
            "LookbackPeriodInDays": "THIRTY_DAYS",
            "AccountScope": "PAYER",
        },
        ("ce", "GetRightsizingRecommendation"): {
            "Service": "AmazonEC2",
            "Configuration": {"RecommendationTarget": "SAME_INSTANCE_FAMILY", "BenefitsConsidered": True},
        },
        ("ce", "GetSavingsPlansUtilizationDetails"): {"TimePeriod": period},
        ("ce", "GetSavingsPlansUtilization"): {"TimePeriod": period, "Granularity": "DAILY"},
        ("ce", "GetSavingsPlansCoverage"): {"TimePeriod": period, "Granularity": "DAILY"},
        ("ce", "GetReservationUtilization"): {
            "TimePeriod": period,
            "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Relational Database Service"]}},
        },
        ("ce", "GetReservationCoverage"): {
            "TimePeriod": period,
            "Granularity": "DAILY",
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Relational Database Service"]}},
        },
        ("ce", "ListCostAllocationTags"): {"MaxResults": 100},
        ("ce", "ListCostAllocationTagBackfillHistory"): {"MaxResults": 1000},
        ("organizations", "DescribeOrganization"): {},
        ("organizations", "ListAccounts"): {"MaxResults": 20},
        ("organizations", "ListRoots"): {},
        ("organizations", "ListAccountsForParent"): {"ParentId": "$root"},
        ("organizations", "ListOrganizationalUnitsForParent"): {"ParentId": "$root"},
        ("organizations", "ListTagsForResource"): {"ResourceId": member},
        ("budgets", "DescribeBudgets"): {"AccountId": world.management_account_id},
        ("resourcegroupstaggingapi", "GetResources"): {"ResourcesPerPage": 100},
        ("ec2", "DescribeRegions"): {"AllRegions": True},
        ("ec2", "DescribeInstances"): {},
        ("ec2", "DescribeVolumes"): {},
        ("ec2", "DescribeSnapshots"): {"OwnerIds": ["self"]},
        ("ec2", "DescribeAddresses"): {},
        ("ec2", "DescribeNatGateways"): {"MaxResults": 1000},
        ("ec2", "DescribeImages"): {"Owners": ["self"], "MaxResults": 1000},
        ("rds", "DescribeDBInstances"): {"MaxRecords": 100},
        ("lambda", "ListFunctions"): {"MaxItems": 50},
        ("lambda", "ListProvisionedConcurrencyConfigs"): {
            "FunctionName": _lambda_function(sandbox, member),
            "MaxItems": 50,
        },
        ("s3", "ListBuckets"): {"BucketRegion": _busiest_region(sandbox, member)},
        ("dynamodb", "ListTables"): {"Limit": 100},
        ("elbv2", "DescribeLoadBalancers"): {"PageSize": 400},
        ("cloudwatch", "GetMetricData"): {
            "MetricDataQueries": [
                {
                    "Id": "q0",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/RDS", "MetricName": "DatabaseConnections"},
                        "Period": 86400,
                        "Stat": "Maximum",
                    },
                }
            ],
            "StartTime": dt.datetime.combine(end - dt.timedelta(days=7), dt.time(0), dt.UTC),
            "EndTime": dt.datetime.combine(end, dt.time(0), dt.UTC),
        },
        ("ec2", "DescribeReservedInstances"): {},
        ("rds", "DescribeReservedDBInstances"): {"MaxRecords": 100},
        ("savingsplans", "DescribeSavingsPlans"): {"maxResults": 1000},
        ("ses", "SendRawEmail"): {"RawMessage": {"Data": mail.as_bytes()}},
    }


def _pipeline_operations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for _, text in _modules():
        found |= called_operations(text)
    return found - NOT_CALLED


def test_every_operation_the_pipeline_calls_has_a_conformance_request(sandbox: Any) -> None:
    assert _pipeline_operations() - NOT_SERVED - EXPORT_ONLY == set(_requests(sandbox))


@pytest.fixture(scope="module")
def answers(sandbox: Any) -> dict[tuple[str, str], tuple[str, Any]]:
    """(service, op) -> ("raw" | "parsed", answer): the wire body for JSON services, else botocore's parse."""
    env = sandbox.env()
    raw: dict[str, Any] = {}
    out: dict[tuple[str, str], tuple[str, Any]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        session = boto3.session.Session(region_name="us-east-1")
        for (service, operation), params in _requests(sandbox).items():
            if params.get("ParentId") == "$root":  # ListRoots answered before: dicts keep their order
                params = {**params, "ParentId": out[("organizations", "ListRoots")][1]["Roots"][0]["Id"]}
            if service in MEMBER_SCOPED:  # as the scans call them: in a member account, via its role
                creds = out[("sts", "AssumeRole")][1]["Credentials"]
                client = boto3.session.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                    region_name=_busiest_region(sandbox, params_member(sandbox)),
                ).client(service)
            else:
                client = session.client(service)
            json_protocol = client.meta.service_model.protocol == "json"

            def keep(response_dict: dict[str, Any], **_: Any) -> None:
                raw["body"] = response_dict["body"]

            client.meta.events.register(f"before-parse.*.{operation}", keep)
            parsed = getattr(client, _method(client, operation))(**params)
            if json_protocol:
                out[(service, operation)] = ("raw", json.loads(raw["body"] or b"{}"))
            else:
                parsed.pop("ResponseMetadata", None)
                out[(service, operation)] = ("parsed", parsed)
    return out


def _method(client: Any, operation: str) -> str:
    return next(m for m in dir(client) if client.meta.method_to_api_mapping.get(m) == operation)


def test_every_sandbox_answer_validates_against_botocore(answers: dict) -> None:
    problems = {
        f"{service}.{operation} ({kind})": check_output(service, operation, answer)
        for (service, operation), (kind, answer) in answers.items()
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_answers_checked_are_not_empty(answers: dict) -> None:
    """Validation of an empty list proves nothing: the answers the pipeline lives on carry items."""
    lists = {
        ("ce", "GetCostAndUsage"): "ResultsByTime",
        ("ce", "GetAnomalies"): "Anomalies",
        ("ce", "GetRightsizingRecommendation"): "RightsizingRecommendations",
        ("ce", "ListCostAllocationTags"): "CostAllocationTags",
        ("organizations", "ListAccounts"): "Accounts",
        ("organizations", "ListTagsForResource"): "Tags",
        ("resourcegroupstaggingapi", "GetResources"): "ResourceTagMappingList",
        ("ec2", "DescribeRegions"): "Regions",
        ("ec2", "DescribeVolumes"): "Volumes",
    }
    assert {
        op: len(answers[op][1].get(key, [])) for op, key in lists.items() if not answers[op][1].get(key)
    } == {}
    assert answers[("ce", "GetCostAndUsage")][1]["NextPageToken"]  # a page loop is needed even for 20 days


def test_describe_budgets_pages_as_aws_does(aws_env: dict[str, str], sandbox: Any) -> None:
    """moto answered every budget at once with a ``nextToken`` AWS does not send; the sandbox pages by
    ``MaxResults`` (DescribeBudgets: "The default is 100") and ``NextToken``, as botocore's paginator
    expects."""
    budgets = boto3.client("budgets", region_name="us-east-1")
    owner = sandbox.world.management_account_id
    whole = budgets.describe_budgets(AccountId=owner)
    names = [b["BudgetName"] for b in whole["Budgets"]]
    assert len(names) >= 2 and "NextToken" not in whole
    pages = list(budgets.get_paginator("describe_budgets").paginate(AccountId=owner, MaxResults=1))
    assert [len(p["Budgets"]) for p in pages] == [1] * len(names)
    assert [b["BudgetName"] for p in pages for b in p["Budgets"]] == names
