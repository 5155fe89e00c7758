"""The FOCUS 1.0 import: AWS Data Exports files (S3 or a local folder) into raw.focus_cost."""

from contextlib import nullcontext

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import FocusExportResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.focus.partitions import FOCUS_DIGEST_KEY, FOCUS_PERIODS, export_source
from finops_pipeline.lib.focus.ingest import ingest_export
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

AWS_TOTALS_SQL = """
SELECT coalesce(sum(BilledCost), 0), coalesce(sum(EffectiveCost), 0), count(DISTINCT billing_period)
FROM raw.focus_cost WHERE ProviderName = 'AWS'
"""
# Per partition (the files' period, raw.focus_files): its files, rows and AWS totals.
PERIOD_FIGURES_SQL = """
SELECT f.billing_period, count(DISTINCT f.source_file), count(c.source_file),
    coalesce(sum(c.BilledCost) FILTER (WHERE c.ProviderName = 'AWS'), 0),
    coalesce(sum(c.EffectiveCost) FILTER (WHERE c.ProviderName = 'AWS'), 0),
    count(DISTINCT f.source_file) FILTER (WHERE f.status <> 'ok')
FROM raw.focus_files f LEFT JOIN raw.focus_cost c USING (source_file)
WHERE f.billing_period IN (SELECT unnest($periods))
GROUP BY 1
"""


@dg.asset(
    group_name=layers.RAW_COST,
    kinds={"duckdb", "s3"},
    owners=["team:finops"],
    pool="duckdb",
    description="AWS Data Exports (FOCUS 1.0) rows per billing period; only changed files are re-read.",
    metadata=tables.definition_metadata("focus_cost"),
    partitions_def=FOCUS_PERIODS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def focus_cost(
    context: dg.AssetExecutionContext,
    aws: AwsResource,
    warehouse: WarehouseResource,
    focus_export: FocusExportResource,
) -> dg.MaterializeResult:
    periods = list(context.partition_keys)
    if focus_export.uri is None:
        context.log.info("FOCUS_EXPORT_URI is not set: no FOCUS export to import, stored rows kept")
        return dg.MaterializeResult(metadata={"export_configured": False})
    is_s3 = focus_export.uri.startswith("s3://")
    # A local folder needs no AWS credentials; an S3 export is read through the counted aws resource.
    with aws.tracked() if is_s3 else nullcontext([]) as calls:
        source = export_source(focus_export.uri, aws)
        with warehouse.connect() as conn:
            summary = ingest_export(conn, source, utc_now(), periods)
    with warehouse.connect() as conn:
        if calls:
            record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        figures = {
            row[0]: row[1:] for row in conn.execute(PERIOD_FIGURES_SQL, {"periods": periods}).fetchall()
        }
        billed_all, effective_all, periods_all = conn.execute(AWS_TOTALS_SQL).fetchone() or (0, 0, 0)
    for uri, status, detail in summary.refused:
        context.log.warning("FOCUS file %s refused (%s): %s", uri, status, detail)
    # Each period carries its own figures (the UI plots them per partition); the run's and the whole
    # table's go on one observation.
    for period in periods:
        files, rows, billed, effective, refused = figures.get(period, (0, 0, 0, 0, 0))
        context.add_asset_metadata(
            {
                "dagster/row_count": int(rows),
                "files": int(files),
                "files_refused": int(refused),
                "aws_billed_cost_usd": round(float(billed), 2),
                "aws_effective_cost_usd": round(float(effective), 2),
                # focus_export_sensor compares it with the export's files now (FOCUS_DIGEST_KEY).
                FOCUS_DIGEST_KEY: summary.digests[period],
            },
            partition_key=period,
        )
    run_figures = {
        "export_configured": True,
        "files_current": summary.files_current,
        "files_read": summary.files_read,
        "files_unchanged": summary.files_unchanged,
        "files_removed": summary.files_removed,
        "files_refused": len(summary.refused),
        "rows_loaded": summary.rows_loaded,
        "bytes_read": summary.bytes_read,
        "billing_periods": int(periods_all),
        "table_aws_billed_cost_usd": round(float(billed_all), 2),
        "table_aws_effective_cost_usd": round(float(effective_all), 2),
        "refused_files": dg.MetadataValue.md(
            md_table(["file", "status", "detail"], summary.refused, empty="none")
        ),
        **(call_metadata(calls) if is_s3 else {}),
    }
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata=run_figures))
    return dg.MaterializeResult()
