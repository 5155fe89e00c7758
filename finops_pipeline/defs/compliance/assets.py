"""Tag compliance by resources and by spend: two marts and the checks that hold them to the threshold."""

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import TagPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.compliance.marts import (
    SPEND_WINDOW_DAYS,
    overall,
    pct,
    write_tag_compliance_resources,
    write_tag_compliance_summary,
)
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.tables.inventory import FOUND_BY, INVENTORY_SCANS
from finops_pipeline.warehouse import WarehouseResource

WORST_RESOURCES_SQL = """
SELECT account_id, region, resource_type, resource_id, found_by,
       array_to_string(missing_keys, ', ') AS missing,
       array_to_string(
           list_transform(invalid_values, lambda x: x.key || '=' || x.value || ' (' || x.reason || ')'), '; '
       )
           AS invalid,
       array_to_string(case_variant_keys, ', ') AS variants
FROM marts.tag_compliance_resources
WHERE compliance_status = 'non_compliant'
ORDER BY keys_satisfied, len(invalid_values) DESC, account_id, resource_arn
LIMIT 10
"""
WORST_ACCOUNTS_SQL = """
SELECT dimension_value AS account_id, resources_evaluated, resources_compliant, round(compliance_pct, 2),
       round(spend_coverage_pct, 2),
       round(spend_usd - spend_tagged_usd - coalesce(spend_unknown_usd, 0), 2) AS untagged_usd, status
FROM marts.tag_compliance_summary
WHERE snapshot_date = ? AND dimension = 'account'
ORDER BY {order} NULLS LAST, dimension_value
LIMIT 10
"""
UNKNOWN_ACCOUNTS_SQL = """
SELECT dimension_value, scans_failed, resources_unknown, status FROM marts.tag_compliance_summary
WHERE snapshot_date = ? AND dimension = 'account' AND status <> 'complete' ORDER BY dimension_value
"""
ACCOUNT_HEADERS = [
    "account",
    "evaluated",
    "compliant",
    "compliance %",
    "spend coverage %",
    "untagged $",
    "status",
]
RESOURCE_HEADERS = [
    "account",
    "region",
    "type",
    "resource",
    "found by",
    "missing",
    "invalid",
    "case variants",
]


@dg.asset(
    group_name=layers.MARTS_TAGS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["tagged_resources", "ec2_inventory", *(scan.asset for scan in INVENTORY_SCANS)],
    description="One row per resource: missing keys, invalid values, case variants, compliance status.",
    metadata=tables.definition_metadata("tag_compliance_resources"),
)
def tag_compliance_resources(
    warehouse: WarehouseResource, tag_policy: TagPolicyResource
) -> dg.MaterializeResult:
    rules = tag_policy.rules()
    today = utc_now().date()
    with warehouse.connect() as conn:
        rows = write_tag_compliance_resources(conn, rules, today)
        status = dict(
            conn.execute(
                "SELECT compliance_status, count(*) FROM marts.tag_compliance_resources GROUP BY 1"
            ).fetchall()
        )
        found = dict(
            conn.execute(
                "SELECT found_by, count(*) FROM marts.tag_compliance_resources GROUP BY 1"
            ).fetchall()
        )
        per_type = conn.execute(
            "SELECT resource_type, count(*), count(*) FILTER (WHERE compliant) FROM "
            "marts.tag_compliance_resources GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        worst = conn.execute(WORST_RESOURCES_SQL).fetchall()
        counted = tables.row_count(conn, "tag_compliance_resources")
    evaluated = status.get("compliant", 0) + status.get("non_compliant", 0)
    return dg.MaterializeResult(
        metadata={
            **counted,
            "resources": rows,
            "required_keys": ", ".join(rules.required_keys),
            **{
                f"resources_{name}": int(status.get(name, 0))
                for name in ("compliant", "non_compliant", "exempt", "unknown")
            },
            **pct("compliance_pct", 100.0 * status.get("compliant", 0) / evaluated if evaluated else None),
            **{f"found_by_{name}": int(found.get(name, 0)) for name in FOUND_BY},
            "resources_per_type": dg.MetadataValue.md(
                md_table(["resource type", "resources", "compliant"], per_type)
            ),
            "worst_resources": dg.MetadataValue.md(md_table(RESOURCE_HEADERS, worst)),
        }
    )


@dg.asset(
    group_name=layers.MARTS_TAGS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=[tag_compliance_resources, "ce_cost_by_tag", "ce_cost_allocation_tags"],
    description=(
        f"Daily tag compliance per account, service, type and key: resource % and spend coverage "
        f"(last {SPEND_WINDOW_DAYS} complete days of Cost Explorer tag grouping)."
    ),
    metadata=tables.definition_metadata("tag_compliance_summary"),
)
def tag_compliance_summary(
    warehouse: WarehouseResource, tag_policy: TagPolicyResource
) -> dg.MaterializeResult:
    rules = tag_policy.rules()
    today = utc_now().date()
    with warehouse.connect() as conn:
        write_tag_compliance_summary(conn, rules, today)
        top = overall(conn, today)
        per_key = conn.execute(
            "SELECT dimension_value, compliance_pct, spend_coverage_pct "
            "FROM marts.tag_compliance_summary "
            "WHERE snapshot_date = ? AND dimension = 'tag_key' ORDER BY dimension_value",
            [today],
        ).fetchall()
        worst = conn.execute(WORST_ACCOUNTS_SQL.format(order="compliance_pct"), [today]).fetchall()
        accounts_unknown = conn.execute(
            "SELECT count(*) FROM marts.tag_compliance_summary WHERE snapshot_date = ? "
            "AND dimension = 'account' AND status <> 'complete'",
            [today],
        ).fetchall()[0][0]
        counted = tables.row_count(conn, "tag_compliance_summary")
    return dg.MaterializeResult(
        metadata={
            **counted,
            **pct("compliance_score_pct", top.get("compliance_pct")),
            **pct("key_coverage_pct", top.get("key_coverage_pct")),
            **pct("spend_coverage_pct", top.get("spend_coverage_pct")),
            "spend_usd": float(top.get("spend_usd") or 0),
            "untagged_spend_usd": round(
                float((top.get("spend_usd") or 0) - (top.get("spend_tagged_usd") or 0)), 2
            ),
            "resources_evaluated": int(top.get("resources_evaluated") or 0),
            "resources_unknown": int(top.get("resources_unknown") or 0),
            "accounts_not_fully_scanned": int(accounts_unknown),
            **{k: v for key, _, spend in per_key for k, v in pct(f"spend_coverage_pct_{key}", spend).items()},
            **{k: v for key, res, _ in per_key for k, v in pct(f"compliance_pct_{key}", res).items()},
            "spend_window": f"{top.get('spend_window_start')} to {top.get('spend_window_end')} (excl.)",
            "worst_accounts": dg.MetadataValue.md(md_table(ACCOUNT_HEADERS, worst)),
        }
    )


def _latest(conn) -> object:
    return conn.execute("SELECT max(snapshot_date) FROM marts.tag_compliance_summary").fetchall()[0][0]


@dg.asset_check(
    asset="tag_compliance_summary",
    name="compliance_score_meets_threshold",
    description="Share of compliant resources is at least TAG_COMPLIANCE_THRESHOLD (default 80%).",
)
def compliance_score_meets_threshold(
    warehouse: WarehouseResource, tag_policy: TagPolicyResource
) -> dg.AssetCheckResult:
    threshold = tag_policy.threshold_pct
    with warehouse.connect() as conn:
        day = _latest(conn)
        top = overall(conn, day) if day else {}
        worst_accounts = conn.execute(WORST_ACCOUNTS_SQL.format(order="compliance_pct"), [day]).fetchall()
        worst_resources = conn.execute(WORST_RESOURCES_SQL).fetchall()
    score = top.get("compliance_pct")
    return dg.AssetCheckResult(
        passed=score is not None and score >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **pct("compliance_score_pct", score),
            "threshold_pct": threshold,
            "snapshot_date": str(day),
            "worst_accounts": dg.MetadataValue.md(md_table(ACCOUNT_HEADERS, worst_accounts)),
            "worst_resources": dg.MetadataValue.md(md_table(RESOURCE_HEADERS, worst_resources)),
        },
    )


