"""Every setting given bad values: a clear error naming the variable, the value and the fix; nothing written.

The table must cover every variable ``settings.py`` reads (a test checks that), so a new setting cannot
arrive without its bad values. Empty and blank values mean "unset" (the default) except where a value is
required (the SES sender and recipients when SES_ENABLED=true).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from finops_pipeline import settings as settings_module
from finops_pipeline.settings import SettingsError, load_settings
from finops_pipeline.settings_fields import quoted

TODAY = dt.date(2026, 11, 27)
BAD_VALUES: dict[str, list[str]] = {
    "AWS_REGION": ["us-east", "US-EAST-1", "42", "zz-fake-9"],
    "AWS_ROLE_ARN": [
        "arn:aws:iam::12345:role/x",
        "FinOpsCentralReadOnly",
        "arn:aws:iam::111122223333:user/x",
    ],
    "SINGLE_ACCOUNT_MODE": ["maybe", "2"],
    "FINOPS_BILLING_VIEW_ARN": [
        "arn:aws:billing::12345:billingview/primary",
        "arn:aws:iam::111122223333:role/x",
        "primary",
    ],
    "REQUIRED_TAG_KEYS": [",", "aws:createdBy", "k" * 129, "Env#1", ",".join(f"K{i}" for i in range(51))],
    "LOOKBACK_DAYS": ["0", "-5", "91", "ninety", "1.5"],
    "LOG_LEVEL": ["VERBOSE", "5"],
    "LOG_FORMAT": ["xml", "1"],
    "FINOPS_DUCKDB_PATH": ["data/finops.csv", "{directory}", "~nosuchuser/x.duckdb", ".git/finops.duckdb"],
    "FINOPS_START_DATE": ["2026-13-01", "yesterday", "2026-11-28", "2024-01-01"],
    "FINOPS_MEMBER_ROLE_NAME": ["arn:aws:iam::111122223333:role/FinOps", "r" * 65, "bad name!"],
    "FINOPS_SCAN_REGIONS": ["us-east-1,mars-1", ",", "us-east-1,zz-fake-9"],
    "FINOPS_RESTATEMENT_DAYS": ["0", "-1", "61", "three"],
    "FINOPS_MONTH_CLOSE_DAYS": ["-1", "28", "x"],
    "FINOPS_RESTATEMENT_REQUEST_BUDGET": ["0", "101", "-2", "many"],
    "FINOPS_RUN_REQUEST_BUDGET": ["0", "1000001", "lots"],
    "FINOPS_DRILLDOWN_DAYS": ["27", "501", "ninety"],
    "FINOPS_SP_COVERAGE_ACCOUNT_DAYS": ["0", "32", "weekly"],
    "FINOPS_COST_DETAIL_SOURCE": ["focus", "s3", "data-export"],
    "FINOPS_MAX_CONCURRENCY": ["0", "-3", "65", "lots"],
    "FINOPS_DAILY_SCHEDULE_ENABLED": ["sometimes"],
    "FINOPS_DAILY_SCHEDULE_CRON": ["every day", "61 * * * *", "* * *"],
    "TAG_ALLOWED_VALUES": [
        "{not json",
        "[1,2]",
        "missing.json",
        '{"Environment": "prod"}',
        '{"Environment": ["a"], "Environment": ["b"]}',
        '{"Environment": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"Environment": ["prod", "  "]}',
        '{"Environment": ["prod\\u0000"]}',
        "~nosuchuser/rules.json",
    ],
    "TAG_KEY_CASE_MODE": ["loose"],
    "TAG_EXEMPT_RESOURCE_TYPES": ["ec2:", "EC2 Instance"],
    "TAG_COMPLIANCE_THRESHOLD": ["-1", "101", "high"],
    "SNAPSHOT_MAX_AGE_DAYS": ["0", "-1", "x"],
    "ANOMALY_MIN_IMPACT_USD": ["-1", "abc", "inf"],
    "ANOMALY_MIN_SCORE": ["0", "-1", "x"],
    "ANOMALY_MIN_PROBABILITY": ["-0.1", "1.5", "x"],
    "ANOMALY_HIGH_IMPACT_USD": ["-5", "x"],
    "COST_DAILY_WARNING": ["-1", "x"],
    "COST_MONTHLY_WARNING": ["-1", "nan"],
    "REPORT_DEFAULT_FORMATS": ["docx", ","],
    "REPORT_OUTPUT_DIR": ["../outside", "/etc", "reports/../../x", ".git/hooks", "~nosuchuser/r"],
    "MAX_EXCEL_ROWS": ["0", "-1", "x"],
    "REPORT_SCHEDULE_ENABLED": ["perhaps"],
    "REPORT_SCHEDULE_CRON": ["whenever", "0 25 * * *"],
    "REPORT_SCHEDULE_TIMEZONE": ["Mars/Olympus", "UTC+25", "localtime", "posix/Europe/Paris", "right/UTC"],
    "SES_ENABLED": ["yes please"],
    "SES_REGION": ["eu", "zz-fake-9"],
    "SES_SENDER_EMAIL": ["not-an-email", "a@", "@example.com"],
    "SES_RECIPIENT_EMAILS": ["a@example.com,broken", "x"],
    "SES_MAX_SEND_ATTEMPTS": ["0", "21", "x"],
    "SLACK_WEBHOOK_URL": [
        "http://hooks.slack.com/services/T/B/x",
        "hooks.slack.com/x",
        "https://:8080/x",
        "ftp://h/x",
    ],
    "ALERT_WEBHOOK_URL": ["http://example.com/hook", "https://h:99999/x", "not a url"],
    "ALERT_WEBHOOK_SECRET": ["tiny-secret", "sixteen-chars-ok\nbut-broken"],
    "ALERT_MAX_SEND_ATTEMPTS": ["0", "21", "x"],
    "COMMITMENT_UTILIZATION_TARGET": ["-1", "100.5", "x"],
    "COMMITMENT_COVERAGE_TARGET": ["-0.1", "101", "high"],
    "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS": ["-1", "3601", "soon"],
    "FINOPS_READ_COPY": ["copy", "2"],
    "SUPPORT_PROBE_ENABLED": ["enable"],
    "FINOPS_PROJECT_ROOT": ["relative/project", "/no/such/folder", "/"],
    "FOCUS_EXPORT_URI": ["s3://Bad_Bucket/x", "s3://ab", "gs://bucket/x", "/no/such/export", "~nosuchuser/e"],
    "SHOWBACK_TAG_KEY": ["aws:createdBy", "k" * 129, "Cost#Center"],
    "FOCUS_SENSOR_INTERVAL_SECONDS": ["29", "86401", "hourly"],
}
CASES = [(name, value) for name, values in BAD_VALUES.items() for value in values]
IDS = [f"{n}={v[:20]}#{i}" for i, (n, v) in enumerate(CASES)]


def settings_read() -> set[str]:
    source = Path(settings_module.__file__).read_text()
    return set(re.findall(r'r\.get\(\s*\(?\s*"([A-Z_0-9]+)"', source))


def test_the_table_covers_every_setting() -> None:
    assert settings_read() - set(BAD_VALUES) == set(), "add bad values for these settings"
    assert set(BAD_VALUES) - settings_read() == set(), "these are no longer settings"


@pytest.mark.parametrize(("name", "value"), CASES, ids=IDS)
def test_bad_value_names_the_variable_value_and_fix(
    name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths (TAG_ALLOWED_VALUES, REPORT_OUTPUT_DIR) resolve here
    value = value.replace("{directory}", str(tmp_path))
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value}, today=TODAY)
    message = str(caught.value)
    line = next(line for line in message.splitlines() if f"{name}=" in line)
    assert f"{name}={quoted(name, value)} is invalid: " in line
    if name.endswith(("_URL", "_SECRET")):  # credentials: only their length is ever shown
        assert value not in message and "<secret, " in line
    assert " Fix: " in line and len(line.split(" Fix: ", 1)[1]) > 10
    assert sorted(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_values_mean_unset(blank: str) -> None:
    env = {name: blank for name in BAD_VALUES}
    assert load_settings(env, today=TODAY) == load_settings({}, today=TODAY)


def test_empty_required_values_are_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"SES_ENABLED": "true", "SES_SENDER_EMAIL": "", "SES_RECIPIENT_EMAILS": " "}, today=TODAY
        )
    message = str(caught.value)
    assert "SES_SENDER_EMAIL" in message and "SES_RECIPIENT_EMAILS" in message and "Fix:" in message


def test_every_bad_setting_is_listed_at_once() -> None:
    # A bad FINOPS_PROJECT_ROOT leaves REPORT_OUTPUT_DIR nothing to be checked against: left out here.
    skipped = ("FINOPS_DUCKDB_PATH", "FINOPS_PROJECT_ROOT")
    env = {name: values[0] for name, values in BAD_VALUES.items() if name not in skipped}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, today=TODAY)
    message = str(caught.value)
    for name in env:
        assert f"{name}=" in message, name


def test_definitions_refuse_to_load_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad setting stops the code location before any file, folder or DuckDB is created."""
    from finops_pipeline.definitions import defs

    database = tmp_path / "data" / "finops.duckdb"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINOPS_DUCKDB_PATH", str(database))
    monkeypatch.setenv("FINOPS_MAX_CONCURRENCY", "-3")
    with pytest.raises(Exception) as caught:
        defs()
    error: BaseException | None = caught.value
    while error is not None and not isinstance(error, SettingsError):  # dg wraps it in its component tree
        error = error.__cause__ or error.__context__
    assert isinstance(error, SettingsError)
    assert "FINOPS_MAX_CONCURRENCY='-3' is invalid: must be between 1 and 64. Fix:" in str(error)
    assert sorted(tmp_path.iterdir()) == []


def test_a_webhook_secret_without_its_webhook_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ALERT_WEBHOOK_SECRET": "0123456789abcdef"}, today=TODAY)
    message = str(caught.value)
    assert "ALERT_WEBHOOK_URL" in message and "Fix:" in message and "0123456789abcdef" not in message


def test_cost_detail_from_an_export_needs_the_export() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"FINOPS_COST_DETAIL_SOURCE": "data_export"}, today=TODAY)
    message = str(caught.value)
    expected = "FINOPS_COST_DETAIL_SOURCE=data_export needs FOCUS_EXPORT_URI. Fix: set FOCUS_EXPORT_URI"
    assert expected in message
    given = load_settings(
        {"FINOPS_COST_DETAIL_SOURCE": "DATA_EXPORT", "FOCUS_EXPORT_URI": "s3://bucket/focus/finops-focus"},
        today=TODAY,
    )
    assert given.cost_detail_source == "data_export"
