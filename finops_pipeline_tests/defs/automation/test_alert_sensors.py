"""finops_alert_sensor against a real HTTP receiver on loopback: Slack and the JSON webhook.

Materializations are real events in a Dagster instance; each tick is the real sensor definition;
the receiver is a server thread. Each alert kind arrives once per channel with inert text; a receiver
that refuses twice gets it on the third tick, once; one that always refuses leaves it labelled failed.
"""

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import dagster as dg
import pytest

from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.lib.reporting.alerts import SIGNATURE_HEADER, TIMESTAMP_HEADER, budget_breaches
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.lib.reporting.receiver import Receiver, receiver

TODAY = dt.date(2026, 11, 27)
SLACK, HOOK = "/services/T0/B0/slack-token", "/hooks/finops"
SECRET = "s3cret-s3cret-s3cret"
HOSTILE = '<!channel> @here & <http://evil.example|click> =HYPERLINK("http://evil.example")'


def _sensor(rx: Receiver, **env: str) -> tuple[dg.SensorDefinition, dict[str, Any]]:
    settings = load_settings(
        {"SLACK_WEBHOOK_URL": rx.url + SLACK, "ALERT_WEBHOOK_URL": rx.url + HOOK,
         "ALERT_WEBHOOK_SECRET": SECRET, **env},
        today=TODAY,
    )  # fmt: skip
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == "finops_alert_sensor"]
    return sensor, {"alerts": resources_for(settings)["alerts"]}


def _tick(sensor: dg.SensorDefinition, resources: dict, instance: dg.DagsterInstance, cursor: str | None):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def _materialize(instance: dg.DagsterInstance, key: str, **metadata: Any) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=key, metadata={k: dg.MetadataValue.json(v) for k, v in metadata.items()}
        )
    )


def _anomaly(event_id: str) -> dict[str, Any]:
    return {
        "event_id": event_id, "severity": "high", "account_id": "111122223333", "account_name": HOSTILE,
        "service": "Amazon Relational Database Service", "start_date": "2026-11-20", "impact_usd": 812.5,
        "actual_usd": 900.0, "expected_usd": 87.5,
    }  # fmt: skip


BREACH = {
    "month": dt.date(2026, 11, 1), "scope": "budget", "account_id": None, "account_name": None,
    "budget_name": HOSTILE, "status": "forecast_over_budget", "month_to_date_usd": 950.0,
    "forecast_usd": 1320.25, "limit_usd": 1000.0, "forecast_pct_of_limit": 132.0, "as_of": TODAY,
}  # fmt: skip
REPORT = {
    "report_id": "finops-report-20261127T020000Z-0a1b2c3d",
    "summary": {"period_span": "2026-11-01 to 2026-11-26",
                "totals": {"total_unblended_usd": 33168.98, "anomalies_high_severity": 1,
                           "top_service": HOSTILE}},
    "files": ["/srv/finops/reports/finops-report-20261127T020000Z-0a1b2c3d.pdf"],
}  # fmt: skip


def _all_three(instance: dg.DagsterInstance) -> None:
    _materialize(instance, "cost_anomalies", new_high_severity_anomalies=[_anomaly("evt-1")])
    _materialize(instance, "budget_status", budget_breaches=budget_breaches([BREACH]))
    _materialize(instance, "finops_report", **REPORT)


def test_each_alert_kind_reaches_slack_and_the_webhook_once_with_inert_text() -> None:
    instance = dg.DagsterInstance.ephemeral()
    with receiver() as rx:
        sensor, resources = _sensor(rx)
        _all_three(instance)
        first = _tick(sensor, resources, instance, None)
        assert sorted(e.metadata["alert_status"].value for e in first.asset_events) == ["sent"] * 6
        second = _tick(sensor, resources, instance, first.cursor)  # nothing new: nothing sent
        # the same anomaly again in a later materialization, and a new one: only the new one goes out
        _materialize(
            instance, "cost_anomalies", new_high_severity_anomalies=[_anomaly("evt-1"), _anomaly("evt-2")]
        )
        third = _tick(sensor, resources, instance, second.cursor)
        _tick(sensor, resources, instance, third.cursor)
        slack, hook = rx.delivered(SLACK), rx.delivered(HOOK)
    assert second.skip_reason is not None and len(rx.received) == 8
    assert [r.json["text"].split(":")[0] for r in slack] == [
        "High cost anomaly", "Forecast over budget", "Report 2026-11-01 to 2026-11-26", "High cost anomaly"
    ]  # fmt: skip
    assert [r.json["dedup_key"] for r in hook] == [
        "anomaly:evt-1", BREACH_KEY, "report:finops-report-20261127T020000Z-0a1b2c3d", "anomaly:evt-2"
    ]  # fmt: skip
    for r in slack:
        text = r.json["blocks"][0]["text"]["text"]
        assert "<" not in text and ">" not in text  # no mention, link or channel ping can be written
        assert "&lt;!channel&gt;" in text and "@\u2060here" in text and "@here" not in text
        assert "&amp;" in text
    anomaly = slack[0].json["blocks"][0]["text"]["text"]
    assert "*Impact:* $812.50" in anomaly and "*Account ID:* 111122223333" in anomaly
    budget = slack[1].json["blocks"][0]["text"]["text"]
    assert "*Forecast:* $1,320.25" in budget and "*Limit:* $1,000.00" in budget
    report = slack[2].json["blocks"][0]["text"]["text"]
    assert "$33,168.98" in report and "finops-report-20261127T020000Z-0a1b2c3d.pdf" in report
    assert "/srv/finops" not in report  # file names, not the server's paths
    for r in hook:  # signed: the receiver can trust body and time
        stamp = r.headers[TIMESTAMP_HEADER]
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + r.body, hashlib.sha256).hexdigest()
        assert r.headers[SIGNATURE_HEADER] == f"sha256={expected}"
        assert r.headers["Idempotency-Key"] == r.json["dedup_key"]
    assert hook[0].json["payload"]["severity"] == "critical"
    assert hook[0].json["payload"]["custom_details"]["Account"] == HOSTILE  # JSON keeps text as data


