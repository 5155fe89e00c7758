"""The AWS access layer against the sandbox: role assumption, preflight, counting, fan-out."""

from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest

from finops_pipeline.aws_session import AwsAccessError, AwsResource, ScanTarget, classify_error
from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_sandbox.faults import Faults

CENTRAL_ROLE = "arn:aws:iam::123456789012:role/FinOpsCentralReadOnly"


def test_central_role_is_assumed_before_anything_is_read(
    tmp_path: Path, pipeline_env_for: Any, sandbox: Any
) -> None:
    database = tmp_path / "central.duckdb"
    pipeline_env_for(database, AWS_ROLE_ARN=CENTRAL_ROLE)
    result = run_pipeline(assets=["aws_accounts"])
    assert result.success
    with duckdb.connect(str(database), read_only=True) as conn:
        calls = dict(conn.execute("SELECT service || ':' || operation, pages FROM meta.api_calls").fetchall())
        accounts = conn.execute("SELECT count(*) FROM raw.aws_accounts").fetchone()[0]
    assert calls["sts:AssumeRole"] == 1
    assert calls["organizations:ListAccounts"] == 1  # 13 accounts fit one page of 20
    assert accounts == sandbox.world.accounts.num_rows


def test_no_base_credentials_fails_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: Any
) -> None:
    env = {k: v for k, v in sandbox.env().items() if not k.startswith("AWS_ACCESS_KEY") and "SECRET" not in k}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    database = tmp_path / "none.duckdb"
    set_aws_env(
        monkeypatch,
        {
            **env,
            "AWS_ROLE_ARN": CENTRAL_ROLE,
            "AWS_EC2_METADATA_DISABLED": "true",
            "FINOPS_DUCKDB_PATH": str(database),
        },
        tmp_path,
    )
    result = run_pipeline(assets=["aws_accounts"])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message if failure.step_failure_data.error.cause else ""
    message += failure.step_failure_data.error.message
    assert "AWS_ROLE_ARN is set but there are no base credentials" in message
    assert "Fix:" in message
    assert not database.exists()


def test_preflight_raises_a_clear_error_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_aws_env(monkeypatch, {"AWS_EC2_METADATA_DISABLED": "true"}, tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(AwsAccessError, match="No AWS credentials were found"):
        AwsResource().preflight()


def test_requests_and_pages_are_counted_per_operation(aws_env: dict[str, str]) -> None:
    aws = AwsResource()
    with aws.tracked() as calls:
        org = aws.client("organizations")
        pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) == 3  # 13 accounts at 5 a page
    assert [(c.service, c.operation, c.calls, c.pages) for c in calls] == [
        ("organizations", "ListAccounts", 3, 3)
    ]
    assert calls[0].estimated_cost_usd == 0.0


def test_cost_explorer_pages_are_priced_at_a_cent(aws_env: dict[str, str]) -> None:
    aws = AwsResource()
    with aws.tracked() as calls:
        aws.client("ce").get_cost_and_usage(
            TimePeriod={"Start": "2026-10-01", "End": "2026-11-01"},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
        )
    assert [(c.operation, c.pages, c.estimated_cost_usd) for c in calls] == [("GetCostAndUsage", 1, 0.01)]


def test_fan_out_turns_failures_into_statuses(
    sandbox: Any, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    endpoint = sandbox_factory(faults=Faults(disabled_region="eu-west-1"))
    set_aws_env(monkeypatch, endpoint.env(), tmp_path)
    aws = AwsResource(max_concurrency=4)
    members = [a["account_id"] for a in sandbox.world.accounts.to_pylist() if a["status"] == "ACTIVE"][:3]
    targets = [ScanTarget(a, r) for a in members for r in ("us-east-1", "eu-west-1")]

    def count(target: ScanTarget) -> int:
        client = aws.client("resourcegroupstaggingapi", region=target.region, account_id=target.account_id)
        pages = client.get_paginator("get_resources").paginate(ResourcesPerPage=100)
        return sum(len(page["ResourceTagMappingList"]) for page in pages)

    outcomes = aws.fan_out(targets, count)
    assert [o.status for o in outcomes] == ["ok", "error"] * 3
    assert all("region not enabled" in o.detail for o in outcomes if o.target.region == "eu-west-1")
    tagged = [r for r in sandbox.world.resources.to_pylist() if not r["never_tagged"]]
    expected = [sum(1 for r in tagged if (r["account_id"], r["region"]) == (a, "us-east-1")) for a in members]
    assert [o.result for o in outcomes if o.status == "ok"] == expected  # each account signs as itself
    assert sum(expected) > 0


def test_fan_out_visits_every_account_before_any_account_twice() -> None:
    targets = [ScanTarget(a, r) for a in ("111", "222", "333") for r in ("us-east-1", "eu-west-1")]
    visited: list[ScanTarget] = []

    def visit(target: ScanTarget) -> str:
        visited.append(target)
        return f"{target.account_id}/{target.region}"

    outcomes = AwsResource(max_concurrency=1).fan_out(targets, visit)
    assert [(t.account_id, t.region) for t in visited] == [
        ("111", "us-east-1"),
        ("222", "us-east-1"),
        ("333", "us-east-1"),
        ("111", "eu-west-1"),
        ("222", "eu-west-1"),
        ("333", "eu-west-1"),
    ]
    assert [o.target for o in outcomes] == targets  # results still come back in target order
    assert [o.result for o in outcomes] == [f"{t.account_id}/{t.region}" for t in targets]


def test_error_codes_are_classified() -> None:
    from botocore.exceptions import ClientError

    def error(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetResources")

    assert classify_error(error("AccessDeniedException"))[0] == "access_denied"
    assert classify_error(error("ThrottledException"))[0] == "throttled"
    assert classify_error(error("InternalFailure"))[0] == "error"
    # One table of codes for scans and `finops doctor` (remediation.error_kind).
    assert classify_error(error("SlowDown"))[0] == "throttled"
    assert classify_error(error("AccessDeniedForDependencyException"))[0] == "access_denied"
    assert classify_error(error("OptInRequired")) == (
        "error",
        "region not enabled or credentials rejected: GetResources: OptInRequired: m",
    )
    assert boto3  # the real client library is what the resource wraps


def test_every_botocore_failure_is_a_short_status_without_the_body() -> None:
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
    from botocore.parsers import ResponseParserError

    body = "<?xml version='1.0'?><DescribeVolumesResponse><volumeSet><item><volumeId>vol-1</volumeId>"
    parse = ResponseParserError(f"Unable to parse response (syntax error), invalid XML received:\n{body}")
    assert classify_error(parse, "DescribeVolumes") == (
        "error",
        "DescribeVolumes: ResponseParserError: the answer could not be parsed (body not kept)",
    )
    status, detail = classify_error(EndpointConnectionError(endpoint_url="https://ec2.example"))
    assert (status, detail) == (
        "error",
        'EndpointConnectionError: Could not connect to the endpoint URL: "https://ec2.example"',
    )
    status, detail = classify_error(ReadTimeoutError(endpoint_url="https://ec2.example"), "DescribeInstances")
    assert status == "error" and detail.startswith("DescribeInstances: ReadTimeoutError: Read timeout")
