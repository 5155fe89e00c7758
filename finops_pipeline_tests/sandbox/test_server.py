"""The sandbox end to end: boto3 configured only by AWS_ENDPOINT_URL and dummy keys sees the world."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import urllib.request
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
import pyarrow.compute as pc
import pytest
from botocore.exceptions import ClientError

from finops_pipeline_tests.conftest import SANDBOX_ACCOUNTS, SANDBOX_AS_OF
from finops_pipeline_tests.sandbox.conftest import member_session
from finops_sandbox.faults import Faults
from finops_sandbox.moto_seed import SES_SENDER, get_resources_body
from finops_sandbox.moto_seed import fixes as moto_fixes
from finops_sandbox.server import Sandbox

pytestmark = pytest.mark.usefixtures("aws_env")


def _rows(table: Any, **equal: str) -> list[dict[str, Any]]:
    mask = None
    for column, value in equal.items():
        hit = pc.equal(table[column], value)
        mask = hit if mask is None else pc.and_(mask, hit)
    return (table if mask is None else table.filter(mask)).to_pylist()


def _busiest_active_member(sandbox: Sandbox) -> str:
    """The ACTIVE member account with the most tagged resources: the strongest isolation test."""
    world = sandbox.world
    active = {r["account_id"] for r in _rows(world.accounts, status="ACTIVE")} - {world.management_account_id}
    counts = Counter(r["account_id"] for r in world.resources.to_pylist() if r["tags"] != "{}")
    return max(sorted(active), key=lambda account: counts[account])


def test_health_describes_the_world(sandbox: Sandbox) -> None:
    with urllib.request.urlopen(f"{sandbox.url}/sandbox/health") as answer:
        health = json.load(answer)
    assert health["status"] == "ok"
    assert health["url"] == sandbox.url
    assert health["as_of"] == SANDBOX_AS_OF.isoformat()
    assert health["config"]["accounts"] == SANDBOX_ACCOUNTS
    assert health["accounts"] == sandbox.world.accounts.column("account_id").to_pylist()
    assert sum(health["resources"].values()) == sandbox.world.resources.num_rows


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def test_sequential_requests_share_one_connection(sandbox: Sandbox) -> None:
    with sandbox.view(Faults()) as view:
        connection = _connect(view.url)
        local_ports = []
        for body in (None, b"unread" * 1000, None):  # the health route never reads a body
            connection.request("POST" if body else "GET", "/sandbox/health", body=body)
            answer = connection.getresponse()
            assert (answer.status, json.load(answer)["status"]) == (200, "ok")
            assert answer.getheader("Connection") is None
            assert connection.sock is not None  # http.client drops a socket the server closes
            local_ports.append(connection.sock.getsockname()[1])
        connection.close()
    assert len(set(local_ports)) == 1


def test_a_client_leaving_mid_body_is_let_go_quietly(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with sandbox.view(Faults()) as view:
        host, port = view.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(b"POST /sandbox/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nshort")
            client.shutdown(socket.SHUT_WR)
            assert client.recv(1) == b""  # closed without an answer
    assert "Traceback" not in capsys.readouterr().err
    with urllib.request.urlopen(f"{sandbox.url}/sandbox/health") as answer:  # the server serves on
        assert json.load(answer)["status"] == "ok"


def test_stopping_an_endpoint_closes_its_idle_connections(sandbox: Sandbox) -> None:
    view = sandbox.view(Faults())
    connection = _connect(view.url)
    connection.request("GET", "/sandbox/health")
    assert json.load(connection.getresponse())["status"] == "ok"
    assert connection.sock is not None
    view.stop()
    assert connection.sock.recv(1) == b""  # closed by the server, not left to answer for a stopped view
    connection.close()


def test_env_is_exactly_what_a_client_needs(sandbox: Sandbox) -> None:
    assert sandbox.env() == {
        "AWS_ENDPOINT_URL": sandbox.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    assert sandbox.url.startswith("http://127.0.0.1:")


def test_list_accounts_paginated_at_20_matches_the_world(sandbox: Sandbox) -> None:
    org = boto3.client("organizations")
    pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 20}))
    accounts = [account for page in pages for account in page["Accounts"]]
    assert all(len(page["Accounts"]) <= 20 for page in pages)
    assert len(accounts) == SANDBOX_ACCOUNTS + 1 == sandbox.world.accounts.num_rows
    small_pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 5}))
    assert [len(page["Accounts"]) for page in small_pages] == [5, 5, 3]
    assert [a["Id"] for page in small_pages for a in page["Accounts"]] == [a["Id"] for a in accounts]

    by_id = {row["account_id"]: row for row in sandbox.world.accounts.to_pylist()}
    assert {a["Id"] for a in accounts} == set(by_id)
    for account in accounts:
        row = by_id[account["Id"]]
        assert (account["Name"], account["Email"], account["Status"]) == (
            row["account_name"],
            row["email"],
            row["status"],
        )
        assert account["JoinedTimestamp"].astimezone(dt.UTC) == row["joined_at"].astimezone(dt.UTC)
    assert Counter(a["Status"] for a in accounts) == {"ACTIVE": SANDBOX_ACCOUNTS, "SUSPENDED": 1}


def test_organization_tree_and_account_tags_match_the_world(sandbox: Sandbox) -> None:
    org = boto3.client("organizations")
    world = sandbox.world
    assert org.describe_organization()["Organization"]["MasterAccountId"] == world.management_account_id
    root_id = org.list_roots()["Roots"][0]["Id"]
    ous = org.list_organizational_units_for_parent(ParentId=root_id)["OrganizationalUnits"]
    assert sorted(ou["Name"] for ou in ous) == sorted(world.ous.column("name").to_pylist())
    ou_name = {ou["Id"]: ou["Name"] for ou in ous}
    for row in world.accounts.to_pylist():
        parent = org.list_parents(ChildId=row["account_id"])["Parents"]
        expected = ("ROOT", root_id) if row["ou_name"] is None else ("ORGANIZATIONAL_UNIT", row["ou_name"])
        assert (parent[0]["Type"], ou_name.get(parent[0]["Id"], parent[0]["Id"])) == expected
        tags = org.list_tags_for_resource(ResourceId=row["account_id"])["Tags"]
        assert {t["Key"]: t["Value"] for t in tags} == json.loads(row["tags"])


def test_member_role_sees_only_its_own_tagged_resources_per_region(sandbox: Sandbox) -> None:
    world = sandbox.world
    account = _busiest_active_member(sandbox)
    session = member_session(account)
    assert session.client("sts").get_caller_identity()["Account"] == account
    others = {a for a in world.accounts.column("account_id").to_pylist() if a != account}
    for region in world.config.regions:
        tagging = session.client("resourcegroupstaggingapi", region_name=region)
        pages = tagging.get_paginator("get_resources").paginate(ResourcesPerPage=50)
        seen = [m for page in pages for m in page["ResourceTagMappingList"]]
        rows = _rows(world.resources, account_id=account, region=region)
        tagged = {r["arn"]: json.loads(r["tags"]) for r in rows if r["tags"] != "{}"}
        never_tagged = {r["arn"] for r in rows if r["never_tagged"]}
        assert sorted(m["ResourceARN"] for m in seen) == sorted(tagged)
        assert {m["ResourceARN"]: {t["Key"]: t["Value"] for t in m["Tags"]} for m in seen} == tagged
        assert never_tagged.isdisjoint(m["ResourceARN"] for m in seen)
        assert not any(other in m["ResourceARN"] for m in seen for other in others)


def _moto_serialized(result: dict[str, Any]) -> dict[str, Any]:
    from moto.core.serialize import JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    operation = get_service_model("resourcegroupstaggingapi").operation_model("GetResources")
    return JSONSerializer(operation, value_picker=XFormedAttributePicker()).serialize(result)


def test_get_resources_body_is_byte_for_byte_what_moto_serializes(sandbox: Sandbox) -> None:
    tagged = {"Key": "Owner", "Value": '=HYPERLINK("http://evil.example") für'}
    results = [
        {"ResourceTagMappingList": [], "PaginationToken": None},
        {
            "ResourceTagMappingList": [
                {"ResourceARN": "arn:aws:s3:::bucket", "Tags": []},
                {"ResourceARN": "arn:aws:ec2:us-east-1:111122223333:instance/i-1", "Tags": [tagged]},
            ],
            "PaginationToken": "a-token",
        },
    ]
    for result in results:
        assert get_resources_body(result) == _moto_serialized(result)["body"]


def test_get_resources_over_http_answers_as_moto_would(sandbox: Sandbox) -> None:
    tagging = member_session(_busiest_active_member(sandbox)).client("resourcegroupstaggingapi")
    answers: list[Any] = []
    tagging.meta.events.register(
        "after-call.*.GetResources", lambda http_response, **_: answers.append(http_response)
    )
    pages = list(tagging.get_paginator("get_resources").paginate(ResourcesPerPage=3))
    assert len(pages) == len(answers) > 1
    for answer in answers:
        body = answer.content.decode()
        expected = _moto_serialized(json.loads(body))
        assert (answer.status_code, body) == (expected["status_code"], expected["body"])
        assert answer.headers["Content-Type"] == expected["headers"]["Content-Type"]


def test_moto_lookups_kept_or_rewritten_for_speed_answer_as_moto_does(sandbox: Sandbox) -> None:
    from moto import backends
    from moto.core import responses
    from moto.iam.models import get_account_id_from
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse
    from moto.sts.responses import TokenResponse

    member = _busiest_active_member(sandbox)
    member_key = member_session(member).get_credentials().access_key
    assert get_account_id_from(member_key) == member
    assert get_account_id_from("AKIAUNKNOWN") == "123456789012"  # moto's default account
    moto_lookup = moto_fixes._originals["account_of_key"]
    for key in (member_key, "testing", "AKIAUNKNOWN"):
        assert get_account_id_from(key) == moto_lookup(key)
    assert list(backends.list_of_moto_modules()) == list(moto_fixes._originals["modules"]())
    for response_class in (ResourceGroupsTaggingAPIResponse, TokenResponse):
        methods = responses.method_names_from_class(response_class)
        assert methods == moto_fixes._originals["method_names"](response_class)
        assert {"get_resources", "assume_role"} & set(methods)


def test_ec2_inventory_states_match_the_world(sandbox: Sandbox) -> None:
    world = sandbox.world
    account = _busiest_active_member(sandbox)
    session = member_session(account)
    for region in world.config.regions:
        ec2 = session.client("ec2", region_name=region)
        rows = _rows(world.resources, account_id=account, region=region)
        ids = {r["resource_key"]: r["resource_id"] for r in rows}
        instances = {
            i["InstanceId"]: i["State"]["Name"]
            for reservation in ec2.describe_instances()["Reservations"]
            for i in reservation["Instances"]
        }
        assert instances == {
            r["resource_id"]: r["state"] for r in rows if r["resource_type"] == "ec2:instance"
        }
        volumes = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
        world_volumes = [r for r in rows if r["resource_type"] == "ec2:volume"]
        assert {v: volumes[v]["State"] for v in volumes} == {
            r["resource_id"]: r["state"] for r in world_volumes
        }
        for row in world_volumes:
            attached = [a["InstanceId"] for a in volumes[row["resource_id"]]["Attachments"]]
            assert attached == ([ids[row["attached_to"]]] if row["state"] == "in-use" else [])
            assert volumes[row["resource_id"]]["Size"] == int(row["size_gb"])
        # moto answers InstanceId "" for an unassociated address where AWS omits it
        addresses = {
            a["AllocationId"]: a.get("InstanceId") or None for a in ec2.describe_addresses()["Addresses"]
        }
        assert addresses == {
            r["resource_id"]: ids.get(r["attached_to"]) if r["state"] == "associated" else None
            for r in rows
            if r["resource_type"] == "ec2:elastic-ip"
        }
        snapshots = {
            s["SnapshotId"]: s["StartTime"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        }
        assert snapshots == {
            r["resource_id"]: r["created_at"].astimezone(dt.UTC)
            for r in rows
            if r["resource_type"] == "ec2:snapshot"
        }


def test_stopped_instances_say_when_they_stopped_as_aws_does(sandbox: Sandbox) -> None:
    """StateTransitionReason "User initiated (YYYY-MM-DD HH:MM:SS GMT)" with the world's stop time."""
    rows = [r for r in sandbox.world.resources.to_pylist() if r["stopped_at"] is not None]
    row = rows[0]
    ec2 = member_session(row["account_id"]).client("ec2", region_name=row["region"])
    (reservation,) = ec2.describe_instances(InstanceIds=[row["resource_id"]])["Reservations"]
    (instance,) = reservation["Instances"]
    when = row["stopped_at"].astimezone(dt.UTC)
    assert instance["State"]["Name"] == "stopped"
    assert instance["StateTransitionReason"] == f"User initiated ({when:%Y-%m-%d %H:%M:%S} GMT)"


