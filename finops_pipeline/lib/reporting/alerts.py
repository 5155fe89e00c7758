"""Alerts where the team lives: Slack and a generic JSON webhook, beside the SES e-mail.

Three kinds, each sent once per channel (the sensor's outbox, ``outbox.py``, dedupes across ticks):
a new high-severity cost anomaly, a budget breach (over budget, or forecast over, per month and
scope), and a new report. Delivery is one HTTPS POST with the standard library (``urllib``): Slack's
incoming webhooks and PagerDuty-style receivers need nothing more, so no Slack SDK earns its place.

Slack: an incoming webhook (https://api.slack.com/messaging/webhooks) takes ``{"text", "blocks"}``
and answers 200 ``ok``, or 400/403/404/410/500 with a short error (``invalid_payload``,
``channel_is_archived``...). Text is mrkdwn: ``&``, ``<`` and ``>`` must be escaped
(https://api.slack.com/reference/surfaces/formatting#escaping), which also keeps a tag value from
writing ``<!channel>`` or a link; a word joiner after every ``@`` keeps ``@channel``/``@here`` inert.

Webhook: a PagerDuty Events v2-shaped body (``event_action``, ``dedup_key``, ``payload.summary``,
``severity``, ``source``, ``custom_details``; https://developer.pagerduty.com/docs/events-api-v2/trigger-events/),
signed when ALERT_WEBHOOK_SECRET is set: ``X-Finops-Signature: sha256=HMAC(secret, timestamp + "." + body)``
with the timestamp in ``X-Finops-Timestamp``, and the dedup key again as ``Idempotency-Key``.

The URLs carry credentials: no error or log line here includes them (errors name the channel only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from finops_pipeline.clock import utc_now
from finops_pipeline.lib.reporting import mail
from finops_pipeline.lib.reporting.options import AlertOptions

BREACH_STATUSES = ("over_budget", "forecast_over_budget")
BREACH_FIELDS = (
    *("month", "scope", "account_id", "account_name", "budget_name", "status"),
    *("month_to_date_usd", "forecast_usd", "limit_usd", "forecast_pct_of_limit", "as_of"),
)
SIGNATURE_HEADER = "X-Finops-Signature"
TIMESTAMP_HEADER = "X-Finops-Timestamp"
MAX_VALUE_CHARS = 300  # one field's value; Slack's section text takes at most 3,000 characters
WORD_JOINER = "\u2060"
SEVERITY = {"anomaly": "critical", "budget": "warning", "report": "info"}  # PagerDuty's severities


class AlertSendError(RuntimeError):
    """A receiver refused or could not be reached; the message names the channel, never its URL."""


@dataclass(frozen=True)
class Alert:
    """One alert in words: a title and labelled values, the same for every channel."""

    kind: str  # anomaly | budget | report
    key: str  # what it is sent once for
    title: str
    fields: tuple[tuple[str, str], ...]


def budget_breaches(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON-safe breach rows of ``marts.budget_status``, each with the ``key`` its alert is sent once for.

    A breach is a month and scope over its limit, or forecast over it; the key holds the status too, so a
    forecast breach that becomes an actual one alerts again, once.
    """
    out = []
    for row in rows:
        if row.get("status") not in BREACH_STATUSES:
            continue
        item = {name: _json_safe(row.get(name)) for name in BREACH_FIELDS}
        who = row.get("budget_name") or row.get("account_id") or "organisation"
        item["key"] = f"budget:{item['month']}:{row.get('scope')}:{who}:{row['status']}"
        out.append(item)
    return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _usd(value: Any) -> str:
    return "–" if value is None else f"${float(value):,.2f}"


def anomaly_alert(anomaly: dict[str, Any]) -> Alert:
    """The anomaly e-mail's subject and fields (``mail.py``), so every channel says the same."""
    title = mail.anomaly_subject(anomaly).removeprefix("[FinOps] ")
    return Alert("anomaly", f"anomaly:{anomaly['key']}", title, tuple(mail.anomaly_rows(anomaly)))


