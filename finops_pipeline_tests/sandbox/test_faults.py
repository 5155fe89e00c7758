"""Fault injection: each fault answers with the real service's error, and only where it was asked for."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pyarrow.compute as pc
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from finops_pipeline_tests.conftest import SANDBOX_AS_OF, set_aws_env
from finops_pipeline_tests.sandbox.conftest import member_session
from finops_sandbox.faults import Faults, FaultsError
from finops_sandbox.moto_seed import MEMBER_ROLE_NAME
from finops_sandbox.server import Sandbox

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
Factory = Callable[..., Any]


@pytest.fixture
def serve(
    sandbox_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[Faults], Any]:
    """Serve the session world with `faults` and point boto3 at it."""

    def start(faults: Faults) -> Any:
        view = sandbox_factory(faults=faults)
        set_aws_env(monkeypatch, view.env(), tmp_path)
        return view

    return start


def _error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _active_members(sandbox: Sandbox) -> list[str]:
    world = sandbox.world
    accounts = (
        world.accounts.filter(pc.equal(world.accounts["status"], "ACTIVE")).column("account_id").to_pylist()
    )
    return [a for a in accounts if a != world.management_account_id]


LAST_MONTH = (SANDBOX_AS_OF.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _ce_call(client: Any) -> Any:
    return client.get_cost_and_usage(
        TimePeriod={"Start": LAST_MONTH.isoformat(), "End": SANDBOX_AS_OF.replace(day=1).isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
    )


CALLS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "ce": ("ce", _ce_call),
    "organizations": ("organizations", lambda c: c.list_accounts(MaxResults=20)),
    "tagging": ("resourcegroupstaggingapi", lambda c: c.get_resources()),
    "ec2": ("ec2", lambda c: c.describe_instances()),
    "sts": ("sts", lambda c: c.get_caller_identity()),
    "ses": ("ses", lambda c: c.list_identities()),
    "budgets": ("budgets", lambda c: c.describe_budgets(AccountId="123456789012")),
}


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("ce", "LimitExceededException", 400),
        ("organizations", "TooManyRequestsException", 400),
        ("tagging", "ThrottledException", 400),
        ("ec2", "RequestLimitExceeded", 503),
        ("sts", "Throttling", 400),
        ("ses", "Throttling", 400),
        ("budgets", "ThrottlingException", 400),
    ],
)
def test_throttling_uses_each_services_own_error(
    serve: Callable[[Faults], Any], service: str, code: str, status: int
) -> None:
    view = serve(Faults(throttle_rate=1.0))
    client_name, call = CALLS[service]
    assert _error(lambda: call(boto3.client(client_name, config=NO_RETRY))) == (code, status)
    assert view.stats["throttled"] == view.stats["requests"] == 1


def test_standard_retries_get_through_20_percent_throttling(serve: Callable[[Faults], Any]) -> None:
    view = serve(Faults(throttle_rate=0.2, seed=7))
    retrying = Config(retries={"mode": "standard", "max_attempts": 10})
    clients = {name: boto3.client(client_name, config=retrying) for name, (client_name, _) in CALLS.items()}
    answered = 0
    for _ in range(2):
        for name, (_, call) in CALLS.items():
            call(clients[name])
            answered += 1
    stats = view.stats
    assert stats["throttled"] > 0
    assert stats["requests"] - stats["throttled"] == answered == 14


def _sts_status(url: str) -> int:
    """POST an STS GetCallerIdentity signed for us-east-1 and give its HTTP status (errors included)."""
    request = urllib.request.Request(
        url,
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261127/us-east-1/sts/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_throttling_draw_is_deterministic_per_seed(sandbox_factory: Factory) -> None:
    def pattern(seed: int) -> list[int]:
        view = sandbox_factory(faults=Faults(throttle_rate=0.5, seed=seed))
        return [_sts_status(view.url) for _ in range(12)]

    first, again, other = pattern(3), pattern(3), pattern(4)
    assert first == again
    assert first != other
    assert set(first) == {200, 400}


def test_latency_is_added_to_every_call(serve: Callable[[Faults], Any]) -> None:
    view = serve(Faults(latency_ms=150))
    sts = boto3.client("sts")
    started = time.monotonic()
    sts.get_caller_identity()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.3
    assert view.stats["latency_ms"] == 150 * view.stats["requests"] == 300


def test_access_denied_for_one_account_only(serve: Callable[[Faults], Any], sandbox: Sandbox) -> None:
    denied, allowed = _active_members(sandbox)[:2]
    view = serve(Faults(deny_accounts=frozenset({denied})))
    session = member_session(denied)  # the management account may still assume the role ...
    assert session.client("sts").get_caller_identity()["Account"] == denied  # ... and GetCallerIdentity works
    code, status = _error(lambda: session.client("resourcegroupstaggingapi").get_resources())
    assert (code, status) == ("AccessDeniedException", 400)
    assert _error(lambda: session.client("ec2").describe_instances()) == ("UnauthorizedOperation", 403)
    assert _error(lambda: session.client("ses").list_identities()) == ("AccessDenied", 403)
    other = member_session(allowed)
    assert other.client("resourcegroupstaggingapi").get_resources()["ResourceTagMappingList"]
    assert len(boto3.client("organizations").list_accounts()["Accounts"]) == sandbox.world.accounts.num_rows
    assert view.stats["access_denied"] == 3


def test_access_denied_message_names_the_assumed_role(
    serve: Callable[[Faults], Any], sandbox: Sandbox
) -> None:
    denied = _active_members(sandbox)[0]
    serve(Faults(deny_accounts=frozenset({denied})))
    with pytest.raises(ClientError) as caught:
        member_session(denied).client("resourcegroupstaggingapi").get_resources()
    assert caught.value.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{denied}:assumed-role/{MEMBER_ROLE_NAME}/finops-scan "
        "is not authorized to perform: tag:GetResources"
    )


def test_denied_operations_combine_with_denied_accounts(
    serve: Callable[[Faults], Any], sandbox: Sandbox
) -> None:
    denied, allowed = _active_members(sandbox)[:2]
    serve(Faults(deny_accounts=frozenset({denied}), deny_operations=frozenset({"GetResources"})))
    session = member_session(denied)
    assert (
        _error(lambda: session.client("resourcegroupstaggingapi").get_resources())[0]
        == "AccessDeniedException"
    )
    assert "Reservations" in session.client("ec2").describe_instances()
    other = member_session(allowed).client("resourcegroupstaggingapi")
    assert "ResourceTagMappingList" in other.get_resources()


def test_denied_operation_for_everyone(serve: Callable[[Faults], Any], sandbox: Sandbox) -> None:
    serve(Faults(deny_operations=frozenset({"ListAccounts"})))
    org = boto3.client("organizations")
    assert _error(lambda: org.list_accounts()) == ("AccessDeniedException", 400)
    assert (
        org.describe_organization()["Organization"]["MasterAccountId"] == sandbox.world.management_account_id
    )


def test_disabled_region_refuses_only_that_region(serve: Callable[[Faults], Any], sandbox: Sandbox) -> None:
    view = serve(Faults(disabled_region="eu-west-1"))
    session = member_session(_active_members(sandbox)[0])
    assert _error(
        lambda: session.client("resourcegroupstaggingapi", region_name="eu-west-1").get_resources()
    ) == (
        "UnrecognizedClientException",
        400,
    )
    assert _error(lambda: session.client("ec2", region_name="eu-west-1").describe_instances()) == (
        "AuthFailure",
        401,
    )
    assert _error(lambda: boto3.client("sts", region_name="eu-west-1").get_caller_identity()) == (
        "InvalidClientTokenId",
        403,
    )
    assert (
        "ResourceTagMappingList"
        in session.client("resourcegroupstaggingapi", region_name="us-west-2").get_resources()
    )
    assert Counter({"region_disabled": 3}) <= Counter(view.stats)


def test_control_routes_are_never_faulted(sandbox_factory: Factory) -> None:
    view = sandbox_factory(faults=Faults(throttle_rate=1.0, latency_ms=0))
    with urllib.request.urlopen(f"{view.url}/sandbox/health") as answer:
        health = json.load(answer)
    assert health["faults"]["throttle_rate"] == 1.0
    with urllib.request.urlopen(f"{view.url}/moto-api/data.json") as answer:
        assert answer.status == 200
    assert view.stats.get("throttled", 0) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"throttle_rate": 1.5}, "--throttle-rate 1.5: must be a fraction from 0 to 1"),
        ({"latency_ms": -1}, "--latency-ms -1: must be 0..60000"),
        ({"deny_accounts": "12345"}, "--deny-accounts 12345: account ids are 12 digits"),
        ({"deny_operations": "list_accounts"}, "--deny-operations list_accounts: give API operation names"),
        ({"disabled_region": "us-east-1"}, "us-east-1 serves the global services"),
        ({"disabled_region": "europe"}, "--disabled-region europe: not an AWS region code"),
        (
            {"malformed_responses": "describe_volumes"},
            "--malformed-responses describe_volumes: give Operation",
        ),
        ({"ce_refusals": "rightsizing"}, "--ce-refusals rightsizing: choose from not-enabled, "),
    ],
)
def test_bad_fault_settings_name_the_option_and_the_fix(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultsError, match=message.replace(".", r"\.")):
        Faults(**kwargs)


def test_faults_round_trip_through_cli_arguments() -> None:
    import argparse

    from finops_sandbox.faults import add_fault_arguments

    faults = Faults(
        latency_ms=20,
        throttle_rate=0.25,
        seed=9,
        deny_accounts="111111111111,222222222222",
        deny_operations="GetResources",
        disabled_region="eu-west-1",
        malformed_responses="DescribeVolumes:111111111111:us-west-2,GetResources",
        ce_refusals="rightsizing-opt-in,request-changed",
    )
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=42)
    add_fault_arguments(parser)
    assert Faults.from_namespace(parser.parse_args(faults.to_cli_args())) == faults
    assert faults.deny_accounts == frozenset({"111111111111", "222222222222"})
