"""The FOCUS import's checks: it agrees with Cost Explorer, and every file of the export was read."""

import dagster as dg

from finops_pipeline.lib.focus.reconcile import reconcile
from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource

DIFFERENCE_HEADERS = [
    "day",
    "account",
    "service",
    "FOCUS billed",
    "CE unblended",
    "FOCUS effective",
    "CE amortized",
]


@dg.asset_check(
    asset="focus_cost",
    additional_deps=["ce_cost_daily"],
    description="FOCUS BilledCost / EffectiveCost equal Cost Explorer's unblended / amortized cost per day, "
    "account and service, to the cent, on the days both cover; the differences are named.",
)
def focus_matches_cost_explorer(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        result = reconcile(conn)
    shown = [
        (str(day), account, service, *(usd(float(v)) for v in amounts))
        for day, account, service, *amounts in result.differences
    ]
    return dg.AssetCheckResult(
        passed=result.matches,
        metadata={
            "first_day": str(result.first_day),
            "last_day": str(result.last_day),
            "groups_compared": result.groups,
            "differences": len(result.differences),
            "focus_billed_usd": round(float(result.billed), 2),
            "ce_unblended_usd": round(float(result.unblended), 2),
            "difference_usd": round(float(result.billed - result.unblended), 2),
            "largest_differences": dg.MetadataValue.md(md_table(DIFFERENCE_HEADERS, shown, limit=20)),
        },
    )


@dg.asset_check(
    asset="focus_cost",
    description="Every current file of the export was loaded; a refused one is named with what is wrong.",
)
def every_focus_file_loaded(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        refused = conn.execute(
            "SELECT source_file, status, detail, last_ok_at IS NOT NULL FROM raw.focus_files "
            "WHERE status <> 'ok' ORDER BY source_file"
        ).fetchall()
        files = conn.execute("SELECT count(*) FROM raw.focus_files").fetchone()[0]
    return dg.AssetCheckResult(
        passed=not refused,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files": int(files),
            "files_refused": len(refused),
            "refused": dg.MetadataValue.md(
                md_table(["file", "status", "detail", "earlier rows kept"], refused, width=200)
            ),
        },
    )