def test_describe_regions_answers_as_for_a_commercial_account(sandbox: Sandbox) -> None:
    """Only the aws partition; opt-in regions not-opted-in, and listed only with AllRegions=True."""
    ec2 = member_session(_busiest_active_member(sandbox)).client("ec2", region_name="us-east-1")
    enabled = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions()["Regions"]}
    every = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    assert not any(name.startswith(("cn-", "us-gov-", "us-iso")) for name in every)
    assert set(enabled) < set(every)
    assert set(enabled.values()) == {"opt-in-not-required"}
    assert {n for n, status in every.items() if status == "not-opted-in"} == set(every) - set(enabled)
    assert every["af-south-1"] == every["eu-south-1"] == "not-opted-in"
    assert {"us-east-1", "us-west-2", "eu-west-1"} <= set(enabled)
    named = ec2.describe_regions(RegionNames=["eu-south-1", "us-west-2"], AllRegions=True)["Regions"]
    assert [(r["RegionName"], r["OptInStatus"]) for r in named] == [
        ("eu-south-1", "not-opted-in"),
        ("us-west-2", "opt-in-not-required"),
    ]


def test_assuming_a_role_in_a_suspended_account_is_denied(sandbox: Sandbox) -> None:
    (suspended,) = _rows(sandbox.world.accounts, status="SUSPENDED")
    with pytest.raises(ClientError) as caught:
        member_session(suspended["account_id"])
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_ses_mail_can_be_read_back_from_moto_api(sandbox: Sandbox) -> None:
    subject = "FinOps weekly digest 2026-W48"
    sent = boto3.client("ses").send_email(
        Source=SES_SENDER,
        Destination={"ToAddresses": ["cto@example.org"]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "Spend is up 4.2 %"}}},
    )
    with urllib.request.urlopen(f"{sandbox.url}/moto-api/data.json") as answer:
        messages = json.load(answer)["ses"]["Message"]
    (mail,) = [m for m in messages if m["id"] == sent["MessageId"]]
    assert (mail["subject"], mail["body"], mail["source"]) == (subject, "Spend is up 4.2 %", SES_SENDER)
    assert mail["destinations"]["ToAddresses"] == ["cto@example.org"]


