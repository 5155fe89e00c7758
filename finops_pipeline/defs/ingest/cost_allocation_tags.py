"""``ce_cost_allocation_tags``: which required tag keys Cost Explorer can group by, and since when.

An inactive cost allocation tag puts all its spend in ``Key$``, which ``ce_cost_by_tag`` would otherwise
read as untagged; this snapshot lets the compliance marts call that spend unknown instead, and its
check names the keys to activate (see ``finops_pipeline.lib.tag_activation``). One request a day
(``ListCostAllocationTags`` filtered to the required keys, at most 100 per request), plus one
``ListCostAllocationTagBackfillHistory``: a backfill requested since a key's activation makes its spend
trusted from the backfill's start month.
"""

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.lib.tag_activation import activation_table, fix_text, judge, list_tags, read_backfills
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, replace_rows

CHECK_NAME = "required_tag_keys_active"


@dg.asset(
    name="ce_cost_allocation_tags",
    group_name=layers.RAW_COST,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    description="Activation status of the required cost allocation tags (ListCostAllocationTags): "
    "Cost Explorer groups spend by a key only from its activation on.",
    metadata=tables.definition_metadata("ce_cost_allocation_tags"),
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="ce_cost_allocation_tags",
            description="Every required tag key is an active cost allocation tag (else its spend is "
            "all 'Key$' in Cost Explorer and its spend coverage unknown).",
        )
    ],
)
def ce_cost_allocation_tags(
    context: dg.AssetExecutionContext,
    aws: AwsResource,
    warehouse: WarehouseResource,
    tag_policy: TagPolicyResource,
) -> dg.MaterializeResult:
    required = tuple(tag_policy.required_keys)
    now = utc_now()
    with aws.tracked() as calls:
        tags = list_tags(aws.client("ce"), required)
        backfills, backfill_error = read_backfills(aws.client("ce"))  # one request
    table = activation_table(tags, required, now, backfills)
    with warehouse.connect() as conn:
        replace_rows(conn, "raw.ce_cost_allocation_tags", table, "snapshot_date = ?", (now.date(),))
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = tables.row_count(conn, "ce_cost_allocation_tags")
    verdict = judge(tags, required, backfills)
    rows = [
        (key, "Inactive" if key in verdict.inactive else "not listed" if key in verdict.not_listed
         else "Active", verdict.activated.get(key, ""))
        for key in required
    ]  # fmt: skip
    keys_md = dg.MetadataValue.md(md_table(["tag key", "status", "spend trusted from"], rows))
    check_meta: dict[str, object] = {
        "inactive_required_keys": ", ".join(verdict.inactive) or "none",
        "inactive_count": len(verdict.inactive),
        "not_listed_required_keys": ", ".join(verdict.not_listed) or "none",
        "keys": keys_md,
    }
    if verdict.inactive:
        check_meta["fix"] = fix_text(verdict.inactive, now.date(), backfills)
    return dg.MaterializeResult(
        metadata={
            **counted,
            "required_keys": len(required),
            "inactive_required_keys": len(verdict.inactive),
            "not_listed_required_keys": len(verdict.not_listed),
            "tag_backfills": len(backfills),
            **({"tag_backfills_unread": backfill_error} if backfill_error else {}),
            "keys": keys_md,
            **call_metadata(calls),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CHECK_NAME,
                passed=verdict.ok,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=check_meta,
                description=None
                if verdict.ok
                else f"Inactive cost allocation tags: {', '.join(verdict.inactive)}",
            )
        ],
    )
