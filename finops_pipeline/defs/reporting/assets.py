"""``finops_report``: the report files of one period, with their paths and totals as metadata.

Run config takes the options of :func:`finops_pipeline.lib.reporting.generate_report` (formats, preset,
last_n_days, start, end, output_dir, as_of); every one is validated before anything is read or written.
The e-mail is sent by ``finops_report_email_sensor`` from this asset's metadata (``files``, ``summary``).
"""

import datetime as dt

import dagster as dg

from finops_pipeline.clock import today_utc, utc_now
from finops_pipeline.config_resources import ReportsResource
from finops_pipeline.defs import layers
from finops_pipeline.lib.focus.export import focus_export_table
from finops_pipeline.lib.reporting.report import ReportError, build_report, read_report, resolve_request
from finops_pipeline.warehouse import WarehouseResource

REPORT_ASSET = "finops_report"
# The marts the report reads when they are built (each dataset falls back to raw tables otherwise).
MART_DEPS = (
    "tag_compliance_summary",
    "tag_compliance_resources",
    "recommendations",
    "cost_anomalies",
    "budget_status",
    "commitment_kpis",
    "focus_spend_coverage",
    "focus_showback",
)
# Raw tables it reads: cost and accounts always, the others where a mart is not built yet (the fallbacks).
RAW_DEPS = (
    "ce_cost_daily",
    "aws_accounts",
    "ce_anomalies",
    "ce_cost_by_tag",
    "ce_recommendations",
    "tagged_resources",
    "commitment_inventory",
)


class ReportConfig(dg.Config):
    """Which report to write; unset fields use the settings (REPORT_DEFAULT_FORMATS, REPORT_OUTPUT_DIR)."""

    formats: list[str] | None = None
    preset: str | None = None
    last_n_days: int | None = None
    start: str | None = None
    end: str | None = None
    output_dir: str | None = None
    as_of: str | None = None  # "today" for the presets (YYYY-MM-DD, UTC); schedules set their tick's date


def _as_of(config: ReportConfig) -> dt.date:
    if not config.as_of:
        return today_utc()
    try:
        return dt.date.fromisoformat(config.as_of)
    except ValueError:
        raise ReportError(f"as_of={config.as_of!r} is not a date in YYYY-MM-DD form") from None


def _files_md(files: list[str]) -> str:
    return "\n".join(f"- `{path}`" for path in files) or "none"


def _datasets_md(datasets: dict[str, dict]) -> str:
    rows = [f"| {name} | {d['rows']:,} | {d['source']} | {d['note']} |" for name, d in datasets.items()]
    return "| dataset | rows | source | note |\n|---|---|---|---|\n" + "\n".join(rows)


@dg.asset(
    name=REPORT_ASSET,
    group_name=layers.REPORTS,
    kinds={"duckdb", "excel", "html", "pdf"},
    owners=["team:finops"],
    pool="duckdb",
    deps=[*RAW_DEPS, *MART_DEPS],
    description="Cost, movers, compliance, anomalies and savings as CSV, JSON, Excel, Parquet, HTML, PDF.",
)
def finops_report(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    warehouse: WarehouseResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    options = reports.options()
    formats, period, folder = resolve_request(
        options,
        config.formats,
        last_n_days=config.last_n_days,
        preset=config.preset,
        start=config.start,
        end=config.end,
        output_dir=config.output_dir,
        today=_as_of(config),
    )
    # The connection closes before the (slow) file writing, so it does not block warehouse writers.
    with warehouse.connect() as conn:
        datasets, figures = read_report(conn, options, period)
        focus = focus_export_table(conn, period.start, period.end) if "focus" in formats else None
    result = build_report(datasets, figures, options, formats, period, folder, utc_now(), focus)
    totals = result["totals"]
    context.log.info("finops_report %s: %d files in %s", result["report_id"], len(result["files"]), folder)
    keys = ("report_id", "period", "period_last_day", "period_span", "totals", "top_services")
    summary = {k: result[k] for k in keys}
    numbers = {
        key: float(totals[key]) if isinstance(totals[key], float) else totals[key]
        for key in (
            "total_unblended_usd",
            "total_amortized_usd",
            "total_net_unblended_usd",
            "anomalies",
            "anomalies_high_severity",
            "monthly_savings_usd",
            "recommendations",
            "non_compliant_resources",
        )
    }
    for key in ("compliance_pct", "spend_coverage_pct", "change_vs_previous_pct"):
        if totals.get(key) is not None:
            numbers[key] = float(totals[key])
    return dg.MaterializeResult(
        metadata={
            "report_id": result["report_id"],
            "period_start": period.start.isoformat(),
            "period_end_exclusive": period.end.isoformat(),
            "period_label": period.label,
            "formats": ", ".join(formats),
            "output_dir": str(folder),
            "file_count": len(result["files"]),
            "files": dg.MetadataValue.json(result["files"]),
            "summary": dg.MetadataValue.json(summary),
            **numbers,
            "excel_truncated_datasets": len(result.get("excel_truncated", {})),
            "html_bytes": result.get("html_bytes", 0),
            "pdf_pages": result.get("pdf_pages", 0),
            "pdf_bytes": result.get("pdf_bytes", 0),
            "file_list": dg.MetadataValue.md(_files_md(result["files"])),
            "datasets": dg.MetadataValue.md(_datasets_md(result["datasets"])),
        }
    )