def test_cost_explorer_total_matches_the_world_to_the_cent(sandbox: Sandbox) -> None:
    world = sandbox.world
    ce = boto3.client("ce")
    request = {
        "TimePeriod": {"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
    }
    total, pages = Decimal(0), 0
    while True:
        answer = ce.get_cost_and_usage(**request)
        pages += 1
        total += sum(Decimal(r["Total"]["UnblendedCost"]["Amount"]) for r in answer["ResultsByTime"])
        if not answer.get("NextPageToken"):
            break
        request["NextPageToken"] = answer["NextPageToken"]
    truth = pc.sum(world.ledger["unblended_cost"]).as_py()
    assert total.quantize(Decimal("0.01")) == truth.quantize(Decimal("0.01"))
    assert pages == 1


def test_budgets_are_in_the_management_account_per_linked_account(sandbox: Sandbox) -> None:
    world = sandbox.world
    budgets = boto3.client("budgets").describe_budgets(AccountId=world.management_account_id)["Budgets"]
    assert {
        b["BudgetName"]: (b["CostFilters"]["LinkedAccount"], Decimal(b["BudgetLimit"]["Amount"]))
        for b in budgets
    } == {r["budget_name"]: ([r["account_id"]], Decimal(r["limit_usd"])) for r in world.budgets.to_pylist()}


def test_a_second_sandbox_in_the_same_process_is_refused(sandbox: Sandbox) -> None:
    from finops_sandbox.server import SandboxError

    with pytest.raises(SandboxError, match="already running"):
        Sandbox(sandbox.world.config).start()
