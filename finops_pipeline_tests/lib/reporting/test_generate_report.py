"""generate_report against the sandbox's warehouse: marts or raw fallbacks, values, safety and SES e-mail."""

import csv
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pyarrow.parquet as pq
import pypdf
import pytest

from finops_pipeline.clock import today_utc
from finops_pipeline.lib.reporting import OutputPathError, ReportError, generate_report
from finops_pipeline.lib.reporting.datasets import SPECS
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.lib.reporting.ses import sent_message
from finops_pipeline_tests.lib.reporting.synthetic import risky
from finops_pipeline_tests.pipeline_fixtures import pipeline_env, run_pipeline
from finops_sandbox.world import HOSTILE_TAG_VALUES

MART_ASSETS = (
    "commitment_inventory",
    "commitment_kpis",
    "tag_compliance_resources",
    "tag_compliance_summary",
    "recommendations",
    "cost_anomalies",
    "aws_budgets",
    "ce_cost_forecast",
    "budget_status",
)


@pytest.fixture(scope="module")
def marts_warehouse(
    ingested_warehouse: Path, sandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The session's ingested warehouse plus every mart the report reads (built once per module)."""
    database = tmp_path_factory.mktemp("marts") / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    monkeypatch = pytest.MonkeyPatch()
    try:
        env = pipeline_env(sandbox.env(), database, TAG_ALLOWED_VALUES=json.dumps(allowed_values(sandbox)))
        set_aws_env(monkeypatch, env, database.parent)
        from finops_pipeline.definitions import defs

        present = {k.to_user_string() for k in defs().resolve_asset_graph().get_all_asset_keys()}
        result = run_pipeline(assets=[a for a in MART_ASSETS if a in present])
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    finally:
        monkeypatch.undo()
    yield database


def allowed_values(sandbox) -> dict[str, list[str]]:
    """A governance rule set allowing every value the world uses except the hostile ones, so resources
    carrying a hostile value are non-compliant (invalid value) and show up among the worst offenders."""
    rows = sandbox.world.workload_tags.to_pylist()
    keys = ("Owner", "Project", "CostCenter")
    return {
        key: sorted(
            {
                r["value"]
                for r in rows
                if r["key"] == key and r["value"] and r["value"] not in HOSTILE_TAG_VALUES
            }
        )
        for key in keys
    }


def _truth_total(sandbox, start: dt.date, end: dt.date) -> Decimal:
    table = sandbox.world.truth_totals("DAILY").to_pylist()
    return sum((r["amount"] for r in table if start <= r["period_start"] < end), Decimal(0))


def _all_cells(files: list[str]) -> Iterator[tuple[str, str]]:
    for name in files:
        path = Path(name)
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                for row in csv.reader(handle):
                    yield from ((path.name, cell) for cell in row)
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            for sheet in book.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    yield from ((sheet.title, v) for v in row if isinstance(v, str))
        elif path.suffix == ".json":
            stack = [json.loads(path.read_text(encoding="utf-8"))]
            while stack:
                node = stack.pop()
                if isinstance(node, dict):
                    stack.extend(node.values())
                    yield from (("json key", k) for k in node)
                elif isinstance(node, list):
                    stack.extend(node)
                elif isinstance(node, str):
                    yield "json", node


def test_report_from_the_marts_reconciles_and_neutralises_hostile_tags(
    marts_warehouse: Path, sandbox, project: Path, pipeline_env_for
) -> None:
    pipeline_env_for(marts_warehouse)
    result = generate_report(preset="previous_full_month", formats="all")
    today = today_utc()
    start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert result["period"] == {
        "start": start.isoformat(),
        "end_exclusive": today.replace(day=1).isoformat(),
        "label": "previous_full_month",
    }
    truth = _truth_total(sandbox, start, today.replace(day=1))
    assert result["totals"]["total_unblended_usd"] == pytest.approx(float(truth), abs=0.01)
    with duckdb.connect(str(marts_warehouse), read_only=True) as conn:
        per_kind = dict(
            conn.execute(
                "SELECT kind, sum(estimated_monthly_savings_usd) FROM marts.recommendations GROUP BY 1"
            ).fetchall()
        )
    purchases = max(float(per_kind.pop("reserved_instances", 0)), float(per_kind.pop("savings_plans", 0)))
    assert result["totals"]["monthly_savings_usd"] == pytest.approx(
        sum(float(v) for v in per_kind.values()) + purchases, abs=0.01
    )  # RI and Savings Plans cover the same usage: the larger counts, never both
    sources = {name: d["source"] for name, d in result["datasets"].items()}
    assert sources["compliance_summary"] == "marts.tag_compliance_summary"
    assert sources["worst_offenders"] == "marts.tag_compliance_resources"
    assert sources["anomalies"] == "marts.cost_anomalies"
    assert sources["recommendations"] == "marts.recommendations"
    files = result["files"]
    assert all(Path(f).parent == project / "reports" for f in files)
    assert len(files) == len(SPECS) * 2 + 5  # CSV and Parquet per dataset; JSON, Excel, HTML, PDF, FOCUS
    # The executive PDF, read by a PDF reader, states the period's ground-truth total on its cover.
    cover = pypdf.PdfReader(next(f for f in files if f.endswith(".pdf"))).pages[0].extract_text()
    assert f"${float(truth):,.2f}" in cover
    # The hostile tag values reach the files, and none un-neutralised.
    cells = list(_all_cells(files))
    assert not [(where, v) for where, v in cells if risky(v)]
    texts = {v for _, v in cells}
    for hostile in ('=HYPERLINK("http://evil.example","x")', "+cmd", "-2+3", "@SUM(A1)"):
        assert any(("'" + hostile) in v for v in texts), hostile
    # Per-day costs read back from Parquet reconcile with the ground truth to the cent.
    days = pq.read_table(next(f for f in files if f.endswith("-cost_by_day.parquet"))).to_pylist()
    truth_days = {r["period_start"]: r["amount"] for r in sandbox.world.truth_totals("DAILY").to_pylist()}
    for row in days:
        assert row["unblended_usd"] == pytest.approx(float(truth_days[row["usage_date"]]), abs=0.005)
    services = pq.read_table(next(f for f in files if f.endswith("-cost_by_service.parquet"))).to_pylist()
    truth_services = {}
    for r in sandbox.world.truth_totals("DAILY", ["SERVICE"]).to_pylist():
        if start <= r["period_start"] < today.replace(day=1):
            truth_services[r["SERVICE"]] = truth_services.get(r["SERVICE"], Decimal(0)) + r["amount"]
    assert {s["service"]: round(s["unblended_usd"], 2) for s in services} == {
        k: round(float(v), 2) for k, v in truth_services.items() if v
    }


def test_report_on_raw_tables_says_which_marts_are_missing(
    ingested_warehouse: Path, project: Path, pipeline_env_for
) -> None:
    pipeline_env_for(ingested_warehouse)
    result = generate_report(["json", "xlsx"], last_n_days=30)
    notes = {name: d["note"] for name, d in result["datasets"].items()}
    assert result["datasets"]["anomalies"]["source"] == "raw"
    assert "marts.cost_anomalies does not exist yet" in notes["anomalies"]
    assert result["datasets"]["recommendations"]["source"] == "raw"
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        newest_snapshot = conn.execute(
            "SELECT count(*) FROM raw.ce_recommendations "
            "WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_recommendations)"
        ).fetchone()[0]
    assert result["datasets"]["recommendations"]["rows"] == newest_snapshot > 0
    assert notes["budget_status"].startswith("No data: marts.budget_status")
    payload = json.loads(Path(next(f for f in result["files"] if f.endswith(".json"))).read_text())
    assert payload["datasets"]["budget_status"]["rows"] == []
    book = openpyxl.load_workbook(next(f for f in result["files"] if f.endswith(".xlsx")), read_only=True)
    summary_notes = [r[5] for r in book["Summary"].iter_rows(values_only=True) if r and len(r) > 5 and r[5]]
    assert any("marts.cost_anomalies" in n for n in summary_notes)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"preset": "yesterday"}, ReportError, "unknown"),
        ({"preset": "month_to_date", "start": "2026-01-01"}, ReportError, "contradict"),
        ({"formats": "csv,docx"}, ReportError, "unknown format docx"),
        ({"output_dir": "../outside"}, OutputPathError, "not allowed"),
        ({"output_dir": "/tmp"}, OutputPathError, "outside the project"),
    ],
)
def test_bad_requests_fail_before_anything_is_written(
    ingested_warehouse: Path, project: Path, pipeline_env_for, kwargs, error, message
) -> None:
    pipeline_env_for(ingested_warehouse)
    with pytest.raises(error, match=message):
        generate_report(**kwargs)
    assert list(project.iterdir()) == []


