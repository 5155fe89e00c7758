"""lib/commitments: the two ways of reading a window give the same rows, and the plan picks the cheaper.

Read against the session sandbox with boto3 (HTTP on loopback): per day (grouped, every account in one
request) and per account (filtered by LINKED_ACCOUNT) must agree to the millionth of a dollar, for every
account and day, on days that include a month's first (the RI fees' day) and its last.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow.compute as pc
import pytest

from finops_pipeline.lib import commitments as cm
from finops_pipeline_tests.conftest import set_aws_env

KEYS = ("usage_date", "account_id", "commitment_type")


def _keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    keyed = {tuple(r[k] for k in KEYS): r for r in rows}
    assert len(keyed) == len(rows)  # one row per account, type and day
    return keyed


def _close(a: dict[str, Any], b: dict[str, Any]) -> None:
    for name, value in a.items():
        if isinstance(value, Decimal):
            assert abs(value - b[name]) < Decimal("0.000005"), name
        elif isinstance(value, float):
            assert value == pytest.approx(b[name], abs=1e-6), name
        else:
            assert value == b[name], name


@pytest.fixture
def ce(sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    set_aws_env(monkeypatch, sandbox.env(), tmp_path)
    return boto3.client("ce", region_name="us-east-1")


# The last two days of October and the first of November (RI fees post on a month's first day).
START, END = dt.date(2026, 10, 30), dt.date(2026, 11, 2)


def test_per_day_and_per_account_utilization_agree(ce: Any) -> None:
    kinds = cm.owners(ce, START, END)
    per_account = []
    for account, owned in kinds.items():
        for kind in sorted(owned):
            if kind.startswith(cm.SP_PREFIX):
                per_account += cm.sp_utilization(ce, START, END, account, kind)
            else:
                per_account += cm.ri_utilization(ce, START, END, account, kind.removeprefix(cm.RI_PREFIX))
    per_day = [r for offset in range(3) for r in cm.day_utilization(ce, START + dt.timedelta(days=offset))]
    expected, got = _keyed(per_account), _keyed(per_day)
    assert set(got) == set(expected)
    assert {k[2] for k in got} == {cm.SP_PREFIX + "Compute", cm.RI_PREFIX + cm.RI_SERVICES[1]}
    assert len({k[1] for k in got}) >= 2  # several owners, so the per-account sums are really tested
    for key, row in expected.items():
        _close(row, got[key])
    assert sum(r["total_commitment"] for r in per_day) > Decimal(100)


def test_per_day_and_per_account_ri_coverage_agree(ce: Any, sandbox: Any) -> None:
    accounts = sorted(set(pc.unique(sandbox.world.ledger["account_id"]).to_pylist()))
    per_account = [
        r for a in accounts for service in cm.RI_SERVICES for r in cm.ri_coverage(ce, START, END, a, service)
    ]
    per_day = [r for offset in range(3) for r in cm.day_ri_coverage(ce, START + dt.timedelta(days=offset))]
    expected, got = _keyed(per_account), _keyed(per_day)
    assert set(got) == set(expected)
    assert len({k[1] for k in got}) >= 6
    for key, row in expected.items():
        _close(row, got[key])
    assert sum(r["on_demand_hours"] for r in per_day) > 100


@pytest.mark.parametrize(
    ("days", "accounts", "owned", "by_day", "requests", "per_account"),
    [
        (395, 12, 4, (False, False), 12 + 4 + 24, 12 + 4 + 24),  # a full history: per account
        (3, 100, 40, (True, True), 100 + 3 * 3 + 3 * 2, 100 + 40 + 200),  # a daily refresh at 100 accounts
        (3, 12, 4, (False, True), 12 + 4 + 3 * 2, 12 + 4 + 24),  # few owners: their utilization per account
        (2, 2500, 900, (True, True), 2500 + 2 * 3 + 2 * 2 * 3, 2500 + 900 + 5000),  # pages of 1,000 accounts
        (12, 12, 4, (False, False), 12 + 4 + 24, 12 + 4 + 24),  # a tie stays per account
    ],
)
def test_the_plan_takes_the_cheaper_way(
    days: int, accounts: int, owned: int, by_day: tuple[bool, bool], requests: int, per_account: int
) -> None:
    read = cm.plan(days, accounts, owned)
    assert (read.utilization_by_day, read.ri_coverage_by_day) == by_day
    assert (read.requests, read.requests_per_account) == (requests, per_account)


@pytest.mark.parametrize(
    ("by_account", "organization", "requests"),
    [
        (True, True, 1000 + 1 + 3 * 3 + 3 * 2),  # the weekly per-account read, and the organisation's figure
        (False, True, 1 + 3 * 3 + 3 * 2),  # the days between: the organisation's figure alone
    ],
)
def test_savings_plans_coverage_costs_one_request_per_account_or_one_in_all(
    by_account: bool, organization: bool, requests: int
) -> None:
    read = cm.plan(3, 1000, 400, by_account, organization)
    assert (read.sp_coverage_by_account, read.sp_coverage_organization) == (by_account, organization)
    assert (read.requests, read.requests_per_account) == (requests, 1000 + 400 + 2000)


def test_a_linked_account_group_is_read_whatever_the_key_spelling() -> None:
    assert cm._linked_account({"LINKED_ACCOUNT": "111122223333"}) == "111122223333"
    assert cm._linked_account({"linkedAccount": "111122223333"}) == "111122223333"
    with pytest.raises(Exception, match="without an account attribute"):
        cm._linked_account({"region": "us-east-1"})
