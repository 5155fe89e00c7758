"""``aws_accounts``: the organisation's accounts with their OU path, or the caller alone.

Account tags come from one Organizations ``ListTagsForResource`` per account. A refused or failed call
is recorded in ``raw.scan_status`` (source ``organizations:account_tags``, region ``global``) and leaves
that account's ``tags`` NULL -- unknown -- never ``{}``, which would claim the account has no tags.
"""

import json
from typing import Any

import dagster as dg
import pyarrow as pa
from botocore.exceptions import ClientError

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib.caller_scope import PARTIAL_FIX, CallerScope, detect_caller_scope, with_list_accounts
from finops_pipeline.lib.fan_out import record_scan_status
from finops_pipeline.lib.remediation import error_kind
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_rows

ACCOUNT_COLUMNS = tables.table("raw.aws_accounts").arrow_schema()


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


TAGS_SOURCE = "organizations:account_tags"  # raw.scan_status source of the account-tag reads


def fetch_organization_accounts(
    aws: AwsResource, management_id: str | None = None, tag_outcomes: list[ScanOutcome] | None = None
) -> list[dict[str, Any]]:
    """Every account with OU placement and tags; each account's tag read is appended to ``tag_outcomes``.

    An account whose tags could not be read gets ``tags`` None (unknown), not ``{}`` (no tags).
    """
    org = aws.client("organizations")
    if management_id is None:
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

    outcomes = aws.fan_out([ScanTarget(a["Id"], "global") for a in accounts], tags_of)
    if tag_outcomes is not None:
        tag_outcomes.extend(outcomes)
    tags = {o.target.account_id: o.result for o in outcomes if o.status == "ok"}
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
            "tags": tags.get(a["Id"]),
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


def _fetch_with_scope(
    aws: AwsResource, tag_outcomes: list[ScanOutcome]
) -> tuple[CallerScope, list[dict[str, Any]] | None, str | None]:
    """The caller's scope and the accounts; a plain member's refused ListAccounts gives (scope, None, why)."""
    scope = detect_caller_scope(
        aws, single_account_mode=aws.single_account_mode, billing_view_arn=aws.billing_view_arn
    )
    if aws.single_account_mode:
        return scope, fetch_single_account(aws), None
    try:
        rows = fetch_organization_accounts(aws, scope.management_account_id, tag_outcomes)
    except ClientError as exc:
        if (
            scope.role != "member"
            or error_kind(exc.response["Error"].get("Code", ""), None) != "access_denied"
        ):
            raise
        return scope, None, str(exc)
    return with_list_accounts(scope, True), rows, None


def record_caller_scope(
    conn: Any, run_id: str, scope: CallerScope, organization_accounts: int | None
) -> None:
    """One row per run: what the run's Cost Explorer totals cover (read by the coverage checks)."""
    row = {**scope.as_row(), "run_id": run_id, "organization_accounts": organization_accounts}
    table = pa.Table.from_pylist([{**row, "detected_at": utc_now()}])
    replace_rows(conn, "raw.caller_scope", table, "run_id = ?", (run_id,))


@dg.asset(
    group_name=layers.RAW_ORGANIZATION,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="AWS accounts of the organisation (Organizations) with OU path, status and tags; and "
    "whose bill the run's credentials see (raw.caller_scope).",
    metadata=tables.definition_metadata("aws_accounts"),
)
def aws_accounts(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    tag_outcomes: list[ScanOutcome] = []
    with aws.tracked() as calls:
        scope, rows, refusal = _fetch_with_scope(aws, tag_outcomes)
    if scope.partial or scope.role == "unknown":
        context.log.warning("Caller scope: %s. Fix: %s", scope.description, PARTIAL_FIX)
    with warehouse.connect() as conn:
        record_caller_scope(conn, context.run.run_id, scope, None if rows is None else len(rows))
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        if rows is not None:
            replace_rows(conn, "raw.aws_accounts", pa.Table.from_pylist(rows, schema=ACCOUNT_COLUMNS))
        if tag_outcomes:
            tag_counts = [len(json.loads(o.result)) if o.status == "ok" else 0 for o in tag_outcomes]
            record_scan_status(conn, TAGS_SOURCE, tag_outcomes, tag_counts)
        counted = tables.row_count(conn, "aws_accounts")
    if rows is None:
        raise dg.Failure(
            description=f"{scope.description}, and Organizations refused to list the accounts ({refusal}). "
            f"Fix: {PARTIAL_FIX}.",
            metadata={"caller_role": scope.role, "caller_account_id": scope.account_id},
        )
    statuses = [row["status"] for row in rows]
    return dg.MaterializeResult(
        metadata={
            **counted,
            "accounts": len(rows),
            "active_accounts": statuses.count("ACTIVE"),
            "suspended_accounts": statuses.count("SUSPENDED"),
            "caller_role": scope.role,
            "sees_whole_bill": not scope.partial,
            "accounts_tags_unknown": sum(row["tags"] is None for row in rows),
            **call_metadata(calls),
        }
    )
