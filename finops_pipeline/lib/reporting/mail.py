"""E-mail: MIME messages for reports and anomaly alerts, and sending them through SES.

- One ``multipart/mixed`` message: a text and an HTML summary (``multipart/alternative``), then the
  report files as attachments, added in order of usefulness while the raw message stays under
  :data:`MAX_RAW_BYTES` (SES's 10 MB limit); files that do not fit are listed by name in the body.
- Only the report's own files are attached: regular files directly in its report folder, named after
  its report id, of a report type. Any other path (``/etc/passwd``, a symlink, ``../.env``) is refused
  without being opened, and listed as not attached with the reason.
- Header values built from data (account, service or tag names) go through :func:`header_safe`:
  control characters (CR, LF, ...) are removed before the header is set, so no value can add a header.
- ``send_raw_email`` is called without ``Destinations``: SES then takes the recipients from the To
  header, so each recipient is counted (and billed) once.
"""

from __future__ import annotations

import mimetypes
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from pathlib import Path
from typing import Any

from finops_pipeline.clock import utc_now

MAX_RAW_BYTES = 10 * 1024 * 1024 - 64 * 1024  # under SES's 10 MB, with room for SES's own headers
SUBJECT_MAX_CHARS = 180
TOO_BIG = "too large for this e-mail"
ATTACH_ORDER = (".pdf", ".html", ".xlsx", ".json", ".csv", ".parquet")
MIME_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".parquet": ("application", "vnd.apache.parquet"),
    ".csv": ("text", "csv"),
    ".json": ("application", "json"),
    ".html": ("text", "html"),
    ".pdf": ("application", "pdf"),
}


class EmailError(RuntimeError):
    """A message could not be built or sent."""


def header_safe(text: Any, limit: int = SUBJECT_MAX_CHARS) -> str:
    """One line of printable text: control characters (CR, LF, NUL, ...) become spaces, then trimmed."""
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in str(text))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass
class BuiltMessage:
    raw: bytes
    subject: str
    recipients: list[str]
    attached: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # "name (why not attached)": too big, missing, refused

    @property
    def size(self) -> int:
        return len(self.raw)


