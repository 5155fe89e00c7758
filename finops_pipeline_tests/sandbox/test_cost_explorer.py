"""Cost Explorer emulator: GetCostAndUsage, GetDimensionValues, GetTags against a hand-built world."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from finops_pipeline_tests.sandbox.ce_fixture import (
    DEV,
    EC2,
    MGMT,
    PROD,
    RDS,
    S3,
    FixtureWorld,
    error,
    ok,
)
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

METRICS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
    "BlendedCost": "blended_cost",
    "UsageQuantity": "usage_quantity",
}
TAGS = {
    "wl-web": {"Environment": "prod", "Owner": "alice"},
    "wl-data": {"Environment": "prod"},
    "wl-dev": {"Environment": "dev", "Owner": "bob"},
}
DIM = {
    "SERVICE": "service",
    "LINKED_ACCOUNT": "account_id",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RECORD_TYPE": "record_type",
}


def cau(
    start: str, end: str, granularity: str = "MONTHLY", metrics: list[str] | None = None, **extra: Any
) -> dict:
    return {
        "TimePeriod": {"Start": start, "End": end},
        "Granularity": granularity,
        "Metrics": metrics or ["UnblendedCost"],
        **extra,
    }


def amount(result: dict, metric: str = "UnblendedCost") -> Decimal:
    return Decimal(result["Total"][metric]["Amount"])


def reference(
    world: FixtureWorld,
    start: dt.date,
    end: dt.date,
    column: str,
    keep: Callable[[dict], bool] = lambda r: True,
    key: Callable[[dict], Any] = lambda r: (),
) -> dict:
    """Ground truth straight from the fixture's rows."""
    sums: dict[Any, Decimal] = defaultdict(Decimal)
    for row in world.rows:
        if start <= row["usage_date"] < end and keep(row):
            sums[key(row)] += row[column]
    return dict(sums)


def all_groups(answer: dict, metric: str = "UnblendedCost") -> dict[tuple, Decimal]:
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    for result in answer["ResultsByTime"]:
        for group in result["Groups"]:
            sums[tuple(group["Keys"])] += Decimal(group["Metrics"][metric]["Amount"])
    return dict(sums)


def tag(row: dict, key: str) -> str | None:
    return TAGS.get(row["workload_id"] or "", {}).get(key)


