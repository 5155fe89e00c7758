"""The finops_report asset and job: run config, metadata, failures before writing, then the e-mail sensor."""

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import openpyxl
import pypdf
import pytest

from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.lib.reporting.datasets import SPECS
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.lib.reporting.ses import sent_message


def _job():
    from finops_pipeline.definitions import defs

    return defs().resolve_job_def("finops_report_job")


def test_job_writes_the_report_from_run_config(
    warehouse_copy: Path, project: Path, pipeline_env_for, sandbox
) -> None:
    recipient = f"r{uuid.uuid4().hex[:8]}@example.com"
    pipeline_env_for(
        warehouse_copy,
        REPORT_DEFAULT_FORMATS="csv",
        REPORT_OUTPUT_DIR="out/reports",
        MAX_EXCEL_ROWS="5",
        SES_ENABLED="true",
        SES_SENDER_EMAIL="finops@example.com",
        SES_RECIPIENT_EMAILS=recipient,
    )
    instance = dg.DagsterInstance.ephemeral()
    config = {"formats": ["xlsx", "html", "pdf"], "preset": "previous_full_month", "as_of": "2026-11-15"}
    result = _job().execute_in_process(
        run_config={"ops": {"finops_report": {"config": config}}}, instance=instance
    )
    assert result.success
    metadata = result.asset_materializations_for_node("finops_report")[0].metadata
    files = metadata["files"].value
    assert sorted(Path(f).suffix for f in files) == [".html", ".pdf", ".xlsx"]
    assert all(Path(f).parent == project / "out" / "reports" and Path(f).is_file() for f in files)
    assert metadata["period_start"].value == "2026-10-01"
    assert metadata["period_end_exclusive"].value == "2026-11-01"
    assert metadata["file_count"].value == 3
    summary = metadata["summary"].value
    assert summary["totals"]["total_unblended_usd"] == metadata["total_unblended_usd"].value
    october = {
        row["period_start"]: row["amount"]
        for row in sandbox.world.truth_totals("MONTHLY", [], "UnblendedCost").to_pylist()
    }[dt.date(2026, 10, 1)]
    assert metadata["total_unblended_usd"].value == pytest.approx(float(october), abs=0.01)
    # the executive PDF, opened by a PDF reader, states the period's total to the cent on its cover
    pdf = pypdf.PdfReader(next(f for f in files if f.endswith(".pdf")))
    assert len(pdf.pages) == metadata["pdf_pages"].value >= 3
    assert f"${float(october):,.2f}" in pdf.pages[0].extract_text()
    assert metadata["excel_truncated_datasets"].value >= 1  # MAX_EXCEL_ROWS=5
    book = openpyxl.load_workbook(next(f for f in files if f.endswith(".xlsx")), read_only=True)
    assert book["Cost by day"].max_row == 6
    # The e-mail sensor sees this materialization and mails it.
    settings = load_settings()
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == "finops_report_email_sensor"]
    resources = {k: v for k, v in resources_for(settings).items() if k in ("aws", "ses", "reports")}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        tick = sensor(context)
    event = tick.asset_events[0].metadata
    assert event["email_status"].value == "sent"
    stored, message = sent_message(sandbox.url, event["email_message_id"].value)
    assert stored["destinations"] == [recipient]
    assert sorted(p.get_filename() for p in message.iter_attachments()) == sorted(Path(f).name for f in files)
    assert "2026-10-01 to 2026-10-31" in message["Subject"]


def test_defaults_come_from_settings(warehouse_copy: Path, project: Path, pipeline_env_for) -> None:
    pipeline_env_for(warehouse_copy, REPORT_DEFAULT_FORMATS="json,csv")
    result = _job().execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    metadata = result.asset_materializations_for_node("finops_report")[0].metadata
    files = metadata["files"].value
    assert {Path(f).suffix for f in files} == {".json", ".csv"} and len(files) == len(
        SPECS
    ) + 1  # a CSV per dataset and the JSON
    assert all(Path(f).parent == project / "reports" for f in files)
    today = today_utc()
    assert metadata["period_label"].value == "month_to_date"
    assert metadata["period_start"].value == today.replace(day=1).isoformat()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"preset": "last_n_days"}, "needs last_n_days"),
        ({"start": "2026-10-05", "end": "2026-10-01"}, "not after start"),
        ({"output_dir": "../../elsewhere"}, "not allowed"),
        ({"formats": ["docx"]}, "unknown format docx"),
        ({"as_of": "yesterday"}, "YYYY-MM-DD"),
    ],
)
def test_bad_run_config_fails_before_writing(
    warehouse_copy: Path, project: Path, pipeline_env_for, config, message
) -> None:
    pipeline_env_for(warehouse_copy)
    result = _job().execute_in_process(
        run_config={"ops": {"finops_report": {"config": config}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert message in failure.step_failure_data.error.to_string()
    assert list(project.iterdir()) == []
