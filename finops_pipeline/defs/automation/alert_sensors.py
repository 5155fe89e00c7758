"""``finops_alert_sensor``: Slack and the generic webhook, for the three things worth a message.

- each new high-severity anomaly of a ``cost_anomalies`` materialization (the list the e-mail sensor
  reads, ``new_high_severity_anomalies``);
- each budget breach of a ``budget_status`` materialization (``budget_breaches``: over budget or
  forecast over, per month, scope and status);
- each new ``finops_report`` (its summary and file names).

Like the SES sensors it reads event metadata, never DuckDB, and keeps its state in the cursor: one
outbox (``lib/reporting/outbox.py``) whose keys are ``<channel>:<alert key>``, so each alert reaches
each channel once across ticks and runs; a failed POST is retried on later ticks up to
ALERT_MAX_SEND_ATTEMPTS, then kept as failed (with its last error) and recorded as an observation of
the source asset. A receiver that is down never fails the tick, so the cursor always moves on.
"""

import json
from dataclasses import asdict
from typing import Any

import dagster as dg

from finops_pipeline.config_resources import AlertsResource
from finops_pipeline.defs.automation.email_sensors import (
    ANOMALIES_KEY,
    REPORT_KEY,
    TICK_BUDGET_S,
    anomaly_payloads,
    materializations_after,
)
from finops_pipeline.lib.reporting.alerts import Alert, anomaly_alert, budget_alert, report_alert, send
from finops_pipeline.lib.reporting.outbox import Outbox, Outcome

BUDGETS_KEY = dg.AssetKey("budget_status")
SOURCES = {"anomaly": ANOMALIES_KEY, "budget": BUDGETS_KEY, "report": REPORT_KEY}
MAX_SENDS = 30  # per tick, over every channel


def _value(metadata: dict[str, Any], key: str) -> Any:
    value = metadata.get(key)
    return getattr(value, "data", getattr(value, "value", value))


def alerts_of(
    context: dg.SensorEvaluationContext, kind: str, storage_id: int, metadata: dict[str, Any]
) -> list[Alert]:
    """The alerts one materialization of the ``kind``'s asset asks for."""
    if kind == "anomaly":
        payloads, problem = anomaly_payloads(storage_id, metadata)
        if problem:
            context.log.warning(problem)
        return [anomaly_alert(p) for p in payloads]
    if kind == "budget":
        listed = _value(metadata, "budget_breaches") or []
        return [budget_alert(b) for b in listed if isinstance(b, dict) and b.get("key")]
    summary = dict(_value(metadata, "summary") or {})
    summary.setdefault("report_id", _value(metadata, "report_id") or f"storage-{storage_id}")
    return [report_alert(summary, _value(metadata, "files") or [])]


def _alert(payload: dict[str, Any]) -> Alert:
    data = payload["alert"]
    return Alert(data["kind"], data["key"], data["title"], tuple(tuple(f) for f in data["fields"]))


def _observation(outcome: Outcome) -> dg.AssetObservation:
    payload = outcome.payload
    metadata: dict[str, Any] = {
        "alert_status": outcome.status,  # sent | retry | failed
        "alert_channel": payload["channel"],
        "alert_kind": payload["alert"]["kind"],
        "alert_key": payload["alert"]["key"],
        "alert_attempts": outcome.attempts,
    }
    if outcome.error:
        metadata["alert_error"] = outcome.error
    return dg.AssetObservation(asset_key=SOURCES[payload["alert"]["kind"]], metadata=metadata)


def alert_tick(
    context: dg.SensorEvaluationContext, alerts: AlertsResource
) -> dg.SensorResult | dg.SkipReason:
    """New materializations -> one outbox entry per alert and channel -> one POST attempt each."""
    options = alerts.options()
    if not options.channels:
        return dg.SkipReason("no alert channel: set SLACK_WEBHOOK_URL and/or ALERT_WEBHOOK_URL")
    state = json.loads(context.cursor) if context.cursor else {}
    after: dict[str, int] = dict(state.get("after", {}))
    outbox = Outbox.load(state.get("outbox"))
    for kind, key in SOURCES.items():
        for storage_id, metadata in materializations_after(context.instance, key, after.get(kind)):
            after[kind] = max(after.get(kind, 0), storage_id)
            for alert in alerts_of(context, kind, storage_id, metadata):
                for channel in options.channels:
                    outbox.enqueue(f"{channel}:{alert.key}", {"channel": channel, "alert": asdict(alert)})
    outcomes = outbox.process(
        lambda payload: send(payload["channel"], _alert(payload), options),
        max_attempts=options.max_send_attempts,
        time_budget_s=TICK_BUDGET_S,
        max_sends=MAX_SENDS,
    )
    for o in outcomes:
        if o.status in ("retry", "failed"):
            context.log.warning(
                "alert %s not sent (attempt %d, %s): %s", o.key, o.attempts, o.status, o.error
            )
    cursor = json.dumps({"after": after, "outbox": outbox.dump()}, sort_keys=True)
    events = [_observation(o) for o in outcomes if o.status != "already_sent"]
    skip = None
    if not outcomes:
        skip = dg.SkipReason(
            f"nothing to send ({len(outbox.pending)} pending, {len(outbox.sent)} sent, "
            f"{len(outbox.failed)} given up)"
        )
    return dg.SensorResult(cursor=cursor, asset_events=events, skip_reason=skip)