def test_email_is_read_back_from_the_sandbox_ses(
    ingested_warehouse: Path, sandbox, project: Path, pipeline_env_for
) -> None:
    pipeline_env_for(
        ingested_warehouse,
        SES_ENABLED="true",
        SES_SENDER_EMAIL="finops@example.com",
        SES_RECIPIENT_EMAILS="cfo@example.com,platform@example.com",
    )
    result = generate_report(["html", "xlsx", "csv"], preset="month_to_date", email=True)
    sent = result["email"]
    assert sent["sent"] is True, sent
    stored, message = sent_message(sandbox.url, sent["message_id"])
    assert sorted(stored["destinations"]) == ["cfo@example.com", "platform@example.com"]  # once each
    assert [a.addr_spec for a in message["To"].addresses] == ["cfo@example.com", "platform@example.com"]
    assert message["From"] == "finops@example.com"
    assert message["Subject"] == sent["subject"]
    assert message["Subject"].startswith(f"[FinOps] Report {today_utc().replace(day=1).isoformat()} to ")
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert names == sorted(Path(f).name for f in result["files"]) == sorted(sent["attached"])
    assert len(stored["raw_data"].encode()) < 10 * 1024 * 1024
    html_attachment = next(p for p in message.iter_attachments() if p.get_filename().endswith(".html"))
    assert (
        html_attachment.get_payload(decode=True)
        == Path(next(f for f in result["files"] if f.endswith(".html"))).read_bytes()
    )
    body = message.get_body(("plain",)).get_content()
    assert f"${result['totals']['total_unblended_usd']:,.2f}" in body
    assert all(Path(f).is_file() for f in result["files"])


def test_failed_send_is_reported_and_keeps_the_files(
    ingested_warehouse: Path, project: Path, pipeline_env_for
) -> None:
    pipeline_env_for(
        ingested_warehouse,
        SES_ENABLED="true",
        SES_SENDER_EMAIL="someone@unverified.example",
        SES_RECIPIENT_EMAILS="cfo@example.com",
    )
    result = generate_report(["csv"], last_n_days=7, email=True)
    assert result["email"]["sent"] is False
    assert "MessageRejected" in result["email"]["reason"]
    assert len(result["files"]) == len(SPECS) and all(Path(f).is_file() for f in result["files"])


def test_email_not_requested_or_disabled(ingested_warehouse: Path, project: Path, pipeline_env_for) -> None:
    pipeline_env_for(ingested_warehouse)
    assert generate_report(["json"], last_n_days=3)["email"] == {"sent": False, "reason": "not requested"}
    assert generate_report(["json"], last_n_days=3, email=True)["email"] == {
        "sent": False,
        "reason": "SES_ENABLED is false",
    }
    assert load_settings().ses_enabled is False
