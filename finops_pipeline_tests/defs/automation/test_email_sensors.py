"""The SES sensors with build_sensor_context and cursors: once per report / anomaly, bounded retries."""

# ruff: noqa: E501  (expected subjects are long)

import json
import os
import uuid
from pathlib import Path

import dagster as dg
import pytest

from finops_pipeline.config_resources import resources_for
from finops_pipeline.defs.automation.definitions import build_automation
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.lib.reporting.ses import sent_messages


@pytest.fixture
def project(project: Path) -> Path:
    """The shared project folder, with the default report folder in it."""
    (project / "reports").mkdir()
    return project


@pytest.fixture
def recipient() -> str:
    """A recipient unique to the test, to find its mail among the session sandbox's."""
    return f"t{uuid.uuid4().hex[:10]}@example.com"


def _settings(aws_env: dict, recipient: str, sender: str = "finops@example.com", **extra: str):
    return load_settings(
        {
            **aws_env,
            "FINOPS_PROJECT_ROOT": os.environ["FINOPS_PROJECT_ROOT"],  # the `project` fixture's folder
            "SES_ENABLED": "true",
            "SES_SENDER_EMAIL": sender,
            "SES_RECIPIENT_EMAILS": recipient,
            **extra,
        }
    )


def _report(instance: dg.DagsterInstance, folder: Path, name: str, total: float = 1234.5) -> list[str]:
    files = []
    for suffix in (".html", ".xlsx"):
        path = folder / f"{name}{suffix}"
        path.write_bytes(f"{name}{suffix}".encode() * 100)
        files.append(str(path))
    summary = {
        "report_id": name,
        "period_last_day": "2026-10-31",
        "totals": {"period_start": "2026-10-01", "days": 31, "total_unblended_usd": total},
        "top_services": [["Amazon EC2", 100.0]],
    }
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="finops_report",
            metadata={
                "report_id": name,
                "files": dg.MetadataValue.json(files),
                "summary": dg.MetadataValue.json(summary),
            },
        )
    )
    return files


def _sensor(settings, name: str = "finops_report_email_sensor") -> dg.SensorDefinition:
    """The sensor as the code location loads it with ``settings`` (its default status among them)."""
    (sensor,) = [s for s in build_automation(settings).sensors if s.name == name]
    return sensor


def _tick(sensor, instance, cursor, settings):
    resources = {k: v for k, v in resources_for(settings).items() if k in ("aws", "ses", "reports")}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def _mine(url: str, recipient: str) -> list[dict]:
    return [m for m in sent_messages(url) if recipient in m["destinations"]]


def _statuses(result) -> list[tuple[str, str]]:
    return [(e.metadata["email_key"].value, e.metadata["email_status"].value) for e in result.asset_events]


def test_disabled_sensor_skips(aws_env: dict) -> None:
    sensor = _sensor(load_settings(aws_env))
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    result = _tick(sensor, dg.DagsterInstance.ephemeral(), None, load_settings(aws_env))
    assert isinstance(result, dg.SkipReason) and "SES_ENABLED is false" in result.skip_message


def test_each_report_is_mailed_once(aws_env: dict, sandbox, project: Path, recipient: str) -> None:
    settings = _settings(aws_env, recipient)
    sensor = _sensor(settings)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    instance = dg.DagsterInstance.ephemeral()
    _report(instance, project / "reports", "finops-report-20261126T020000Z-00000001")
    files = _report(instance, project / "reports", "finops-report-20261127T020000Z-0000000a")
    first = _tick(sensor, instance, None, settings)
    assert _statuses(first) == [
        ("finops-report-20261127T020000Z-0000000a", "sent")
    ]  # a first tick mails the newest report only
    mail = _mine(sandbox.url, recipient)
    assert len(mail) == 1 and "finops-report-20261127T020000Z-0000000a.html" in mail[0]["raw_data"]
    assert json.loads(first.cursor)["sent"] == ["finops-report-20261127T020000Z-0000000a"]
    assert (project / "reports" / ".finops-report-20261127T020000Z-0000000a.emailed").is_file()
    again = _tick(sensor, instance, first.cursor, settings)
    assert again.skip_reason is not None and again.asset_events == []
    _report(instance, project / "reports", "finops-report-20261127T030000Z-0000000b")
    second = _tick(sensor, instance, again.cursor, settings)
    assert _statuses(second) == [("finops-report-20261127T030000Z-0000000b", "sent")]
    assert second.asset_events[0].metadata["email_attached"].value == [
        "finops-report-20261127T030000Z-0000000b.html",
        "finops-report-20261127T030000Z-0000000b.xlsx",
    ]
    # The cursor lost (say a tick timed out after sending): the marker file still prevents a resend.
    lost = _tick(sensor, instance, None, settings)
    assert lost.asset_events == [] and lost.skip_reason is None
    assert len(_mine(sandbox.url, recipient)) == 2
    assert all(Path(f).is_file() for f in files)


