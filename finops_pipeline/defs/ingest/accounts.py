"""``aws_accounts``: the organisation's accounts with their OU path, or the caller alone."""

import json
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline.aws_session import AwsResource, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_rows

ACCOUNT_COLUMNS = pa.schema(
    [
        ("account_id", pa.string()),
        ("account_name", pa.string()),
        ("email", pa.string()),
        ("status", pa.string()),
        ("ou_id", pa.string()),
        ("ou_path", pa.string()),
        ("joined_at", pa.timestamp("us", tz="UTC")),
        ("joined_method", pa.string()),
        ("is_management", pa.bool_()),
        ("tags", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _ou_paths(org: Any) -> dict[str, tuple[str, str]]:
    """account id -> (ou id, "Root/Production/...") by walking the OU tree once."""
    placement: dict[str, tuple[str, str]] = {}
    roots = [root for page in org.get_paginator("list_roots").paginate() for root in page["Roots"]]
    stack = [(root["Id"], root.get("Name", "Root")) for root in roots]
    while stack:
        parent_id, path = stack.pop()
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent_id):
            for account in page["Accounts"]:
                placement[account["Id"]] = (parent_id, path)
        for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent_id):
            stack.extend((ou["Id"], f"{path}/{ou['Name']}") for ou in page["OrganizationalUnits"])
    return placement


def fetch_organization_accounts(aws: AwsResource) -> list[dict[str, Any]]:
    org = aws.client("organizations")
    management_id = org.describe_organization()["Organization"]["MasterAccountId"]
    accounts = [
        account
        for page in org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 20})
        for account in page["Accounts"]
    ]
    placement = _ou_paths(org)

    def tags_of(target: ScanTarget) -> str:
        pages = org.get_paginator("list_tags_for_resource").paginate(ResourceId=target.account_id)
        return json.dumps({t["Key"]: t["Value"] for page in pages for t in page["Tags"]}, ensure_ascii=False)

    tag_outcomes = aws.fan_out([ScanTarget(a["Id"], "global") for a in accounts], tags_of)
    tags = {o.target.account_id: o.result for o in tag_outcomes if o.status == "ok"}
    now = utc_now()
    return [
        {
            "account_id": a["Id"],
            "account_name": a.get("Name"),
            "email": a.get("Email"),
            "status": a.get("Status") or a.get("State"),
            "ou_id": placement.get(a["Id"], (None, None))[0],
            "ou_path": placement.get(a["Id"], (None, None))[1],
            "joined_at": a.get("JoinedTimestamp"),
            "joined_method": a.get("JoinedMethod"),
            "is_management": a["Id"] == management_id,
            "tags": tags.get(a["Id"], "{}"),
            "ingested_at": now,
        }
        for a in accounts
    ]


def fetch_single_account(aws: AwsResource) -> list[dict[str, Any]]:
    """SINGLE_ACCOUNT_MODE: only the caller, from STS; no Organizations permission needed."""
    account_id = aws.caller_account_id()
    return [
        {
            "account_id": account_id,
            "account_name": account_id,
            "email": None,
            "status": "ACTIVE",
            "ou_id": None,
            "ou_path": None,
            "joined_at": None,
            "joined_method": None,
            "is_management": True,
            "tags": "{}",
            "ingested_at": utc_now(),
        }
    ]


@dg.asset(
    group_name="ingest",
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="AWS accounts of the organisation (Organizations) with OU path, status and tags.",
)
def aws_accounts(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with aws.tracked() as calls:
        rows = fetch_single_account(aws) if aws.single_account_mode else fetch_organization_accounts(aws)
    table = pa.Table.from_pylist(rows, schema=ACCOUNT_COLUMNS)
    with warehouse.connect() as conn:
        replace_rows(conn, "raw.aws_accounts", table)
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
    statuses = [row["status"] for row in rows]
    return dg.MaterializeResult(
        metadata={
            "accounts": len(rows),
            "active_accounts": statuses.count("ACTIVE"),
            "suspended_accounts": statuses.count("SUSPENDED"),
            **call_metadata(calls),
        }
    )
