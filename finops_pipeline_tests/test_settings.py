import datetime as dt
from pathlib import Path

import pytest

from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.settings import SettingsError, load_settings

TODAY = dt.date(2026, 11, 27)


def test_defaults_follow_the_documented_values() -> None:
    s = load_settings({}, today=TODAY)
    assert s.aws_region == "us-east-1"
    assert s.required_tag_keys == ("Environment", "Owner", "Project", "CostCenter")
    assert s.duckdb_path == Path("data/finops.duckdb")
    assert s.start_date == dt.date(2025, 10, 1)
    assert s.member_role_name == "FinOpsMemberReadOnly"
    assert s.restatement_days == 3
    assert s.restatement_request_budget == 4
    assert s.run_request_budget == 2000  # $20 of Cost Explorer requests per run
    assert s.scan_regions == ("us-east-1",)
    assert s.role_arn is None and s.single_account_mode is False


def test_values_are_parsed_and_the_alias_is_honoured() -> None:
    s = load_settings(
        {
            "AWS_REGION": "eu-west-1",
            "ASSUME_ROLE_ARN": "arn:aws:iam::111122223333:role/FinOpsCentral",
            "SINGLE_ACCOUNT_MODE": "Yes",
            "REQUIRED_TAG_KEYS": " Team , Env,Team",
            "FINOPS_SCAN_REGIONS": "us-east-1, eu-west-1",
            "FINOPS_START_DATE": "2026-01-15",
            "FINOPS_MAX_CONCURRENCY": "16",
            "LOG_LEVEL": "debug",
            "FINOPS_BILLING_VIEW_ARN": "arn:aws:billing::111122223333:billingview/custom-organization",
        },
        today=TODAY,
    )
    assert s.billing_view_arn == "arn:aws:billing::111122223333:billingview/custom-organization"
    assert s.aws_region == "eu-west-1"
    assert s.role_arn == "arn:aws:iam::111122223333:role/FinOpsCentral"
    assert s.single_account_mode is True
    assert s.required_tag_keys == ("Team", "Env")
    assert s.scan_regions == ("us-east-1", "eu-west-1")
    assert s.start_date == dt.date(2026, 1, 15)
    assert s.max_concurrency == 16
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("AWS_REGION", "mars-1", "not an AWS region code"),
        ("AWS_ROLE_ARN", "arn:aws:iam::12:role/x", "not an IAM role ARN"),
        ("SINGLE_ACCOUNT_MODE", "maybe", "not a boolean"),
        ("REQUIRED_TAG_KEYS", "aws:createdBy", "reserved prefix"),
        ("LOOKBACK_DAYS", "120", "between 1 and 90"),
        ("LOG_LEVEL", "LOUD", "must be one of"),
        ("LOG_FORMAT", "xml", "must be one of"),
        ("FINOPS_DUCKDB_PATH", "data/finops.csv", ".duckdb file"),
        ("FINOPS_START_DATE", "2026-02-30", "YYYY-MM-DD"),
        ("FINOPS_START_DATE", "2027-01-01", "after today"),
        ("FINOPS_START_DATE", "2024-01-01", "older than Cost Explorer keeps"),
        ("FINOPS_MEMBER_ROLE_NAME", "arn:aws:iam::1:role/x", "not an IAM role name"),
        ("FINOPS_SCAN_REGIONS", "us-east-1,moon", "moon is not"),
        ("FINOPS_RESTATEMENT_DAYS", "0", "between 1 and 60"),
        ("FINOPS_RESTATEMENT_REQUEST_BUDGET", "101", "between 1 and 100"),
        ("FINOPS_RUN_REQUEST_BUDGET", "0", "between 1 and 1000000"),
        ("FINOPS_DRILLDOWN_DAYS", "7", "between 28 and 500"),
        ("FINOPS_MAX_CONCURRENCY", "lots", "not a whole number"),
        ("FINOPS_DAILY_SCHEDULE_CRON", "61 * * * *", "not a valid cron"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_the_fix(name: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({name: value}, today=TODAY)
    message = str(error.value)
    assert f"{name}={value!r}" in message
    assert fragment in message
    assert "Fix:" in message


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"AWS_REGION": "x", "LOG_FORMAT": "y"}, today=TODAY)
    assert str(error.value).count("Fix:") == 2


def test_dotenv_values_apply_below_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("FINOPS_RESTATEMENT_DAYS=7\nLOG_FORMAT=json\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOG_FORMAT", "text")
    monkeypatch.delenv("FINOPS_RESTATEMENT_DAYS", raising=False)
    s = load_settings()
    assert s.restatement_days == 7
    assert s.log_format == "text"


def test_month_arithmetic_crosses_years() -> None:
    assert first_of_month_months_ago(dt.date(2026, 1, 31), 1) == dt.date(2025, 12, 1)
    assert first_of_month_months_ago(dt.date(2026, 11, 27), 13) == dt.date(2025, 10, 1)
    assert first_of_month_months_ago(dt.date(2024, 2, 29), 0) == dt.date(2024, 2, 1)