BREACH_KEY = "budget:2026-11-01:budget:" + HOSTILE + ":forecast_over_budget"


def test_a_receiver_that_refuses_twice_gets_the_alert_once_on_the_third_tick() -> None:
    instance = dg.DagsterInstance.ephemeral()
    with receiver() as rx:
        rx.refuse_first = {SLACK: 2, HOOK: 2}
        sensor, resources = _sensor(rx)
        _materialize(instance, "finops_report", **REPORT)
        cursor, statuses = None, []
        for _ in range(4):
            result = _tick(sensor, resources, instance, cursor)
            cursor = result.cursor
            statuses.append(sorted(e.metadata["alert_status"].value for e in result.asset_events))
        assert statuses == [["retry", "retry"], ["retry", "retry"], ["sent", "sent"], []]
        assert len(rx.delivered(SLACK)) == len(rx.delivered(HOOK)) == 1
        assert len(rx.received) == 6  # 2 refused + 1 delivered, per channel


def test_a_receiver_that_always_refuses_leaves_the_alert_labelled_failed_not_lost() -> None:
    instance = dg.DagsterInstance.ephemeral()
    with receiver() as rx:
        rx.refuse_always = {HOOK}
        sensor, resources = _sensor(rx, ALERT_MAX_SEND_ATTEMPTS="3")
        _materialize(instance, "finops_report", **REPORT)
        cursor, events = None, []
        for _ in range(5):
            result = _tick(sensor, resources, instance, cursor)  # never raises: the tick succeeds
            cursor = result.cursor
            events += [e for e in result.asset_events if e.metadata["alert_channel"].value == "webhook"]
        assert len(rx.delivered(SLACK)) == 1 and len(rx.received) == 1 + 3  # 3 attempts, then it stops
    assert [e.metadata["alert_status"].value for e in events] == ["retry", "retry", "failed"]
    assert events[-1].asset_key == dg.AssetKey("finops_report")
    assert (
        events[-1].metadata["alert_error"].value == "AlertSendError: webhook answered HTTP 500: rollup_error"
    )
    failed = json.loads(json.loads(cursor)["outbox"])["failed"]
    assert failed == [
        {"key": "webhook:report:finops-report-20261127T020000Z-0a1b2c3d", "attempts": 3,
         "last_error": "AlertSendError: webhook answered HTTP 500: rollup_error"}
    ]  # fmt: skip
    assert rx.url not in cursor and "slack-token" not in cursor  # the URLs never reach the cursor


def test_an_unreachable_receiver_is_retried_and_its_url_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    with receiver() as rx:
        url = rx.url
    # the server is gone: connections to its port are refused
    settings = load_settings({"ALERT_WEBHOOK_URL": url + HOOK}, today=TODAY)
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == "finops_alert_sensor"]
    _materialize(instance, "finops_report", **REPORT)
    result = _tick(sensor, {"alerts": resources_for(settings)["alerts"]}, instance, None)
    (event,) = result.asset_events
    assert event.metadata["alert_status"].value == "retry"
    assert event.metadata["alert_error"].value.startswith("AlertSendError: webhook not reached: ")
    assert url not in event.metadata["alert_error"].value and url not in caplog.text


def test_no_channel_configured_skips_with_the_settings_to_set() -> None:
    settings = load_settings({}, today=TODAY)
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == "finops_alert_sensor"]
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    result = _tick(
        sensor, {"alerts": resources_for(settings)["alerts"]}, dg.DagsterInstance.ephemeral(), None
    )
    assert "SLACK_WEBHOOK_URL" in str(result) and "ALERT_WEBHOOK_URL" in str(result)