@dg.asset_check(
    asset="tag_compliance_summary",
    name="spend_coverage_meets_threshold",
    description="Share of spend with the required tags is at least TAG_COMPLIANCE_THRESHOLD (default 80%).",
)
def spend_coverage_meets_threshold(
    warehouse: WarehouseResource, tag_policy: TagPolicyResource
) -> dg.AssetCheckResult:
    threshold = tag_policy.threshold_pct
    with warehouse.connect() as conn:
        day = _latest(conn)
        top = overall(conn, day) if day else {}
        worst_accounts = conn.execute(WORST_ACCOUNTS_SQL.format(order="spend_coverage_pct"), [day]).fetchall()
        per_key = conn.execute(
            "SELECT dimension_value, round(spend_coverage_pct, 2), "
            "round(spend_usd - spend_tagged_usd, 2) "
            "FROM marts.tag_compliance_summary WHERE snapshot_date = ? AND dimension = 'tag_key' "
            "ORDER BY spend_coverage_pct NULLS LAST",
            [day],
        ).fetchall()
        worst_resources = conn.execute(WORST_RESOURCES_SQL).fetchall()
    coverage = top.get("spend_coverage_pct")
    return dg.AssetCheckResult(
        passed=coverage is not None and coverage >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **pct("spend_coverage_pct", coverage),
            "threshold_pct": threshold,
            "snapshot_date": str(day),
            "worst_accounts": dg.MetadataValue.md(md_table(ACCOUNT_HEADERS, worst_accounts)),
            "keys": dg.MetadataValue.md(md_table(["tag key", "spend coverage %", "untagged $"], per_key)),
            "worst_resources": dg.MetadataValue.md(md_table(RESOURCE_HEADERS, worst_resources)),
        },
    )


@dg.asset_check(
    asset="tag_compliance_summary",
    name="every_account_evaluated",
    description="Every account's tag scan and list calls answered; others are unknown, not compliant.",
)
def every_account_evaluated(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        day = _latest(conn)
        rows = conn.execute(UNKNOWN_ACCOUNTS_SQL, [day]).fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "accounts_not_fully_scanned": len(rows),
            "accounts": dg.MetadataValue.md(
                md_table(["account", "failed scans", "resources unknown", "status"], rows)
            ),
        },
    )
