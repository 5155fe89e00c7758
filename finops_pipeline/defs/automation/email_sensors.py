"""E-mail delivery sensors (SES). They read event metadata and files, never DuckDB (one writer at a time).

- ``finops_report_email_sensor``: each new ``finops_report`` materialization -> one e-mail with the
  summary and as many of its files as fit under 10 MB (the rest listed by name).
- ``anomaly_alert_email_sensor``: each new high-severity anomaly listed in a ``cost_anomalies``
  materialization's ``new_high_severity_anomalies`` metadata -> one e-mail.

Both keep their state in the cursor (see :mod:`finops_pipeline.lib.reporting.outbox`): a failed send is
logged, recorded as an observation of the asset and retried on later ticks up to SES_MAX_SEND_ATTEMPTS;
nothing is sent twice; no file is ever removed. On a first tick (no cursor) only the newest
materialization is considered, so switching a sensor on does not mail the whole history.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import ReportsResource, SesResource
from finops_pipeline.lib.reporting import mail
from finops_pipeline.lib.reporting.options import SesOptions
from finops_pipeline.lib.reporting.outbox import Outbox, Outcome
from finops_pipeline.lib.reporting.report import report_message
from finops_pipeline.lib.reporting.safety import attachment_folder

REPORT_KEY = dg.AssetKey("finops_report")
ANOMALIES_KEY = dg.AssetKey("cost_anomalies")
ANOMALY_LIST_KEY = "new_high_severity_anomalies"
ANOMALY_COUNT_KEY = "anomalies_new_high_severity"
FETCH_LIMIT = 25
TICK_BUDGET_S = 40.0  # sensors time out at 60 s


def _json_value(metadata: dict[str, Any], key: str) -> Any:
    value = metadata.get(key)
    if value is None:
        return None
    return getattr(value, "data", getattr(value, "value", value))


def materializations_after(
    instance: dg.DagsterInstance, key: dg.AssetKey, after: int | None
) -> list[tuple[int, dict[str, Any]]]:
    """(storage id, metadata) of ``key``'s materializations after storage id ``after``, oldest first;
    only the newest when ``after`` is None (a sensor's first tick does not replay the history)."""
    if after is None:
        records = instance.fetch_materializations(key, limit=1, ascending=False).records
    else:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=FETCH_LIMIT, ascending=True
        ).records
    return [
        (r.storage_id, dict(r.asset_materialization.metadata) if r.asset_materialization else {})
        for r in records
    ]


def new_materializations(
    context: dg.SensorEvaluationContext, key: dg.AssetKey, outbox: Outbox
) -> list[tuple[int, dict[str, Any]]]:
    """:func:`materializations_after` the outbox's cursor, which moves past them."""
    out = materializations_after(context.instance, key, outbox.after)
    for storage_id, _ in out:
        outbox.after = max(outbox.after or 0, storage_id)
    return out


def _observation(key: dg.AssetKey, outcome: Outcome, kind: str) -> dg.AssetObservation:
    metadata: dict[str, Any] = {
        "email_status": outcome.status,
        "email_kind": kind,
        "email_key": outcome.key,
        "email_attempts": outcome.attempts,
    }
    if outcome.error:
        metadata["email_error"] = outcome.error
    for name in ("message_id", "size_bytes"):
        if name in outcome.detail:
            metadata[f"email_{name}"] = outcome.detail[name]
    if "attached" in outcome.detail:
        metadata["email_attached"] = dg.MetadataValue.json(outcome.detail["attached"])
        metadata["email_not_attached"] = dg.MetadataValue.json(outcome.detail["not_attached"])
    return dg.AssetObservation(asset_key=key, metadata=metadata)


def _log(context: dg.SensorEvaluationContext, outcomes: list[Outcome], kind: str) -> None:
    for o in outcomes:
        if o.status == "sent":
            context.log.info("%s e-mail %s sent (%s)", kind, o.key, o.detail.get("message_id"))
        elif o.status in ("retry", "failed"):
            context.log.warning(
                "%s e-mail %s not sent (attempt %d, %s): %s",
                kind,
                o.key,
                o.attempts,
                "will retry" if o.status == "retry" else "giving up",
                o.error,
            )


def _result(
    context: dg.SensorEvaluationContext, outbox: Outbox, outcomes: list[Outcome], key: dg.AssetKey, kind: str
) -> dg.SensorResult:
    _log(context, outcomes, kind)
    events = [_observation(key, o, kind) for o in outcomes if o.status != "already_sent"]
    skip = None
    if not outcomes:
        skip = dg.SkipReason(
            f"nothing to e-mail ({len(outbox.pending)} pending, {len(outbox.sent)} sent, "
            f"{len(outbox.failed)} given up)"
        )
    return dg.SensorResult(cursor=outbox.dump(), asset_events=events, skip_reason=skip)


def _marker(payload: dict[str, Any], root: Path) -> Path | None:
    """``.<report_id>.emailed`` beside the report files: a durable 'already sent' record.

    Only for a real report id in a confined report folder (the key comes from run metadata).
    """
    folder = attachment_folder(payload.get("files") or [], payload.get("key"), root)
    return None if folder is None else folder / f".{payload['key']}.emailed"


