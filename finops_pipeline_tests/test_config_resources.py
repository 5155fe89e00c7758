"""Credentials reach the resources by name: the Dagster UI shows which variable, never the value."""

import pytest

from finops_pipeline.config_resources import resources_for
from finops_pipeline.settings import load_settings

SLACK = "https://hooks.slack.com/services/T000/B000/s3cr3tvalue"
WEBHOOK = "https://alerts.example.com/hook/abcdef"
SECRET = "0123456789abcdef-shared"


def test_alert_credentials_are_bound_by_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET", SECRET)
    alerts = resources_for(load_settings())["alerts"]
    # What the UI's resource page lists: the variables' names.
    shown = alerts._get_non_default_public_field_values()
    assert shown["slack_webhook_url"] == "SLACK_WEBHOOK_URL"
    assert shown["webhook_url"] == "ALERT_WEBHOOK_URL"
    assert shown["webhook_secret"] == "ALERT_WEBHOOK_SECRET"
    assert SLACK not in repr(shown) and SECRET not in repr(shown)
    # What the sender gets at run time: the values.
    options = alerts.process_config_and_initialize().options()
    assert (options.slack_webhook_url, options.webhook_url, options.webhook_secret) == (
        SLACK,
        WEBHOOK,
        SECRET,
    )


def test_unset_alerts_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    options = resources_for(load_settings())["alerts"].options()
    assert options.slack_webhook_url is None and options.webhook_url is None