# ---------------------------------------------------------------- totals and metrics
def test_monthly_total_is_known_to_the_cent(ce: CostExplorerEmulator) -> None:
    answer = ok(
        ce,
        "GetCostAndUsage",
        cau("2025-02-01", "2025-03-01", metrics=["UnblendedCost", "AmortizedCost", "UsageQuantity"]),
    )
    [result] = answer["ResultsByTime"]
    # 28 days x 8.892167 + 10.5 tax - 5 credit + 3 x 19.2 spike
    assert result["Total"]["UnblendedCost"] == {"Amount": "312.080676", "Unit": "USD"}
    assert result["Total"]["AmortizedCost"] == {"Amount": "303.680676", "Unit": "USD"}
    assert result["Total"]["UsageQuantity"] == {
        "Amount": str(28 * (24 + 30 + 10 + 24 + 24) + 600),
        "Unit": "N/A",
    }
    assert result["Groups"] == [] and result["Estimated"] is False
    assert answer["DimensionValueAttributes"] == [] and "GroupDefinitions" not in answer


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize(
    "group_by",
    [
        ["SERVICE"],
        ["LINKED_ACCOUNT", "REGION"],
        ["USAGE_TYPE", "RECORD_TYPE"],
        ["LINKED_ACCOUNT", "SERVICE"],
        ["SERVICE", "LINKED_ACCOUNT"],
        ["TAG:Environment"],
        ["SERVICE", "TAG:Owner"],
    ],
)
def test_groups_daily_and_monthly_reconcile_with_truth(
    ce: CostExplorerEmulator, world: FixtureWorld, metric: str, group_by: list[str]
) -> None:
    start, end = dt.date(2024, 11, 15), dt.date(2025, 3, 10)
    definitions = [
        {"Type": "TAG", "Key": g[4:]} if g.startswith("TAG:") else {"Type": "DIMENSION", "Key": g}
        for g in group_by
    ]
    monthly = ok(ce, "GetCostAndUsage", cau(start.isoformat(), end.isoformat(), "MONTHLY", [metric]))
    daily = ok(ce, "GetCostAndUsage", cau(start.isoformat(), end.isoformat(), "DAILY", [metric]))
    grouped = ok(
        ce, "GetCostAndUsage", cau(start.isoformat(), end.isoformat(), "DAILY", [metric], GroupBy=definitions)
    )
    truth = reference(world, start, end, METRICS[metric])[()]
    assert sum(amount(r, metric) for r in monthly["ResultsByTime"]) == truth
    assert sum(amount(r, metric) for r in daily["ResultsByTime"]) == truth
    assert sum(all_groups(grouped, metric).values()) == truth
    assert [r["TimePeriod"]["Start"] for r in monthly["ResultsByTime"]] == [
        "2024-11-15",
        "2024-12-01",
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
    ]
    assert len(daily["ResultsByTime"]) == (end - start).days
    for result in grouped["ResultsByTime"]:
        assert result["Total"] == {}
        assert [g["Keys"] for g in result["Groups"]] == sorted(g["Keys"] for g in result["Groups"])

    def key(row: dict) -> tuple:
        return tuple(
            f"{g[4:]}${tag(row, g[4:]) or ''}" if g.startswith("TAG:") else row[DIM[g]] for g in group_by
        )

    expected = reference(world, start, end, METRICS[metric], key=key)
    assert all_groups(grouped, metric) == expected


def test_tag_groups_use_key_dollar_for_untagged_spend(ce: CostExplorerEmulator) -> None:
    answer = ok(
        ce, "GetCostAndUsage", cau("2025-02-01", "2025-03-01", GroupBy=[{"Type": "TAG", "Key": "Owner"}])
    )
    groups = all_groups(answer)
    # untagged: S3 (wl-data has no Owner) + credit + tax; alice: wl-web; bob: wl-dev
    assert groups == {
        ("Owner$",): Decimal("1.234567") * 28 - 5 + Decimal("10.5"),
        ("Owner$alice",): Decimal("3.304") * 28 + Decimal("57.6"),
        ("Owner$bob",): Decimal("4.3536") * 28,
    }
    assert answer["GroupDefinitions"] == [{"Type": "TAG", "Key": "Owner"}]


def test_linked_account_groups_carry_account_names(ce: CostExplorerEmulator) -> None:
    answer = ok(
        ce,
        "GetCostAndUsage",
        cau("2025-02-01", "2025-03-01", GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]),
    )
    assert answer["DimensionValueAttributes"] == [
        {"Value": PROD, "Attributes": {"description": "Prod One"}},
        {"Value": MGMT, "Attributes": {"description": "Management"}},
        {"Value": DEV, "Attributes": {"description": "Dev Two"}},
    ]
    assert all_groups(answer)[(MGMT,)] == Decimal("10.5")


def test_estimated_flags_follow_the_bill_not_the_restatement_window(ce: CostExplorerEmulator) -> None:
    """On the 10th last month's bill is final: February is not estimated, every day of March is."""
    daily = ok(ce, "GetCostAndUsage", cau("2025-02-26", "2025-03-12", "DAILY"))
    flags = {r["TimePeriod"]["Start"]: r["Estimated"] for r in daily["ResultsByTime"]}
    assert flags == {
        **{f"2025-02-{d}": False for d in (26, 27, 28)},
        **{f"2025-03-{d:02d}": True for d in range(1, 12)},
    }
    # days after as_of exist as periods with zero spend
    assert amount(daily["ResultsByTime"][-1]) == 0
    monthly = ok(ce, "GetCostAndUsage", cau("2025-01-01", "2025-04-01"))
    assert [r["Estimated"] for r in monthly["ResultsByTime"]] == [False, False, True]


