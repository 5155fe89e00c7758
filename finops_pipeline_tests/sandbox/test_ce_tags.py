"""Cost allocation tag activation in the Cost Explorer emulator: ListCostAllocationTags and `Key$` spend.

A world where CostCenter was never activated and Project was activated mid-history: CostCenter's spend
is all `CostCenter$`, Project's is `Project$` before its activation day and its real values after,
each to the cent of the world's ledger.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import boto3
import pytest

from finops_pipeline_tests.conftest import SANDBOX_AS_OF, sandbox_config
from finops_pipeline_tests.sandbox.ce_fixture import ok
from finops_pipeline_tests.sandbox.test_ce_world import fetch_all, truth
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.cost_explorer.tags import default_activation
from finops_sandbox.world import World, build_world

ACTIVATED = SANDBOX_AS_OF - dt.timedelta(days=40)
ZONED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(([+-]\d\d:\d\d)|Z)$")  # botocore's ZonedDateTime


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(
        sandbox_config(
            accounts=4,
            inactive_tag_keys=("CostCenter",),
            tag_activation_dates=(("Project", ACTIVATED),),
        )
    )


@pytest.fixture(scope="module")
def ce(world: World) -> CostExplorerEmulator:
    return CostExplorerEmulator(world, page_size=3)  # small pages: the paging loop must be right


def _all_tags(ce: CostExplorerEmulator, **body: object) -> list[dict]:
    tags, token = [], None
    while True:
        answer = ok(ce, "ListCostAllocationTags", {**body, **({"NextToken": token} if token else {})})
        tags += answer["CostAllocationTags"]
        token = answer.get("NextToken")
        if not token:
            return tags


def test_list_cost_allocation_tags_reports_status_type_and_dates(
    ce: CostExplorerEmulator, world: World
) -> None:
    tags = {t["TagKey"]: t for t in _all_tags(ce)}
    world_keys = set(world.workload_tags.column("key").to_pylist())
    assert set(tags) == world_keys | {"aws:createdBy"}
    assert tags["CostCenter"] == {
        "TagKey": "CostCenter",
        "Type": "UserDefined",
        "Status": "Inactive",
        "LastUsedDate": f"{(world.data_end - dt.timedelta(days=1)).replace(day=1).isoformat()}T00:00:00Z",
    }
    assert tags["Project"]["Status"] == "Active"
    assert tags["Project"]["LastUpdatedDate"] == f"{ACTIVATED.isoformat()}T00:00:00Z"
    since = default_activation(world.history_start)
    assert since < world.history_start
    assert tags["Environment"]["LastUpdatedDate"] == f"{since.isoformat()}T00:00:00Z"
    assert tags["aws:createdBy"] == {"TagKey": "aws:createdBy", "Type": "AWSGenerated", "Status": "Inactive"}
    for tag in tags.values():
        for field in ("LastUpdatedDate", "LastUsedDate"):
            assert field not in tag or ZONED.match(tag[field]), tag


def test_list_cost_allocation_tags_filters_and_pages(ce: CostExplorerEmulator) -> None:
    first = ok(ce, "ListCostAllocationTags", {"MaxResults": 2})
    assert len(first["CostAllocationTags"]) == 2 and first["NextToken"]
    inactive = _all_tags(ce, Status="Inactive")
    assert [t["TagKey"] for t in inactive] == ["CostCenter", "aws:createdBy"]
    assert [t["TagKey"] for t in _all_tags(ce, Type="AWSGenerated")] == ["aws:createdBy"]
    picked = _all_tags(ce, TagKeys=["Owner", "CostCenter", "NoSuchKey"], Type="UserDefined")
    assert [(t["TagKey"], t["Status"]) for t in picked] == [("CostCenter", "Inactive"), ("Owner", "Active")]
    status, answer = ce.handle("ListCostAllocationTags", {"NextToken": "bm90LWEtdG9rZW4"})
    assert (status, answer["__type"]) == (400, "InvalidNextTokenException")
    status, answer = ce.handle("ListCostAllocationTags", {"Status": "Enabled"})
    assert (status, answer["__type"]) == (400, "ValidationException")


def _request(key: str, start: dt.date, end: dt.date, **extra: object) -> dict:
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": key}],
        **extra,
    }


def _ledger_total(world: World, start: dt.date, end: dt.date) -> Decimal:
    return sum(
        (r["amount"] for r in world.truth_totals("DAILY").to_pylist() if start <= r["period_start"] < end),
        Decimal(0),
    )


def test_an_inactive_key_puts_all_its_spend_in_key_dollar(ce: CostExplorerEmulator, world: World) -> None:
    start, end = world.history_start, world.data_end
    answer = fetch_all(ce, _request("CostCenter", start, end))
    assert {keys[-1] for keys in answer} == {"CostCenter$"}
    assert sum(answer.values()) == _ledger_total(world, start, end)
    # A filter on a value finds nothing; a filter on "no value" finds everything.
    only = {"Tags": {"Key": "CostCenter", "Values": [""]}}
    body = {**_request("CostCenter", start, end), "GroupBy": [], "Filter": only, "Granularity": "MONTHLY"}
    assert sum(fetch_all(ce, body).values()) == _ledger_total(world, start, end)
    valued = {"Tags": {"Key": "CostCenter", "Values": ["CC-4001"], "MatchOptions": ["STARTS_WITH"]}}
    assert sum(fetch_all(ce, {**body, "Filter": valued}).values()) == 0
    assert ok(ce, "GetTags", {"TimePeriod": body["TimePeriod"], "TagKey": "CostCenter"})["Tags"] == []


def test_a_key_shows_only_from_its_activation_day(ce: CostExplorerEmulator, world: World) -> None:
    start, end = world.history_start, world.data_end
    answer = fetch_all(ce, _request("Project", start, end))
    before = {k: v for k, v in answer.items() if k[0] < ACTIVATED}
    after = {k: v for k, v in answer.items() if k[0] >= ACTIVATED}
    assert {k[-1] for k in before} == {"Project$"}
    assert sum(before.values()) == _ledger_total(world, start, ACTIVATED)
    expected = {
        k: v
        for k, v in truth(world, "DAILY", ["LINKED_ACCOUNT", "TAG:Project"], "UnblendedCost").items()
        if k[0] >= ACTIVATED
    }
    assert after == expected
    assert len({k[-1] for k in after}) > 2  # real values after activation
    # Monthly: the activation month splits at the activation day.
    month = ACTIVATED.replace(day=1)
    monthly = fetch_all(ce, {**_request("Project", month, end), "Granularity": "MONTHLY"})
    untagged_in_month = sum(v for k, v in monthly.items() if k[0] == month and k[-1] == "Project$")
    assert untagged_in_month >= _ledger_total(world, month, ACTIVATED)


@pytest.mark.usefixtures("aws_env")
def test_the_default_world_keeps_every_key_active(sandbox: Any) -> None:
    """Through boto3 on the session sandbox: the demo's keys are all active since before its history."""
    answer = boto3.client("ce").list_cost_allocation_tags(Type="UserDefined", MaxResults=100)
    tags = {t["TagKey"]: t for t in answer["CostAllocationTags"]}
    for key in ("Environment", "Owner", "Project", "CostCenter"):
        assert tags[key]["Status"] == "Active"
        assert tags[key]["LastUpdatedDate"] < sandbox.world.history_start.isoformat()