def _marker_exists(payload: dict[str, Any], root: Path) -> bool:
    marker = _marker(payload, root)
    return marker is not None and marker.exists()


def _write_marker(payload: dict[str, Any], detail: dict[str, Any], root: Path) -> None:
    marker = _marker(payload, root)
    if marker is None:
        return
    fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as handle:
        json.dump({"sent_at": utc_now().isoformat(), **detail}, handle, default=str)


def _send(ses: SesOptions, aws: AwsResource, message: mail.BuiltMessage) -> dict[str, Any]:
    """Send one built message; the facts both sensors record about it."""
    client = aws.client("ses", region=ses.region)
    return {"message_id": mail.send_raw(client, ses.sender_email or "", message), "size_bytes": message.size}


Enqueue = Callable[[dg.SensorEvaluationContext, Outbox, int, dict[str, Any]], None]
Send = Callable[[dict[str, Any]], dict[str, Any]]


def _email_tick(
    context: dg.SensorEvaluationContext,
    ses: SesOptions,
    *,
    asset_key: dg.AssetKey,
    kind: str,
    enqueue: Enqueue,
    send: Send,
    **process_options: Any,
) -> dg.SensorResult | dg.SkipReason:
    """The tick both SES sensors share: new materializations -> outbox -> sends -> cursor and events.

    ``enqueue`` turns one materialization into outbox entries, ``send`` mails one entry, and
    ``process_options`` go to :meth:`Outbox.process` (send caps, durable markers).
    """
    if not ses.enabled:
        return dg.SkipReason(
            "SES_ENABLED is false: set SES_ENABLED, SES_SENDER_EMAIL and SES_RECIPIENT_EMAILS"
        )
    outbox = Outbox.load(context.cursor)
    for storage_id, metadata in new_materializations(context, asset_key, outbox):
        enqueue(context, outbox, storage_id, metadata)
    outcomes = outbox.process(
        send, max_attempts=ses.max_send_attempts, time_budget_s=TICK_BUDGET_S, **process_options
    )
    return _result(context, outbox, outcomes, asset_key, kind)


def _enqueue_report(
    context: dg.SensorEvaluationContext, outbox: Outbox, storage_id: int, metadata: dict[str, Any]
) -> None:
    files = _json_value(metadata, "files") or []
    summary = _json_value(metadata, "summary") or {}
    key = str(_json_value(metadata, "report_id") or f"storage-{storage_id}")
    outbox.enqueue(key, {"key": key, "storage_id": storage_id, "files": files, "summary": summary})


def report_email_tick(
    context: dg.SensorEvaluationContext, aws: AwsResource, ses: SesResource, reports: ReportsResource
) -> dg.SensorResult | dg.SkipReason:
    """``finops_report_email_sensor``: e-mails each new finops_report, retrying failed sends."""
    options, root = ses.options(), Path(reports.project_root)

    def send(payload: dict[str, Any]) -> dict[str, Any]:
        message = report_message(options, root, payload["summary"], payload["files"])
        return {**_send(options, aws, message), "attached": message.attached, "not_attached": message.listed}

    return _email_tick(
        context,
        options,
        asset_key=REPORT_KEY,
        kind="report",
        enqueue=_enqueue_report,
        send=send,
        max_sends=5,
        already_done=lambda payload: _marker_exists(payload, root),
        on_sent=lambda payload, detail: _write_marker(payload, detail, root),
    )


def anomaly_payloads(storage_id: int, metadata: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """The anomalies of one ``cost_anomalies`` materialization to e-mail, or why there are none."""
    listed = _json_value(metadata, ANOMALY_LIST_KEY)
    if listed is None:
        count = _json_value(metadata, ANOMALY_COUNT_KEY) or 0
        if count:
            return [], (
                f"cost_anomalies materialization {storage_id} reports {count} new high-severity anomalies "
                "but has no "
                f"'{ANOMALY_LIST_KEY}' metadata list to e-mail them from"
            )
        return [], None
    payloads = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and item.get("event_id") and item.get("severity", "high") == "high":
            payloads.append({**item, "key": str(item["event_id"])})
    return payloads, None


def _enqueue_anomalies(
    context: dg.SensorEvaluationContext, outbox: Outbox, storage_id: int, metadata: dict[str, Any]
) -> None:
    payloads, problem = anomaly_payloads(storage_id, metadata)
    if problem:
        context.log.warning(problem)
    for payload in payloads:
        outbox.enqueue(payload["key"], payload)


def anomaly_email_tick(
    context: dg.SensorEvaluationContext, aws: AwsResource, ses: SesResource
) -> dg.SensorResult | dg.SkipReason:
    """``anomaly_alert_email_sensor``: e-mails each new high-severity cost anomaly once."""
    options = ses.options()

    def send(anomaly: dict[str, Any]) -> dict[str, Any]:
        text, html = mail.anomaly_bodies(anomaly)
        message = mail.build_message(
            sender=options.sender_email or "",
            recipients=list(options.recipient_emails),
            subject=mail.anomaly_subject(anomaly),
            text_body=text,
            html_body=html,
        )
        return _send(options, aws, message)

    return _email_tick(
        context,
        options,
        asset_key=ANOMALIES_KEY,
        kind="anomaly",
        enqueue=_enqueue_anomalies,
        send=send,
        max_sends=20,
    )
