"""Alert text and shapes: inert Slack mrkdwn, budget breach keys, secrets kept out of reprs."""

import datetime as dt

import pytest

from finops_pipeline.lib.reporting.alerts import (
    WORD_JOINER,
    budget_alert,
    budget_breaches,
    slack_payload,
    slack_text,
    webhook_payload,
)
from finops_pipeline.lib.reporting.options import AlertOptions


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<!channel> deploy", "&lt;!channel&gt; deploy"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U024BE7LH>", f"&lt;@{WORD_JOINER}U024BE7LH&gt;"),
        ("@channel @here @everyone", f"@{WORD_JOINER}channel @{WORD_JOINER}here @{WORD_JOINER}everyone"),
        ("<http://evil.example|click me>", "&lt;http://evil.example|click me&gt;"),
        ("R&D &amp; co", "R&amp;D &amp;amp; co"),  # escaped once more: shown as typed
        ("x" * 400, "x" * 299 + "…"),
    ],
)
def test_slack_text_is_inert(value: str, expected: str) -> None:
    assert slack_text(value) == expected


def _row(status: str, **extra: object) -> dict:
    return {
        "month": dt.date(2026, 11, 1), "scope": "account", "account_id": "111122223333",
        "account_name": "prod", "budget_name": None, "status": status, "month_to_date_usd": 10.0,
        "forecast_usd": 20.0, "limit_usd": 15.0, "forecast_pct_of_limit": 133.3,
        "as_of": dt.date(2026, 11, 27), **extra,
    }  # fmt: skip


def test_budget_breaches_are_the_over_and_forecast_over_rows_keyed_by_month_scope_and_status() -> None:
    rows = [_row("ok"), _row("over_daily_threshold"), _row("forecast_over_budget"), _row("over_budget")]
    breaches = budget_breaches(rows)
    assert [b["key"] for b in breaches] == [
        "budget:2026-11-01:account:111122223333:forecast_over_budget",
        "budget:2026-11-01:account:111122223333:over_budget",
    ]
    assert breaches[0]["month"] == "2026-11-01" and breaches[0]["forecast_usd"] == 20.0
    alert = budget_alert(breaches[0])
    assert alert.title == "Forecast over budget: prod (2026-11)"
    assert dict(alert.fields)["Forecast"] == "$20.00" and dict(alert.fields)["Limit"] == "$15.00"
    slack = slack_payload(alert)["blocks"][0]["text"]["text"]
    assert slack.splitlines()[0] == "*Forecast over budget: prod (2026-11)*"
    hook = webhook_payload(alert)
    assert hook["dedup_key"] == breaches[0]["key"] and hook["payload"]["severity"] == "warning"


def test_alert_options_never_show_their_urls() -> None:
    options = AlertOptions(
        slack_webhook_url="https://hooks.slack.com/services/T/B/secret-token",
        webhook_url="https://example.com/hook?key=secret-key",
        webhook_secret="0123456789abcdef",
    )
    assert options.channels == ("slack", "webhook")
    assert "secret" not in repr(options) and "0123456789abcdef" not in repr(options)