def test_failed_sends_are_recorded_retried_then_given_up(
    aws_env: dict, sandbox, project: Path, recipient: str
) -> None:
    bad = _settings(aws_env, recipient, sender="nobody@unverified.example", SES_MAX_SEND_ATTEMPTS="3")
    sensor = _sensor(bad)
    instance = dg.DagsterInstance.ephemeral()
    files = _report(instance, project / "reports", "finops-report-20261127T020000Z-000000ff")
    cursor = None
    seen = []
    for _ in range(4):
        result = _tick(sensor, instance, cursor, bad)
        cursor = result.cursor
        seen += _statuses(result)
    assert seen == [
        ("finops-report-20261127T020000Z-000000ff", "retry"),
        ("finops-report-20261127T020000Z-000000ff", "retry"),
        ("finops-report-20261127T020000Z-000000ff", "failed"),
    ]
    state = json.loads(cursor)
    assert state["pending"] == [] and state["failed"][0]["attempts"] == 3
    assert "MessageRejected" in state["failed"][0]["last_error"]
    assert all(Path(f).is_file() for f in files)  # a failed send never removes a file
    assert _mine(sandbox.url, recipient) == []
    # A later report still goes out once the sender is fixed; the given-up one is not retried.
    good = _settings(aws_env, recipient)
    _report(instance, project / "reports", "finops-report-20261127T020000Z-000000ee")
    result = _tick(_sensor(good), instance, cursor, good)
    assert _statuses(result) == [("finops-report-20261127T020000Z-000000ee", "sent")]


def test_a_retry_succeeds_on_a_later_tick(aws_env: dict, sandbox, project: Path, recipient: str) -> None:
    bad = _settings(aws_env, recipient, sender="nobody@unverified.example")
    instance = dg.DagsterInstance.ephemeral()
    _report(instance, project / "reports", "finops-report-20261127T020000Z-000000cc")
    first = _tick(_sensor(bad), instance, None, bad)
    assert _statuses(first) == [("finops-report-20261127T020000Z-000000cc", "retry")]
    assert "email_error" in first.asset_events[0].metadata
    good = _settings(aws_env, recipient)
    second = _tick(_sensor(good), instance, first.cursor, good)
    assert _statuses(second) == [("finops-report-20261127T020000Z-000000cc", "sent")]
    assert second.asset_events[0].metadata["email_attempts"].value == 2
    assert len(_mine(sandbox.url, recipient)) == 1


def _anomalies(instance: dg.DagsterInstance, items: list[dict] | None, count: int = 0) -> None:
    metadata: dict = {"anomalies_new_high_severity": count if items is None else len(items)}
    if items is not None:
        metadata["new_high_severity_anomalies"] = dg.MetadataValue.json(items)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key="cost_anomalies", metadata=metadata)
    )


def _anomaly(event_id: str, account_name: str = "prod-payments") -> dict:
    return {
        "event_id": event_id,
        "severity": "high",
        "grain": "account_service",
        "account_id": "111122223333",
        "account_name": account_name,
        "service": "Amazon Elastic Compute Cloud - Compute",
        "start_date": "2026-11-20",
        "end_date": "2026-11-26",
        "kind": "spike",
        "actual_usd": 2500.0,
        "expected_usd": 500.0,
        "impact_usd": 2000.0,
        "impact_pct": 400.0,
        "top_driver_dimension": "usage_type",
        "top_driver_value": "BoxUsage:m5.4xlarge",
    }


def test_each_new_high_severity_anomaly_is_mailed_once(aws_env: dict, sandbox, recipient: str) -> None:
    import email
    from email import policy

    settings = _settings(aws_env, recipient)
    sensor = _sensor(settings, "anomaly_alert_email_sensor")
    instance = dg.DagsterInstance.ephemeral()
    _anomalies(instance, [_anomaly("fp-1", "evil\r\nBcc: victim@evil.example"), _anomaly("fp-2")])
    first = _tick(sensor, instance, None, settings)
    assert _statuses(first) == [("fp-1", "sent"), ("fp-2", "sent")]
    mail = _mine(sandbox.url, recipient)
    assert len(mail) == 2
    parsed = [email.message_from_string(m["raw_data"], policy=policy.default) for m in mail]
    assert all(p["Bcc"] is None for p in parsed)
    assert "victim@evil.example" not in str(mail[0]["destinations"])
    subjects = sorted(p["Subject"] for p in parsed)
    assert (
        subjects[0]
        == "[FinOps] High cost anomaly: +$2,000.00 in Amazon Elastic Compute Cloud - Compute (evil Bcc: victim@evil.example)"
    )
    # The next run still lists fp-2 (and a new fp-3): only fp-3 is mailed.
    _anomalies(instance, [_anomaly("fp-2"), _anomaly("fp-3")])
    second = _tick(sensor, instance, first.cursor, settings)
    assert _statuses(second) == [("fp-3", "sent")]
    # A materialization without the list is logged, not mailed; nothing new.
    _anomalies(instance, None, count=4)
    third = _tick(sensor, instance, second.cursor, settings)
    assert third.asset_events == [] and third.skip_reason is not None
    assert len(_mine(sandbox.url, recipient)) == 3
