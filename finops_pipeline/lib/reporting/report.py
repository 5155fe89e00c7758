"""``generate_report``: the datasets of one period, written in every asked format, optionally e-mailed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from finops_pipeline.clock import today_utc, utc_now
from finops_pipeline.lib.focus.export import focus_export_table, write_focus
from finops_pipeline.lib.reporting import mail
from finops_pipeline.lib.reporting.datasets import (
    Dataset,
    coverage_caveat,
    load_datasets,
    previous_total,
    spend_coverage_caveat,
    totals,
)
from finops_pipeline.lib.reporting.options import ReportOptions, SesOptions
from finops_pipeline.lib.reporting.periods import Period, ReportRangeError, resolve_period
from finops_pipeline.lib.reporting.safety import SafeFolder, attachment_folder, report_dir, report_stem
from finops_pipeline.lib.reporting.writers.csv_writer import write_csv
from finops_pipeline.lib.reporting.writers.html_report import render_within_limit
from finops_pipeline.lib.reporting.writers.json_writer import write_json
from finops_pipeline.lib.reporting.writers.parquet_writer import write_parquet
from finops_pipeline.lib.reporting.writers.pdf_report import write_pdf
from finops_pipeline.lib.reporting.writers.xlsx_report import write_xlsx
from finops_pipeline.settings import REPORT_FORMATS, Settings, load_settings, report_formats

log = logging.getLogger(__name__)


class ReportError(ValueError):
    """A report request that cannot be honoured (raised before anything is written)."""


def normalise_formats(formats: str | Iterable[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    if formats is None:
        return tuple(default)
    text = formats if isinstance(formats, str) else ",".join(str(f) for f in formats)
    try:
        return report_formats(text)
    except ValueError as exc:
        raise ReportError(f"formats={formats!r}: {exc}") from None


def write_files(
    folder: Path,
    stem: str,
    formats: Sequence[str],
    meta: dict[str, Any],
    figures: dict[str, Any],
    datasets: list[Dataset],
    max_excel_rows: int,
    root: Path,
    focus: pa.Table | None = None,
) -> tuple[list[Path], dict[str, Any]]:
    """Every asked format into ``folder`` (inside ``root``, the project folder), atomically.

    Returns the paths and per-format facts (Excel truncation, HTML size, PDF pages and size). ``focus``: the
    FOCUS 1.0 rows of the period (``lib/focus/export.py``), read while the connection was open, for the focus
    format.
    """
    written: list[Path] = []
    facts: dict[str, Any] = {}
    with SafeFolder(folder, root) as safe:

        def put(name: str) -> Any:
            written.append(folder / name)
            return safe.atomic(name)

        for fmt in [f for f in REPORT_FORMATS if f in formats]:
            if fmt == "csv":
                for d in datasets:
                    with put(f"{stem}-{d.name}.csv") as handle:
                        write_csv(d.table, handle)
            elif fmt == "parquet":
                for d in datasets:
                    with put(f"{stem}-{d.name}.parquet") as handle:
                        write_parquet(d, meta, handle)
            elif fmt == "json":
                with put(f"{stem}.json") as handle:
                    write_json(meta, figures, datasets, handle)
            elif fmt == "xlsx":
                with put(f"{stem}.xlsx") as handle:
                    facts["excel_truncated"] = write_xlsx(handle, meta, figures, datasets, max_excel_rows)
            elif fmt == "pdf":
                with put(f"{stem}.pdf") as handle:
                    facts.update(write_pdf(handle, meta, figures, datasets))
            elif fmt == "html":
                page, rows = render_within_limit(meta, figures, datasets)
                with put(f"{stem}.html") as handle:
                    handle.write(page)
                facts["html_bytes"] = len(page)
                facts["html_table_rows"] = rows
            elif fmt == "focus" and focus is not None:
                with put(f"{stem}-focus.parquet") as handle:
                    write_focus(focus, handle)
                facts["focus_rows"] = focus.num_rows
    return written, facts


def read_report(
    conn: duckdb.DuckDBPyConnection, options: ReportOptions, period: Period
) -> tuple[list[Dataset], dict[str, Any]]:
    """All the report reads from the warehouse, so the connection can close before files are written."""
    datasets = load_datasets(conn, period, options.required_tag_keys)
    figures = totals(datasets, period, previous_total(conn, period))
    figures["coverage_caveat"] = coverage_caveat(conn)
    figures["spend_coverage_caveat"] = spend_coverage_caveat(conn)
    return datasets, figures


def report_meta(report_id: str, period: Period, now: dt.datetime) -> dict[str, Any]:
    """The facts every format states about a report: its period, what it is compared with, when made."""
    return {
        "report_id": report_id,
        "title": f"FinOps report {period.span()}",
        "period_span": period.span(),
        "period_start": period.start.isoformat(),
        "period_end_exclusive": period.end.isoformat(),
        "period_last_day": period.last_day.isoformat(),
        "period_label": period.label,
        "period_description": period.describe(),
        "period_note": period.note,
        "comparison_description": period.describe_comparison(),
        "generated_at": now.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "currency": "USD",
    }


def build_report(
    datasets: list[Dataset],
    figures: dict[str, Any],
    options: ReportOptions,
    formats: Sequence[str],
    period: Period,
    folder: Path,
    now: dt.datetime,
    focus: pa.Table | None = None,
) -> dict[str, Any]:
    """Write the files of datasets already read (no connection held); the dict ``generate_report`` returns."""
    stem = report_stem(now)
    meta = report_meta(stem, period, now)
    files, facts = write_files(
        folder, stem, formats, meta, figures, datasets, options.max_excel_rows, options.project_root, focus
    )
    services = next(d for d in datasets if d.name == "cost_by_service").table
    top_services = [
        [name, round(float(usd or 0), 2)]
        for name, usd in zip(
            services.column("service").to_pylist()[:5],
            services.column("unblended_usd").to_pylist()[:5],
            strict=True,
        )
    ]
    return {
        "report_id": stem,
        "files": [str(p) for p in files],
        "formats": list(formats),
        "period": {
            "start": period.start.isoformat(),
            "end_exclusive": period.end.isoformat(),
            "label": period.label,
        },
        "period_last_day": period.last_day.isoformat(),
        "period_span": period.span(),
        "totals": figures,
        "top_services": top_services,
        "datasets": {d.name: {"rows": d.rows, "source": d.source, "note": d.note} for d in datasets},
        **facts,
        "email": {"sent": False, "reason": "not requested"},
    }


def resolve_request(
    options: ReportOptions,
    formats: str | Iterable[str] | None,
    *,
    last_n_days: int | None,
    preset: str | None,
    start: object,
    end: object,
    output_dir: str | Path | None,
    today: dt.date,
) -> tuple[tuple[str, ...], Period, Path]:
    """Validate everything first: formats, period and folder (created only once all are valid)."""
    chosen = normalise_formats(formats, options.default_formats)
    try:
        period = resolve_period(preset=preset, last_n_days=last_n_days, start=start, end=end, today=today)
    except ReportRangeError as exc:
        raise ReportError(str(exc)) from None
    folder = report_dir(output_dir if output_dir is not None else options.output_dir, options.project_root)
    return chosen, period, folder


def report_message(
    ses: SesOptions, project_root: Path, summary: dict[str, Any], files: Sequence[str]
) -> mail.BuiltMessage:
    """The report e-mail, shared by :func:`send_report_email` and the SES sensor so both send the same.

    Attachments come only from this report's folder inside the project, named after its report id.
    """
    text, html = mail.report_bodies(summary, files)
    report_id = summary.get("report_id")
    return mail.build_message(
        sender=ses.sender_email or "",
        recipients=list(ses.recipient_emails),
        subject=mail.report_subject(summary),
        text_body=text,
        html_body=html,
        attachments=[Path(f) for f in files],
        folder=attachment_folder(files, report_id, project_root),
        stem=str(report_id) if report_id else None,
    )


def send_report_email(
    ses: SesOptions, project_root: Path, result: dict[str, Any], ses_client: Callable[[], Any]
) -> dict[str, Any]:
    """E-mail a generated report (its summary and files); never raises, never touches the files.

    ``ses_client`` makes the client only when a message is sent: creating it can fail (no credentials)
    and that failure is reported like any other.
    """
    if not ses.enabled:
        return {"sent": False, "reason": "SES_ENABLED is false"}
    try:
        message = report_message(ses, project_root, result, result["files"])
        message_id = mail.send_raw(ses_client(), ses.sender_email or "", message)
    except Exception as exc:  # a failed send is reported, never fatal, and never removes a file
        log.warning("report e-mail not sent: %s", exc)
        return {"sent": False, "reason": f"send failed: {type(exc).__name__}: {exc}"[:500]}
    return {
        "sent": True,
        "message_id": message_id,
        "recipients": message.recipients,
        "subject": message.subject,
        "attached": message.attached,
        "not_attached": message.listed,
        "size_bytes": message.size,
    }


def _ses_client(settings: Settings) -> Any:
    from finops_pipeline.aws_session import AwsResource

    return AwsResource.from_settings(settings).client("ses", region=settings.ses_region)


def generate_report(
    formats: str | Iterable[str] | None = None,
    *,
    last_n_days: int | None = None,
    preset: str | None = None,
    start: object = None,
    end: object = None,
    email: bool = False,
    output_dir: str | Path | None = None,
    settings: Settings | None = None,
    today: dt.date | None = None,
    database: str | Path | None = None,
) -> dict[str, Any]:
    """Write the report for one period in ``formats`` and optionally e-mail it.

    Returns ``{"files": [paths], "email": {...sent or why not}, "report_id", "period", "totals", ...}``.
    Defaults: ``REPORT_DEFAULT_FORMATS``, ``REPORT_OUTPUT_DIR``, preset ``month_to_date``.
    Raises :class:`ReportError` (bad formats, period or folder) before anything is written.
    """
    settings = settings or load_settings()
    options = ReportOptions.from_settings(settings)
    today = today or today_utc()
    chosen, period, folder = resolve_request(
        options, formats, last_n_days=last_n_days, preset=preset, start=start, end=end,
        output_dir=output_dir, today=today,
    )  # fmt: skip
    path = Path(database) if database is not None else settings.duckdb_path
    if not path.is_file():
        raise ReportError(f"the warehouse {path} does not exist yet: run the pipeline first (make demo)")
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise ReportError(
            f"the warehouse {path} cannot be read now ({exc}); "
            "a run is probably writing it: retry when it ends"
        ) from exc
    try:
        datasets, figures = read_report(conn, options, period)
        focus = focus_export_table(conn, period.start, period.end) if "focus" in chosen else None
    finally:
        conn.close()
    result = build_report(datasets, figures, options, chosen, period, folder, utc_now(), focus)
    if email:
        result["email"] = send_report_email(
            SesOptions.from_settings(settings), options.project_root, result, lambda: _ses_client(settings)
        )
    return result
