"""MIME building: header injection, the 10 MB budget, and what a mail client parses."""

import email
import os
from email import policy
from pathlib import Path

from finops_pipeline.lib.reporting import mail

SENDER = "finops@example.com"
TO = ["a@example.com", "b@example.com"]


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def test_subject_from_hostile_names_cannot_inject_headers() -> None:
    anomaly = {
        "event_id": "fp-1",
        "impact_usd": 1234.5,
        "service": "Amazon EC2\r\nBcc: victim@evil.example",
        "account_name": "prod\nX-Injected: yes\u2028Cc: other@evil.example",
    }
    text, html = mail.anomaly_bodies(anomaly)
    built = mail.build_message(
        sender=SENDER, recipients=TO, subject=mail.anomaly_subject(anomaly), text_body=text, html_body=html
    )
    parsed = _parse(built.raw)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None and parsed["Cc"] is None
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["Subject"].startswith(
        "[FinOps] High cost anomaly: +$1,234.50 in Amazon EC2 Bcc: victim@evil.example"
    )
    assert [a.addr_spec for a in parsed["To"].addresses] == TO
    html_part = parsed.get_body(("html",)).get_content()
    assert "&lt;" not in html_part or "<script" not in html_part


def test_header_safe_strips_every_control_character() -> None:
    assert mail.header_safe("a\r\nb\tc\x00d\x1be\u2028f\u200bg") == "a b c d e f g"
    assert len(mail.header_safe("x" * 500)) == mail.SUBJECT_MAX_CHARS


STEM = "finops-report-20261127T020000Z-3f9a1c2b"


def test_attachments_fill_up_to_the_limit_and_the_rest_is_listed(tmp_path: Path) -> None:
    files = {}
    for suffix, size in (
        (".html", 200_000),
        (".xlsx", 3_000_000),
        (".json", 2_500_000),
        ("-a.csv", 2_000_000),
        ("-b.csv", 900_000),
        ("-a.parquet", 3_000_000),
    ):
        path = tmp_path / f"{STEM}{suffix}"
        path.write_bytes(os.urandom(size))
        files[path.name] = path
    missing = tmp_path / f"{STEM}-gone.csv"
    built = mail.build_message(
        sender=SENDER, recipients=TO, subject="Report", text_body="body", html_body="<p>body</p>",
        attachments=[*files.values(), missing], folder=tmp_path, stem=STEM, max_bytes=10 * 1024 * 1024,
    )  # fmt: skip
    assert built.size < 10 * 1024 * 1024
    assert built.attached[:2] == [f"{STEM}.html", f"{STEM}.xlsx"]  # most useful first
    assert f"{STEM}-a.parquet (too large for this e-mail)" in built.listed
    assert f"{STEM}-gone.csv (missing)" in built.listed
    parsed = _parse(built.raw)
    names = [part.get_filename() for part in parsed.iter_attachments()]
    assert names == built.attached
    for part in parsed.iter_attachments():
        assert part.get_payload(decode=True) == files[part.get_filename()].read_bytes()
    text = parsed.get_body(("plain",)).get_content()
    assert f"{STEM}-a.parquet" in text and f"{STEM}-gone.csv (missing)" in text and "Not attached" in text
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed["To"] == ", ".join(TO)


def test_only_the_reports_own_files_are_attached_and_others_are_never_read(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    own = folder / f"{STEM}.json"
    own.write_text("{}")
    other_report = folder / "finops-report-20261126T020000Z-00000000.json"
    other_report.write_text("{}")
    secret = tmp_path / ".env"
    secret.write_text("AWS_SECRET_ACCESS_KEY=x")
    link = folder / f"{STEM}-link.csv"
    link.symlink_to(secret)
    script = folder / f"{STEM}.sh"
    script.write_text("echo")
    built = mail.build_message(
        sender=SENDER, recipients=TO, subject="Report", text_body="b", html_body="<p>b</p>",
        attachments=[own, Path("/etc/passwd"), secret, other_report, link, script, folder / ".." / ".env"],
        folder=folder, stem=STEM,
    )  # fmt: skip
    assert built.attached == [own.name]
    assert sorted(built.listed) == sorted(
        [
            "passwd (refused: not in the report folder)",
            ".env (refused: not in the report folder)",
            ".env (refused: not in the report folder)",
            f"finops-report-20261126T020000Z-00000000.json (refused: not a file of report {STEM})",
            f"{STEM}-link.csv (refused: a symbolic link)",
            f"{STEM}.sh (refused: not a report file type)",
        ]
    )
    parsed = _parse(built.raw)
    assert [part.get_filename() for part in parsed.iter_attachments()] == [own.name]
    raw = built.raw.decode("ascii", "replace")
    assert "root:" not in raw and "AWS_SECRET_ACCESS_KEY" not in raw
    assert "passwd (refused: not in the report folder)" in parsed.get_body(("plain",)).get_content()


def test_without_a_report_folder_nothing_is_attached(tmp_path: Path) -> None:
    own = tmp_path / f"{STEM}.json"
    own.write_text("{}")
    built = mail.build_message(
        sender=SENDER, recipients=TO, subject="Report", text_body="b", html_body="<p>b</p>", attachments=[own]
    )
    assert built.attached == []
    assert built.listed == [f"{own.name} (refused: no report folder or report id to check it against)"]


def test_report_bodies_escape_names_and_show_totals() -> None:
    summary = {
        "period_last_day": "2026-10-31",
        "totals": {
            "period_start": "2026-10-01",
            "days": 31,
            "total_unblended_usd": 1234.5,
            "compliance_pct": 52.0,
            "top_account": "<b>x</b>",
        },
        "top_services": [["=cmd|' /C calc'!A0 <i>", 10.0]],
    }
    text, html = mail.report_bodies(summary, ["/r/finops-report-x.xlsx"])
    assert "$1,234.50" in text and "52.0%" in text and "finops-report-x.xlsx" in text
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "&lt;i&gt;" in html
    assert mail.report_subject(summary) == "[FinOps] Report 2026-10-01 to 2026-10-31: $1,234.50 unblended"