# ---------------------------------------------------------------- filters
FILTERS: list[tuple[str, dict, Callable[[dict], bool]]] = [
    (
        "dimension",
        {"Dimensions": {"Key": "SERVICE", "Values": [EC2, RDS]}},
        lambda r: r["service"] in (EC2, RDS),
    ),
    (
        "dimension-case",
        {
            "Dimensions": {
                "Key": "REGION",
                "Values": ["US-WEST-2"],
                "MatchOptions": ["EQUALS", "CASE_INSENSITIVE"],
            }
        },
        lambda r: r["region"] == "us-west-2",
    ),
    (
        "starts-with",
        {"Dimensions": {"Key": "USAGE_TYPE", "Values": ["USE1-"], "MatchOptions": ["STARTS_WITH"]}},
        lambda r: r["usage_type"].startswith("USE1-"),
    ),
    ("tag", {"Tags": {"Key": "Environment", "Values": ["prod"]}}, lambda r: tag(r, "Environment") == "prod"),
    ("tag-absent", {"Tags": {"Key": "Owner", "MatchOptions": ["ABSENT"]}}, lambda r: tag(r, "Owner") is None),
    (
        "tag-empty-value",
        {"Tags": {"Key": "Owner", "Values": ["", "bob"]}},
        lambda r: tag(r, "Owner") in (None, "bob"),
    ),
    (
        "and",
        {
            "And": [
                {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [PROD]}},
                {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}},
            ]
        },
        lambda r: r["account_id"] == PROD and r["record_type"] == "Usage",
    ),
    (
        "or",
        {
            "Or": [
                {"Dimensions": {"Key": "SERVICE", "Values": [S3]}},
                {"Tags": {"Key": "Owner", "Values": ["bob"]}},
            ]
        },
        lambda r: r["service"] == S3 or tag(r, "Owner") == "bob",
    ),
    (
        "not",
        {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Tax"]}}},
        lambda r: r["record_type"] not in ("Credit", "Tax"),
    ),
    (
        "nested",
        {
            "And": [
                {"Not": {"Tags": {"Key": "Environment", "MatchOptions": ["ABSENT"]}}},
                {
                    "Or": [
                        {"Dimensions": {"Key": "SERVICE", "Values": [EC2]}},
                        {"Dimensions": {"Key": "SERVICE", "Values": [S3]}},
                    ]
                },
            ]
        },
        lambda r: tag(r, "Environment") is not None and r["service"] in (EC2, S3),
    ),
]


