"""Caller scope in the sandbox: a member account sees its own bill, the management account the whole
organisation; member access can be disabled; a delegated administrator lists every account but still sees
only its own costs; billing views; Budgets of another account are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from botocore.exceptions import ClientError

from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.sandbox.conftest import member_session
from finops_sandbox.caller_scope import ORGANIZATION_VIEW, OrgAccess, ScopeError

MONTH = {"Start": "2026-10-01", "End": "2026-11-01"}


def _ledger_total(world: Any, account: str | None, start: str, end: str) -> Decimal:
    """The world's own unblended total for [start, end), of one account or of all."""
    ledger = world.ledger
    keep = pc.and_(
        pc.greater_equal(ledger["usage_date"], pa.scalar(dt.date.fromisoformat(start), pa.date32())),
        pc.less(ledger["usage_date"], pa.scalar(dt.date.fromisoformat(end), pa.date32())),
    )
    if account is not None:
        keep = pc.and_(keep, pc.equal(ledger["account_id"], account))
    total = pc.sum(ledger.filter(keep)["unblended_cost"]).as_py()
    return Decimal(total or 0)


def _total(ce: Any, **extra: Any) -> Decimal:
    answer = ce.get_cost_and_usage(
        TimePeriod=MONTH, Granularity="MONTHLY", Metrics=["UnblendedCost"], **extra
    )
    return sum(Decimal(p["Total"]["UnblendedCost"]["Amount"]) for p in answer["ResultsByTime"])


def _members(world: Any) -> list[str]:
    rows = world.accounts.to_pylist()
    return [
        r["account_id"]
        for r in rows
        if r["status"] == "ACTIVE" and r["account_id"] != world.management_account_id
    ]


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox_factory: Any):
    """Point boto3 at a view of the session sandbox with the given OrgAccess."""

    def apply(access: OrgAccess | None = None) -> Any:
        view = sandbox_factory(access=access)
        set_aws_env(monkeypatch, view.env(), tmp_path)
        return view

    return apply


