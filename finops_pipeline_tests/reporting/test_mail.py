"""MIME building: header injection, the 10 MB budget, and what a mail client parses."""

import email
import os
from email import policy
from pathlib import Path

from finops_pipeline.reporting import mail

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


def test_attachments_fill_up_to_the_limit_and_the_rest_is_listed(tmp_path: Path) -> None:
    files = {}
    for name, size in (
        ("r.html", 200_000),
        ("r.xlsx", 3_000_000),
        ("r.json", 2_500_000),
        ("r-a.csv", 2_000_000),
        ("r-b.csv", 900_000),
        ("r-a.parquet", 3_000_000),
    ):
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        files[name] = path
    missing = tmp_path / "gone.csv"
    built = mail.build_message(
        sender=SENDER, recipients=TO, subject="Report", text_body="body", html_body="<p>body</p>",
        attachments=[*files.values(), missing], max_bytes=10 * 1024 * 1024,
    )  # fmt: skip
    assert built.size < 10 * 1024 * 1024
    assert built.attached[:2] == ["r.html", "r.xlsx"]  # most useful first
    assert "r-a.parquet" in built.listed and "gone.csv" in built.listed
    parsed = _parse(built.raw)
    names = [part.get_filename() for part in parsed.iter_attachments()]
    assert names == built.attached
    for part in parsed.iter_attachments():
        assert part.get_payload(decode=True) == files[part.get_filename()].read_bytes()
    text = parsed.get_body(("plain",)).get_content()
    assert "r-a.parquet" in text and "gone.csv" in text and "Not attached" in text
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed["To"] == ", ".join(TO)


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