def budget_alert(breach: dict[str, Any]) -> Alert:
    """Which budget, which month, and spend to date and forecast against the limit."""
    what = "Over budget" if breach.get("status") == "over_budget" else "Forecast over budget"
    scope = breach.get("budget_name") or breach.get("account_name") or breach.get("account_id")
    title = f"{what}: {scope or 'organisation'} ({str(breach.get('month'))[:7]})"
    fields = [
        ("Scope", str(breach.get("scope") or "")),
        ("Account", str(breach.get("account_name") or breach.get("account_id") or "organisation")),
        ("Spend to date", _usd(breach.get("month_to_date_usd"))),
        ("Forecast", _usd(breach.get("forecast_usd"))),
        ("Limit", _usd(breach.get("limit_usd"))),
        ("As of", str(breach.get("as_of") or "")),
    ]
    return Alert("budget", str(breach["key"]), title, tuple((k, v) for k, v in fields if v))


def report_alert(summary: dict[str, Any], files: Sequence[str]) -> Alert:
    """The report e-mail's subject and summary lines, and the file names (not their paths)."""
    totals = summary.get("totals", {})
    lines = [(label, mail.format_value(totals.get(key), kind)) for label, key, kind in mail.SUMMARY_LINES]
    names = ", ".join(Path(f).name for f in files)
    title = mail.report_subject(summary).removeprefix("[FinOps] ")
    return Alert("report", f"report:{summary.get('report_id')}", title, (*lines, ("Files", names)))


def slack_text(value: str) -> str:
    """Untrusted text made inert in Slack mrkdwn: ``& < >`` escaped, mentions broken, length capped."""
    text = value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@", "@" + WORD_JOINER)


def slack_payload(alert: Alert) -> dict[str, Any]:
    """An incoming-webhook message: a plain fallback ``text`` and one mrkdwn section of the fields."""
    lines = [f"*{slack_text(alert.title)}*"] + [f"*{label}:* {slack_text(v)}" for label, v in alert.fields]
    return {
        "text": slack_text(alert.title),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}}],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def webhook_payload(alert: Alert) -> dict[str, Any]:
    """A PagerDuty Events v2-shaped trigger: receivers dedupe on ``dedup_key`` too."""
    return {
        "event_action": "trigger",
        "dedup_key": alert.key,
        "payload": {
            "summary": alert.title[:1024],  # PagerDuty: summary at most 1,024 characters
            "severity": SEVERITY[alert.kind],
            "source": "finops-pipeline",
            "component": alert.kind,
            "timestamp": utc_now().isoformat(),
            "custom_details": dict(alert.fields),
        },
    }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A receiver that redirects is refused: the body (and its signature) goes only where it was set."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post_json(url: str, body: bytes, headers: dict[str, str], channel: str, timeout_s: float) -> str:
    """POST ``body``; the answer's text on 2xx, else :class:`AlertSendError` naming only the channel."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout_s) as answer:
            return answer.read(2048).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise AlertSendError(f"{channel} answered HTTP {exc.code}: {detail or exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertSendError(f"{channel} not reached: {type(exc).__name__}: {reason}") from None


def send(channel: str, alert: Alert, options: AlertOptions) -> dict[str, Any]:
    """Deliver one alert to ``slack`` or ``webhook``; returns what the sensor records about it."""
    headers = {"Content-Type": "application/json", "User-Agent": "finops-pipeline"}
    if channel == "slack" and options.slack_webhook_url:
        body = json.dumps(slack_payload(alert)).encode()
        answer = post_json(options.slack_webhook_url, body, headers, "slack", options.timeout_s)
    elif channel == "webhook" and options.webhook_url:
        body = json.dumps(webhook_payload(alert), sort_keys=True).encode()
        headers["Idempotency-Key"] = alert.key
        if options.webhook_secret:
            stamp = str(int(utc_now().timestamp()))
            headers[TIMESTAMP_HEADER] = stamp
            headers[SIGNATURE_HEADER] = "sha256=" + signature(options.webhook_secret, stamp, body)
        answer = post_json(options.webhook_url, body, headers, "webhook", options.timeout_s)
    else:
        raise AlertSendError(f"{channel} is not configured")
    return {"channel": channel, "bytes": len(body), "answer": answer[:200]}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of ``timestamp.body``: what a receiver recomputes to trust the body and its time."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