def _base_message(sender: str, recipients: Sequence[str], subject: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = header_safe(subject)
    message["From"] = header_safe(sender, 254)
    message["To"] = ", ".join(header_safe(r, 254) for r in recipients)
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message["X-FinOps-Pipeline"] = "report"
    return message


def _encoded_size(n: int) -> int:
    return (n + 2) // 3 * 4 * 78 // 76 + 600  # base64 at 76 columns + CRLF, plus part headers


def attachment_order(paths: Sequence[Path]) -> list[Path]:
    rank = {suffix: i for i, suffix in enumerate(ATTACH_ORDER)}
    return sorted(paths, key=lambda p: (rank.get(p.suffix.lower(), len(rank)), p.name))


def _refusal(path: Path, folder: Path | None, stem: str | None) -> str | None:
    """Why ``path`` may not be attached (None: it may). Decided from names and ``lstat`` only, never read."""
    name = path.name
    if folder is None or not stem:
        return "refused: no report folder or report id to check it against"
    if Path(os.path.abspath(path.parent)) != folder:
        return "refused: not in the report folder"
    if not (name.startswith(stem) and name[len(stem) : len(stem) + 1] in (".", "-")):
        return f"refused: not a file of report {stem}"
    if path.suffix.lower() not in ATTACH_ORDER:
        return "refused: not a report file type"
    if path.is_symlink():
        return "refused: a symbolic link"
    if not path.is_file():
        return "missing"
    return None


def vet_attachments(
    paths: Sequence[Path], folder: Path | None, stem: str | None
) -> tuple[list[Path], list[str]]:
    """The files that may be attached, and ``name (reason)`` for every other one."""
    folder = Path(os.path.abspath(folder)) if folder is not None else None
    allowed: list[Path] = []
    refused: list[str] = []
    for path in paths:
        reason = _refusal(Path(path), folder, stem)
        if reason is None:
            allowed.append(Path(path))
        else:
            refused.append(f"{header_safe(Path(path).name, 200)} ({reason})")
    return allowed, refused


def _read_attachment(path: Path) -> bytes:
    """The file's bytes, refusing a symlink swapped in since it was vetted."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def build_message(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    text_body: str,
    html_body: str,
    attachments: Sequence[Path] = (),
    folder: Path | None = None,
    stem: str | None = None,
    max_bytes: int = MAX_RAW_BYTES,
    not_attached_note: bool = True,
) -> BuiltMessage:
    """A message under ``max_bytes`` with as many of ``attachments`` as fit (most useful first).

    Only files of report ``stem`` directly in ``folder`` are attached (see :func:`vet_attachments`).
    """

    def compose(files: list[Path], listed: list[str]) -> EmailMessage:
        message = _base_message(sender, recipients, subject)
        text, html = text_body, html_body
        if listed and not_attached_note:
            text += "\n\nNot attached (the report files are in the report folder):\n"
            text += "\n".join(f"  - {name}" for name in listed)
            html += "<p><b>Not attached</b> (the report files are in the report folder):</p><ul>"
            html += "".join(f"<li>{escape(name)}</li>" for name in listed) + "</ul>"
        message.set_content(text, subtype="plain", charset="utf-8")
        message.add_alternative(html, subtype="html", charset="utf-8")
        for path in files:
            maintype, subtype = MIME_TYPES.get(
                path.suffix.lower(),
                tuple((mimetypes.guess_type(path.name)[0] or "application/octet-stream").split("/", 1)),
            )
            message.add_attachment(
                _read_attachment(path),
                maintype=maintype,
                subtype=subtype,
                filename=header_safe(path.name, 200),
            )
        return message

    candidates, listed = vet_attachments(attachment_order([Path(p) for p in attachments]), folder, stem)
    too_big = [f"{header_safe(p.name, 200)} ({TOO_BIG})" for p in candidates]
    base = len(compose([], too_big + listed).as_bytes())
    chosen: list[Path] = []
    running = base
    for path in candidates:
        cost = _encoded_size(path.stat().st_size)
        if running + cost < max_bytes:
            chosen.append(path)
            running += cost
    while True:
        rest = [f"{header_safe(p.name, 200)} ({TOO_BIG})" for p in candidates if p not in chosen] + listed
        raw = compose(chosen, rest).as_bytes()
        if len(raw) < max_bytes or not chosen:
            break
        chosen.pop()
    if len(raw) >= max_bytes:
        raise EmailError(f"even without attachments the message is {len(raw):,} bytes (limit {max_bytes:,})")
    return BuiltMessage(raw, header_safe(subject), list(recipients), [p.name for p in chosen], rest)


def _span(summary: dict[str, Any]) -> str:
    """The period's dates (summaries written before ``period_span`` existed carry start and last day)."""
    if summary.get("period_span"):
        return str(summary["period_span"])
    return f"{summary.get('totals', {}).get('period_start')} to {summary.get('period_last_day')}"


def report_subject(summary: dict[str, Any]) -> str:
    totals = summary.get("totals", {})
    return (
        f"[FinOps] Report {_span(summary)}: ${float(totals.get('total_unblended_usd') or 0):,.2f} unblended"
    )


def format_value(value: Any, kind: str) -> str:
    """A summary figure as every message shows it (USD to the cent, percent to a tenth)."""
    if value is None:
        return "–"
    if kind == "usd":
        return f"${float(value):,.2f}"
    if kind == "pct":
        return f"{float(value):,.1f}%"
    return f"{value:,}" if isinstance(value, int) else str(value)


SUMMARY_LINES = (
    ("Total unblended cost", "total_unblended_usd", "usd"),
    ("Amortized cost", "total_amortized_usd", "usd"),
    ("Compared with", "comparison", "text"),
    ("Comparison period total", "previous_period_unblended_usd", "usd"),
    ("Change vs comparison period", "change_vs_previous_pct", "pct"),
    ("Top service", "top_service", "text"),
    ("Top account", "top_account", "text"),
    ("Anomalies (high severity)", "anomalies_high_severity", "int"),
    ("Anomaly impact", "anomaly_impact_usd", "usd"),
    ("Savings available per month", "monthly_savings_usd", "usd"),
    ("Resources compliant", "compliance_pct", "pct"),
    ("Spend with the required tags", "spend_coverage_pct", "pct"),
    ("Budgets over or forecast over", "budgets_over", "int"),
)


def report_bodies(summary: dict[str, Any], files: Sequence[str]) -> tuple[str, str]:
    """Text and HTML bodies from the report's summary (the materialization's metadata)."""
    totals = summary.get("totals", {})
    period = f"{_span(summary)} ({totals.get('days')} days)"
    lines = [(label, format_value(totals.get(key), kind)) for label, key, kind in SUMMARY_LINES]
    top = summary.get("top_services") or []
    caveat = totals.get("coverage_caveat")  # degraded scans: said first, never left out
    text = [f"FinOps report for {period}", "", *([f"Caveat: {caveat}.", ""] if caveat else [])]
    if totals.get("spend_coverage_caveat"):  # inactive cost allocation tags: coverage leaves them out
        text += [f"Caveat: {totals['spend_coverage_caveat']}.", ""]
    text += [f"{label:<32} {value}" for label, value in lines]
    if top:
        text += ["", "Top services:"] + [
            f"  {header_safe(name, 80):<40} ${float(usd):,.2f}" for name, usd in top
        ]
    text += ["", "Files:"] + [f"  - {Path(f).name}" for f in files]
    html = [
        '<html><body style="font-family:Arial,sans-serif;color:#1f2937">',
        f'<h2 style="color:#1f3864">FinOps report for {escape(period)}</h2>',
        *([f'<p style="color:#b45309"><b>Caveat:</b> {escape(str(caveat))}.</p>'] if caveat else []),
        '<table style="border-collapse:collapse">',
    ]
    html += [
        f'<tr><td style="padding:3px 12px 3px 0;color:#6b7280">{escape(label)}</td>'
        f'<td style="padding:3px 0;font-weight:600">{escape(value)}</td></tr>'
        for label, value in lines
    ]
    html.append("</table>")
    if top:
        html.append("<h3>Top services</h3><ol>")
        html += [f"<li>{escape(str(name))}: ${float(usd):,.2f}</li>" for name, usd in top]
        html.append("</ol>")
    html.append(
        "<p>The full report is attached (HTML opens in any browser; "
        "the Excel workbook has one sheet per dataset).</p>"
    )
    html.append("</body></html>")
    return "\n".join(text), "".join(html)


def anomaly_subject(anomaly: dict[str, Any]) -> str:
    impact = float(anomaly.get("impact_usd") or 0)
    where = anomaly.get("service") or anomaly.get("grain") or "cost"
    who = anomaly.get("account_name") or anomaly.get("account_id") or "organisation"
    return f"[FinOps] High cost anomaly: {'+' if impact >= 0 else '-'}${abs(impact):,.2f} in {where} ({who})"


ANOMALY_FIELDS = (
    ("Account", "account_name"),
    ("Account ID", "account_id"),
    ("Service", "service"),
    ("Grain", "grain"),
    ("Started", "start_date"),
    ("Last day", "end_date"),
    ("Kind", "kind"),
    ("Actual", "actual_usd"),
    ("Expected", "expected_usd"),
    ("Impact", "impact_usd"),
    ("Impact %", "impact_pct"),
    ("Top driver", "top_driver"),
    ("Event", "event_id"),
)


def anomaly_rows(anomaly: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of an anomaly's known fields: the e-mail's table and the chat alerts' lines."""
    values = dict(anomaly)
    if anomaly.get("top_driver_value"):
        values["top_driver"] = f"{anomaly.get('top_driver_dimension')}={anomaly.get('top_driver_value')}"
    rows = []
    for label, key in ANOMALY_FIELDS:
        value = values.get(key)
        if value is None:
            continue
        if key.endswith("_usd"):
            value = f"${float(value):,.2f}"
        elif key.endswith("_pct"):
            value = f"{float(value):,.1f}%"
        rows.append((label, str(value)))
    return rows


def anomaly_bodies(anomaly: dict[str, Any]) -> tuple[str, str]:
    rows = anomaly_rows(anomaly)
    text = "A new high-severity cost anomaly was detected.\n\n" + "\n".join(f"{k:<12} {v}" for k, v in rows)
    html = (
        '<html><body style="font-family:Arial,sans-serif">'
        '<h2 style="color:#db2777">New high-severity cost anomaly</h2>'
        '<table style="border-collapse:collapse">'
        + "".join(
            f'<tr><td style="padding:3px 12px 3px 0;color:#6b7280">{escape(k)}</td><td>{escape(v)}</td></tr>'
            for k, v in rows
        )
        + "</table></body></html>"
    )
    return text, html


def send_raw(ses_client: Any, sender: str, message: BuiltMessage) -> str:
    """Send through SES; returns the MessageId. Recipients come from the To header (no Destinations)."""
    answer = ses_client.send_raw_email(Source=sender, RawMessage={"Data": message.raw})
    return str(answer["MessageId"])
