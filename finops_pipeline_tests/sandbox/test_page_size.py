"""Cost Explorer pages: AWS-like by default, small in the suite, so a client that never pages fails.

AWS documents no page size for GetCostAndUsage (API_GetCostAndUsage: a NextPageToken comes "when the
response from a previous call has more results than the maximum page size") and caps GetDimensionValues
at 1000 values per page (its MaxResults "has an upper limit of 1000"); the emulator's default is that 1000.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3

from finops_pipeline_tests.conftest import SESSION_CE_PAGE_SIZE
from finops_sandbox.cost_explorer.common import DEFAULT_PAGE_SIZE
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator


def _daily_by_account_and_service(ce: Any, start: dt.date, end: dt.date, token: str | None = None) -> dict:
    body: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }
    return ce.get_cost_and_usage(**body, **({"NextPageToken": token} if token else {}))


def test_default_page_size_is_the_documented_1000() -> None:
    assert DEFAULT_PAGE_SIZE == 1000
    assert CostExplorerEmulator.__init__.__kwdefaults__["page_size"] == DEFAULT_PAGE_SIZE


def test_one_page_of_the_suites_sandbox_is_not_the_whole_answer(
    aws_env: dict[str, str], sandbox: Any
) -> None:
    """A month of daily account × service groups: the first page alone misses dollars; all pages hold them."""
    ce = boto3.client("ce", region_name="us-east-1")
    end = sandbox.world.data_end
    start = end - dt.timedelta(days=30)
    first = _daily_by_account_and_service(ce, start, end)
    pages, token = [first], first.get("NextPageToken")
    while token:
        pages.append(_daily_by_account_and_service(ce, start, end, token))
        token = pages[-1].get("NextPageToken")
    groups = [len(r["Groups"]) for p in pages for r in p["ResultsByTime"]]
    assert max(sum(len(r["Groups"]) for r in p["ResultsByTime"]) for p in pages) == SESSION_CE_PAGE_SIZE
    assert len(pages) >= 3 and sum(groups) > SESSION_CE_PAGE_SIZE

    def total(selected: list[dict]) -> float:
        return sum(
            float(g["Metrics"]["UnblendedCost"]["Amount"])
            for p in selected
            for r in p["ResultsByTime"]
            for g in r["Groups"]
        )

    truth = sum(
        float(r["unblended_cost"])
        for r in sandbox.world.ledger.select(["usage_date", "unblended_cost"]).to_pylist()
        if start <= r["usage_date"] < end
    )
    assert abs(total(pages) - truth) < 0.01
    assert total([first]) < truth - 1  # a client that stops at page one is visibly wrong