@pytest.mark.parametrize(("name", "expression", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_match_reference(
    ce: CostExplorerEmulator, world: FixtureWorld, name: str, expression: dict, keep: Callable[[dict], bool]
) -> None:
    start, end = dt.date(2025, 1, 1), dt.date(2025, 3, 10)
    answer = ok(
        ce,
        "GetCostAndUsage",
        cau(
            start.isoformat(),
            end.isoformat(),
            Filter=expression,
            GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
        ),
    )
    expected = reference(world, start, end, "unblended_cost", keep, key=lambda r: (r["service"],))
    assert all_groups(answer) == expected
    assert expected  # every filter selects something


def test_filter_values_are_bound_not_interpolated(ce: CostExplorerEmulator) -> None:
    hostile = "x') OR TRUE OR ('"
    answer = ok(
        ce,
        "GetCostAndUsage",
        cau("2025-02-01", "2025-03-01", Filter={"Dimensions": {"Key": "SERVICE", "Values": [hostile]}}),
    )
    assert amount(answer["ResultsByTime"][0]) == 0


# ---------------------------------------------------------------- pagination
def test_pages_concatenate_to_the_single_page_answer(world: FixtureWorld, ce: CostExplorerEmulator) -> None:
    small = CostExplorerEmulator(world, page_size=7)
    body = cau(
        "2025-01-25",
        "2025-02-05",
        "DAILY",
        ["UnblendedCost", "AmortizedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}],
    )
    whole = ok(ce, "GetCostAndUsage", body)
    assert "NextPageToken" not in whole
    pages, token = [], None
    while True:
        page = ok(small, "GetCostAndUsage", body | ({"NextPageToken": token} if token else {}))
        pages.append(page)
        assert sum(len(r["Groups"]) for r in page["ResultsByTime"]) <= 7
        token = page.get("NextPageToken")
        if not token:
            break
        assert "2025" not in token and len(token) > 8  # opaque
    flat_whole = [
        (r["TimePeriod"]["Start"], g["Keys"], g["Metrics"])
        for r in whole["ResultsByTime"]
        for g in r["Groups"]
    ]
    flat_pages = [
        (r["TimePeriod"]["Start"], g["Keys"], g["Metrics"])
        for p in pages
        for r in p["ResultsByTime"]
        for g in r["Groups"]
    ]
    assert flat_pages == flat_whole
    assert len(flat_whole) == 11 * 4 + 1  # 4 (service, account) pairs a day + the tax on Feb 1
    assert len(pages) == -(-len(flat_whole) // 7)
    # a day split across two pages appears in both, each with its own part of the groups
    starts = [r["TimePeriod"]["Start"] for p in pages for r in p["ResultsByTime"]]
    assert len(starts) > len(set(starts))
    assert sorted(set(starts)) == [r["TimePeriod"]["Start"] for r in whole["ResultsByTime"]]


def test_empty_periods_are_returned_once_across_pages(world: FixtureWorld) -> None:
    small = CostExplorerEmulator(world, page_size=2)
    body = cau("2025-03-08", "2025-03-13", "DAILY", GroupBy=[{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}])
    periods, token = [], None
    while True:
        page = ok(small, "GetCostAndUsage", body | ({"NextPageToken": token} if token else {}))
        periods += [(r["TimePeriod"]["Start"], len(r["Groups"])) for r in page["ResultsByTime"]]
        token = page.get("NextPageToken")
        if not token:
            break
    assert periods == [
        ("2025-03-08", 2),
        ("2025-03-09", 2),
        ("2025-03-10", 0),
        ("2025-03-11", 0),
        ("2025-03-12", 0),
    ]


def test_bad_page_tokens_are_rejected(world: FixtureWorld) -> None:
    small = CostExplorerEmulator(world, page_size=3)
    body = cau("2025-02-01", "2025-02-10", "DAILY", GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}])
    token = ok(small, "GetCostAndUsage", body)["NextPageToken"]
    assert "NextPageToken" in error(small, "GetCostAndUsage", body | {"NextPageToken": "garbage!"})
    other = body | {"Metrics": ["AmortizedCost"]}
    assert "NextPageToken" in error(small, "GetCostAndUsage", other | {"NextPageToken": token})
    assert ok(small, "GetCostAndUsage", body | {"NextPageToken": token})["ResultsByTime"]


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            cau(
                "2025-02-01",
                "2025-03-01",
                GroupBy=[{"Type": "DIMENSION", "Key": k} for k in ("SERVICE", "REGION", "LINKED_ACCOUNT")],
            ),
            "up to two",
        ),
        (cau("2025-03-01", "2025-03-01"), "before end date"),
        (cau("2025-03-02", "2025-03-01"), "before end date"),
        (cau("2025-02-01", "2025-03-01", metrics=["Cost"]), "Invalid metrics"),
        ({"TimePeriod": {"Start": "2025-02-01", "End": "2025-03-01"}, "Granularity": "DAILY"}, "Metrics"),
        (
            cau("2025-02-01", "2025-03-01", GroupBy=[{"Type": "DIMENSION", "Key": "COLOUR"}]),
            "dimension is invalid",
        ),
        (
            cau("2025-02-01", "2025-03-01", Filter={"Dimensions": {"Key": "COLOUR", "Values": ["x"]}}),
            "COLOUR",
        ),
        (cau("2025/02/01", "2025-03-01"), "invalid date format"),
        (cau("2025-02-01", "2025-3-1"), "invalid date format"),
        (cau("2024-01-31", "2024-03-01"), "start date is too old, you can only get data from 14 months"),
        (
            {"TimePeriod": {"Start": "2025-02-01", "End": "2025-03-01"}, "Metrics": ["UnblendedCost"]},
            "Granularity",
        ),
        (cau("2025-02-01", "2025-03-01", "HOURLY"), "Hourly"),
        (cau("2025-02-01", "2025-03-01", "WEEKLY"), "Granularity"),
        (
            cau(
                "2025-02-01",
                "2025-03-01",
                Filter={"And": [{"Dimensions": {"Key": "SERVICE", "Values": [EC2]}}]},
            ),
            "at least two",
        ),
        (
            cau(
                "2025-02-01",
                "2025-03-01",
                Filter={
                    "Dimensions": {"Key": "SERVICE", "Values": [EC2]},
                    "Tags": {"Key": "Owner", "Values": ["bob"]},
                },
            ),
            "exactly one",
        ),
        (cau("2025-02-01", "2025-03-01", Filter={"Dimensions": {"Key": "SERVICE", "Values": []}}), "Values"),
        (cau("2025-02-01", "2025-03-01", NextPageToken="abc"), "NextPageToken"),
        (
            cau(
                "2025-02-01",
                "2025-03-01",
                Filter={
                    "Dimensions": {"Key": "SERVICE", "Values": [EC2], "MatchOptions": ["EQUALS", "CONTAINS"]}
                },
            ),
            "only one of",
        ),
        (
            cau(
                "2025-02-01",
                "2025-03-01",
                Filter={"Dimensions": {"Key": "SERVICE", "MatchOptions": ["ABSENT"]}},
            ),
            "Unsupported MatchOptions",
        ),
    ],
)
def test_validation_errors(ce: CostExplorerEmulator, body: dict, message: str) -> None:
    assert message in error(ce, "GetCostAndUsage", body)