def test_member_sees_its_own_costs_to_the_cent(sandbox: Any, on: Any) -> None:
    on()
    world = sandbox.world
    member = _members(world)[0]
    assert _total(boto3.client("ce")) == _ledger_total(world, None, MONTH["Start"], MONTH["End"])
    ce = member_session(member).client("ce")
    assert _total(ce) == _ledger_total(world, member, MONTH["Start"], MONTH["End"])
    assert _total(ce) > 0
    values = ce.get_dimension_values(TimePeriod=MONTH, Dimension="LINKED_ACCOUNT")["DimensionValues"]
    assert [v["Value"] for v in values] == [member]
    grouped = ce.get_cost_and_usage(
        TimePeriod=MONTH,
        Granularity="MONTHLY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
    )
    assert {g["Keys"][0] for p in grouped["ResultsByTime"] for g in p["Groups"]} == {member}
    # a filter on another account selects nothing: the member's view is intersected, not replaced
    other = _members(world)[1]
    assert _total(ce, Filter={"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [other]}}) == 0


def _anomaly_key(a: dict[str, Any]) -> tuple:
    return (
        a["AnomalyStartDate"],
        a["AnomalyEndDate"],
        a["RootCauses"][0]["UsageType"],
        a["Impact"]["TotalImpact"],
    )


def test_member_anomalies_monitors_and_recommendations_are_its_own(sandbox: Any, on: Any) -> None:
    on()
    world = sandbox.world
    today = world.data_end
    start = (today - dt.timedelta(days=89)).isoformat()
    management_ce = boto3.client("ce")
    org_monitors = management_ce.get_anomaly_monitors()["AnomalyMonitors"]
    services = next(m["MonitorArn"] for m in org_monitors if m.get("MonitorDimension") == "SERVICE")
    everything = management_ce.get_anomalies(DateInterval={"StartDate": start})["Anomalies"]
    found = 0
    for member in _members(world):
        ce = member_session(member).client("ce")
        monitors = ce.get_anomaly_monitors()["AnomalyMonitors"]
        # Its own services monitor only, in its own account: never the management account's monitors.
        assert [m["MonitorArn"].split(":")[4] for m in monitors] == [member]
        assert not {m["MonitorArn"] for m in monitors} & {m["MonitorArn"] for m in org_monitors}
        anomalies = ce.get_anomalies(DateInterval={"StartDate": start})["Anomalies"]
        assert {a["MonitorArn"] for a in anomalies} <= {monitors[0]["MonitorArn"]}
        # Exactly the anomalies the organisation's services monitor finds in this account's spend.
        rooted = [
            a
            for a in everything
            if a["MonitorArn"] == services and a["RootCauses"][0]["LinkedAccount"] == member
        ]
        assert sorted(map(_anomaly_key, anomalies)) == sorted(map(_anomaly_key, rooted))
        found += len(anomalies)
        with pytest.raises(ClientError) as unknown:
            ce.get_anomalies(DateInterval={"StartDate": start}, MonitorArn=services)
        assert unknown.value.response["Error"]["Code"] == "UnknownMonitorException"
        rightsizing = ce.get_rightsizing_recommendation(Service="AmazonEC2")["RightsizingRecommendations"]
        assert {r["AccountId"] for r in rightsizing} <= {member}
    assert found > 0


def test_member_access_disabled_is_access_denied(sandbox: Any, on: Any) -> None:
    on(OrgAccess(member_ce_access=False))
    member = _members(sandbox.world)[0]
    with pytest.raises(ClientError) as denied:
        _total(member_session(member).client("ce"))
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert sandbox.world.management_account_id in denied.value.response["Error"]["Message"]
    # the management account is not a member: it still reads the whole organisation
    world = sandbox.world
    assert _total(boto3.client("ce")) == _ledger_total(world, None, MONTH["Start"], MONTH["End"])


def test_delegated_administrator_lists_every_account_but_sees_only_its_costs(sandbox: Any, on: Any) -> None:
    world = sandbox.world
    admin, plain = _members(world)[:2]
    on(OrgAccess(delegated_admins=frozenset({admin})))
    session = member_session(admin)
    org = session.client("organizations")
    listed = [a["Id"] for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    assert sorted(listed) == sorted(world.accounts.column("account_id").to_pylist())
    assert org.describe_organization()["Organization"]["MasterAccountId"] == world.management_account_id
    assert _total(session.client("ce")) == _ledger_total(world, admin, MONTH["Start"], MONTH["End"])
    plain_org = member_session(plain).client("organizations")
    assert plain_org.describe_organization()["Organization"]["MasterAccountId"] == world.management_account_id
    with pytest.raises(ClientError) as denied:
        plain_org.list_accounts()
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_billing_views(sandbox: Any, on: Any) -> None:
    world = sandbox.world
    shared, other = _members(world)[:2]
    mgmt = world.management_account_id
    on(OrgAccess(billing_view_shared_with=frozenset({shared})))
    organisation = f"arn:aws:billing::{mgmt}:billingview/{ORGANIZATION_VIEW}"
    whole = _ledger_total(world, None, MONTH["Start"], MONTH["End"])
    assert _total(member_session(shared).client("ce"), BillingViewArn=organisation) == whole
    assert _total(boto3.client("ce"), BillingViewArn=f"arn:aws:billing::{mgmt}:billingview/primary") == whole
    own = f"arn:aws:billing::{other}:billingview/primary"
    ce_other = member_session(other).client("ce")
    assert _total(ce_other, BillingViewArn=own) == _ledger_total(world, other, MONTH["Start"], MONTH["End"])
    for arn in (organisation, f"arn:aws:billing::{mgmt}:billingview/primary"):
        with pytest.raises(ClientError) as denied:
            _total(ce_other, BillingViewArn=arn)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_budgets_of_another_account_are_refused(sandbox: Any, on: Any) -> None:
    on()
    member = _members(sandbox.world)[0]
    budgets = member_session(member).client("budgets")
    with pytest.raises(ClientError) as denied:
        budgets.describe_budgets(AccountId=sandbox.world.management_account_id)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    seeded = boto3.client("budgets").describe_budgets(AccountId=sandbox.world.management_account_id)
    assert len(seeded["Budgets"]) == sandbox.world.budgets.num_rows


def test_bad_scope_option() -> None:
    with pytest.raises(ScopeError, match="--delegated-admin 12: account ids are 12 digits"):
        OrgAccess(delegated_admins=frozenset({"12"}))


def test_cli_options_reach_a_background_sandbox(sandbox: Any, sandbox_factory: Any) -> None:
    admin = _members(sandbox.world)[0]
    access = OrgAccess(member_ce_access=False, delegated_admins=frozenset({admin}))
    background = sandbox_factory(page_size=1000, access=access)  # a subprocess: `finops sandbox ...`
    assert background.health()["org_access"] == {
        "member_ce_access": "disabled",
        "delegated_admins": [admin],
        "billing_view_shared_with": [],
    }