def _backfill_error(em: CostExplorerEmulator, body: dict) -> tuple[str, str]:
    status, answer = em.handle("StartCostAllocationTagBackfill", body)
    assert status == 400, answer
    return answer["__type"], answer["Message"]


def test_a_backfill_applies_the_current_activation_from_its_start_month(world: World) -> None:
    em = CostExplorerEmulator(world, page_size=3)  # its own: a backfill changes the emulator's answers
    assert ok(em, "ListCostAllocationTagBackfillHistory", {})["BackfillRequests"] == []
    start, end = world.history_start, world.data_end
    backfill_from = (ACTIVATED.replace(day=1) - dt.timedelta(days=40)).replace(day=1)
    assert _backfill_error(em, {"BackfillFrom": f"{backfill_from.replace(day=2)}T00:00:00Z"})[0] == (
        "ValidationException"
    )  # a month's 1st only
    assert _backfill_error(em, {"BackfillFrom": f"{start.isoformat()}T00:00:00Z"})[0] == (
        "ValidationException"
    )  # 13 months back: older than the previous twelve
    request = ok(em, "StartCostAllocationTagBackfill", {"BackfillFrom": f"{backfill_from}T00:00:00Z"})
    assert request["BackfillRequest"]["BackfillStatus"] == "SUCCEEDED"
    assert ok(em, "ListCostAllocationTagBackfillHistory", {})["BackfillRequests"] == [
        request["BackfillRequest"]
    ]
    # Project (active when the backfill was requested) now shows its values from the backfill's month.
    answer = fetch_all(em, _request("Project", start, end))
    assert {k[-1] for k in answer if k[0] < backfill_from} == {"Project$"}
    expected = {
        k: v
        for k, v in truth(world, "DAILY", ["LINKED_ACCOUNT", "TAG:Project"], "UnblendedCost").items()
        if k[0] >= backfill_from
    }
    assert {k: v for k, v in answer.items() if k[0] >= backfill_from} == expected
    # CostCenter was never activated: a backfill re-applies "inactive", all its spend stays Key$.
    assert {keys[-1] for keys in fetch_all(em, _request("CostCenter", start, end))} == {"CostCenter$"}
    kind, message = _backfill_error(em, {"BackfillFrom": f"{backfill_from}T00:00:00Z"})
    assert kind == "BackfillLimitExceededException" and "24 hours" in message


def test_a_backfill_of_the_world_is_in_its_history(world: World) -> None:
    backfill_from = (ACTIVATED.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    config = dataclasses.replace(
        world.config, tag_backfills=((backfill_from, ACTIVATED + dt.timedelta(days=1)),)
    )
    em = CostExplorerEmulator(dataclasses.replace(world, config=config))
    (request,) = ok(em, "ListCostAllocationTagBackfillHistory", {})["BackfillRequests"]
    assert (
        request["BackfillFrom"] == f"{backfill_from}T00:00:00Z" and request["BackfillStatus"] == "SUCCEEDED"
    )
    assert em.tag_activation.active_from("Project") == backfill_from
    assert em.tag_activation.active_from("CostCenter") is None