def test_history_start_itself_is_allowed(ce: CostExplorerEmulator) -> None:
    answer = ok(ce, "GetCostAndUsage", cau("2024-02-01", "2024-03-01"))
    assert amount(answer["ResultsByTime"][0]) == Decimal("8.892167") * 29 + Decimal("10.5") - 5


def test_unknown_operation(ce: CostExplorerEmulator) -> None:
    status, answer = ce.handle("GetCostCategories", {})
    assert status == 400 and answer["__type"] == "UnknownOperationException"


def test_wsgi_speaks_aws_json(ce: CostExplorerEmulator) -> None:
    def call(target: str, body: bytes) -> tuple[str, dict, dict]:
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, dict(headers)

        environ = {
            "HTTP_X_AMZ_TARGET": target,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        payload = b"".join(ce.wsgi_app(environ, start_response))
        return seen["status"], seen["headers"], json.loads(payload)

    status, headers, answer = call(
        "AWSInsightsIndexService.GetCostAndUsage", json.dumps(cau("2025-02-01", "2025-03-01")).encode()
    )
    assert status == "200 OK" and headers["Content-Type"] == "application/x-amz-json-1.1"
    assert answer["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "312.080676"
    status, headers, answer = call(
        "AWSInsightsIndexService.GetCostAndUsage", json.dumps(cau("2025-03-01", "2025-02-01")).encode()
    )
    assert status == "400 Bad Request" and headers["x-amzn-ErrorType"] == "ValidationException"
    assert answer["__type"] == "ValidationException" and answer["Message"]
    status, headers, answer = call("AWSInsightsIndexService.Nope", b"{}")
    assert headers["x-amzn-ErrorType"] == answer["__type"] == "UnknownOperationException"
    status, _, answer = call("AWSInsightsIndexService.GetTags", b"{not json")
    assert status == "400 Bad Request" and answer["__type"] == "SerializationException"


# ---------------------------------------------------------------- GetDimensionValues / GetTags
def period(start: str = "2025-02-01", end: str = "2025-03-01") -> dict:
    return {"TimePeriod": {"Start": start, "End": end}}


def test_dimension_values(ce: CostExplorerEmulator) -> None:
    answer = ok(ce, "GetDimensionValues", period() | {"Dimension": "SERVICE"})
    assert [v["Value"] for v in answer["DimensionValues"]] == sorted([EC2, S3, RDS, "Tax"])
    assert answer["ReturnSize"] == answer["TotalSize"] == 4
    assert all(v["Attributes"] == {} for v in answer["DimensionValues"])
    accounts = ok(
        ce, "GetDimensionValues", period() | {"Dimension": "LINKED_ACCOUNT", "SearchString": "prod"}
    )
    assert accounts["DimensionValues"] == [{"Value": PROD, "Attributes": {"description": "Prod One"}}]
    filtered = ok(
        ce,
        "GetDimensionValues",
        period()
        | {"Dimension": "REGION", "Filter": {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [DEV]}}},
    )
    assert [v["Value"] for v in filtered["DimensionValues"]] == ["us-west-2"]
    by_cost = ok(
        ce,
        "GetDimensionValues",
        period()
        | {"Dimension": "RECORD_TYPE", "SortBy": [{"Key": "UnblendedCost", "SortOrder": "DESCENDING"}]},
    )
    assert [v["Value"] for v in by_cost["DimensionValues"]] == [
        "Usage",
        "SavingsPlanCoveredUsage",
        "Tax",
        "Credit",
    ]
    assert "Dimension" in error(ce, "GetDimensionValues", period() | {"Dimension": "COLOUR"})
    assert "too old" in error(ce, "GetDimensionValues", period("2023-01-01") | {"Dimension": "SERVICE"})


def test_dimension_values_paginate(world: FixtureWorld) -> None:
    small = CostExplorerEmulator(world, page_size=3)
    first = ok(small, "GetDimensionValues", period() | {"Dimension": "USAGE_TYPE"})
    second = ok(
        small,
        "GetDimensionValues",
        period() | {"Dimension": "USAGE_TYPE", "NextPageToken": first["NextPageToken"]},
    )
    assert (first["ReturnSize"], second["ReturnSize"], first["TotalSize"]) == (3, 2, 5)
    assert "NextPageToken" not in second
    assert [v["Value"] for v in first["DimensionValues"] + second["DimensionValues"]] == sorted(
        [
            "USE1-BoxUsage:m5.large",
            "USE1-TimedStorage-ByteHrs",
            "USW2-BoxUsage:t3.micro",
            "USW2-InstanceUsage:db.m5.large",
            "Tax",
        ]
    )


def test_get_tags(ce: CostExplorerEmulator, world: FixtureWorld) -> None:
    assert ok(ce, "GetTags", period())["Tags"] == ["Environment", "Owner"]
    assert ok(ce, "GetTags", period() | {"TagKey": "Owner"})["Tags"] == ["alice", "bob"]
    assert ok(ce, "GetTags", period() | {"TagKey": "Environment", "SearchString": "PR"})["Tags"] == ["prod"]
    only_dev = {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": [DEV]}}
    assert ok(ce, "GetTags", period() | {"TagKey": "Owner", "Filter": only_dev})["Tags"] == ["bob"]
    small = CostExplorerEmulator(world, page_size=1)
    first = ok(small, "GetTags", period() | {"TagKey": "Owner"})
    second = ok(small, "GetTags", period() | {"TagKey": "Owner", "NextPageToken": first["NextPageToken"]})
    assert (first["Tags"], second["Tags"], second["TotalSize"]) == (["alice"], ["bob"], 2)
