"""Every environment variable the product reads, parsed and validated in one place.

A bad value must stop definition loading with a message naming the variable, the value and the
fix, before any run writes anything; so nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values

from finops_pipeline import settings_fields as fields
from finops_pipeline import settings_rules, tag_rules
from finops_pipeline.clock import TODAY_ENV, TODAY_FIX, first_of_month_months_ago, machine_today, today_utc
from finops_pipeline.settings_fields import (
    BILLING_VIEW_ARN_RE,
    DEFAULT_REQUIRED_TAG_KEYS,
    EMAIL_RE,
    EXCEL_MAX_DATA_ROWS,
    FALSE_WORDS,
    LOG_FORMATS,
    LOG_LEVELS,
    PROJECT_NAME,
    PROJECT_ROOT_MISSING,
    REPORT_FORMAT_ALIASES,
    REPORT_FORMATS,
    ROLE_ARN_RE,
    ROLE_NAME_RE,
    SES_MAX_RECIPIENTS,
    SHOWN_MAX_CHARS,
    TRUE_WORDS,
    confined_dir,
    default_project_root,
    email_address,
    report_formats,
    shown,
)

__all__ = [
    "BILLING_VIEW_ARN_RE",
    "DEFAULT_REQUIRED_TAG_KEYS",
    "EMAIL_RE",
    "EXCEL_MAX_DATA_ROWS",
    "FALSE_WORDS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "PROJECT_NAME",
    "PROJECT_ROOT_MISSING",
    "REPORT_FORMATS",
    "REPORT_FORMAT_ALIASES",
    "ROLE_ARN_RE",
    "ROLE_NAME_RE",
    "SES_MAX_RECIPIENTS",
    "SHOWN_MAX_CHARS",
    "TRUE_WORDS",
    "Settings",
    "SettingsError",
    "confined_dir",
    "default_project_root",
    "email_address",
    "load_dotenv_file",
    "load_settings",
    "report_formats",
    "shown",
]

T = TypeVar("T")


class SettingsError(ValueError):
    """Raised with every invalid setting listed, each with what was wrong and how to fix it."""


@dataclass(frozen=True)
class Settings:
    aws_region: str = "us-east-1"
    role_arn: str | None = None
    single_account_mode: bool = False
    billing_view_arn: str | None = None
    required_tag_keys: tuple[str, ...] = DEFAULT_REQUIRED_TAG_KEYS
    lookback_days: int = 90
    log_level: str = "INFO"
    log_format: str = "text"
    duckdb_path: Path = Path("data/finops.duckdb")
    start_date: dt.date = field(default_factory=lambda: first_of_month_months_ago(today_utc(), 13))
    member_role_name: str = "FinOpsMemberReadOnly"
    scan_regions: tuple[str, ...] = ("us-east-1",)
    restatement_days: int = 3
    month_close_days: int = 5
    restatement_request_budget: int = 4
    max_concurrency: int = 8
    project_root: Path = field(default_factory=lambda: _required_project_root())
    daily_schedule_enabled: bool = False
    daily_schedule_cron: str = "0 6 * * *"
    # --- tag governance and savings (issue #4) ---
    tag_allowed_values: tag_rules.AllowedValues = ()
    tag_key_case_mode: str = "strict"
    tag_exempt_resource_types: tuple[str, ...] = ()
    tag_compliance_threshold: float = 80.0
    snapshot_max_age_days: int = 90
    # --- spend alerts: anomalies, budgets and forecast (issue #5) ---
    anomaly_min_impact_usd: float = 1.0
    anomaly_min_score: float = 6.0
    anomaly_high_impact_usd: float = 100.0
    cost_daily_warning: float | None = None
    cost_monthly_warning: float | None = None
    # --- operability (issue #7) ---
    duckdb_lock_timeout_seconds: int = 30
    read_copy: bool = True
    support_probe_enabled: bool = False
    # --- reports and delivery (issue #6) ---
    report_default_formats: tuple[str, ...] = REPORT_FORMATS
    report_output_dir: Path = Path("reports")
    max_excel_rows: int = EXCEL_MAX_DATA_ROWS
    report_schedule_enabled: bool = False
    report_schedule_cron: str = "0 2 * * *"
    report_schedule_timezone: str = "UTC"
    ses_enabled: bool = False
    ses_region: str = "us-east-1"
    ses_sender_email: str | None = None
    ses_recipient_emails: tuple[str, ...] = ()
    ses_max_send_attempts: int = 3


class _Reader:
    """Collects errors instead of stopping at the first, so one load shows every bad setting."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.errors: list[str] = []

    def raw(self, *names: str) -> tuple[str, str | None]:
        for name in names:
            value = self.env.get(name)
            if value is not None and value.strip() != "":
                return name, value.strip()
        return names[0], None

    def get(self, names: str | tuple[str, ...], default: T, parse: Callable[[str], T], fix: str) -> T:
        name, value = self.raw(*((names,) if isinstance(names, str) else names))
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.errors.append(f"{name}={shown(value)} is invalid: {exc}. Fix: {fix}")
            return default


def _required_project_root() -> Path:
    root = default_project_root()
    if root is None:
        raise SettingsError(PROJECT_ROOT_MISSING)
    return root


def _report_output_dir(root: Path | None) -> Callable[[str], Path]:
    def parse(value: str) -> Path:
        if root is not None:  # without a root, FINOPS_PROJECT_ROOT's own error is already listed
            confined_dir(value, root)
        return Path(value)

    return parse


def _report_settings(r: _Reader, region: str, root: Path | None) -> dict[str, Any]:
    return {
        "report_default_formats": r.get(
            "REPORT_DEFAULT_FORMATS",
            REPORT_FORMATS,
            report_formats,
            f"give comma-separated formats from {', '.join(REPORT_FORMATS)}, or all",
        ),
        "report_output_dir": r.get(
            "REPORT_OUTPUT_DIR",
            Path("reports"),
            _report_output_dir(root),
            "give a writable folder inside the project, e.g. reports (no '..', no symlink pointing outside, "
            "not under .git or the virtualenv)",
        ),
        "max_excel_rows": r.get(
            "MAX_EXCEL_ROWS",
            EXCEL_MAX_DATA_ROWS,
            fields.int_in(1, EXCEL_MAX_DATA_ROWS),
            f"use a whole number of rows per sheet from 1 to {EXCEL_MAX_DATA_ROWS:,} (Excel's limit)",
        ),
        "report_schedule_enabled": r.get(
            "REPORT_SCHEDULE_ENABLED", False, fields.boolean, "use true or false"
        ),
        "report_schedule_cron": r.get(
            "REPORT_SCHEDULE_CRON", "0 2 * * *", fields.cron, "use a 5-field cron such as '0 2 * * *'"
        ),
        "report_schedule_timezone": r.get(
            "REPORT_SCHEDULE_TIMEZONE",
            "UTC",
            settings_rules.timezone,
            "use an IANA time zone such as UTC or Europe/Paris",
        ),
        "ses_enabled": r.get("SES_ENABLED", False, fields.boolean, "use true or false"),
        "ses_region": r.get(
            "SES_REGION", region, settings_rules.region, "use the code of a region with SES, e.g. us-east-1"
        ),
        "ses_sender_email": r.get(
            "SES_SENDER_EMAIL",
            None,
            email_address,
            "give one address or domain verified in SES, e.g. finops@example.com",
        ),
        "ses_recipient_emails": r.get(
            "SES_RECIPIENT_EMAILS",
            (),
            fields.email_list,
            f"give comma-separated addresses (at most {SES_MAX_RECIPIENTS}), e.g. a@example.com,b@ex.com",
        ),
        "ses_max_send_attempts": r.get(
            "SES_MAX_SEND_ATTEMPTS", 3, fields.int_in(1, 20), "use a whole number of attempts from 1 to 20"
        ),
    }


def _report_cross_check(values: dict[str, Any]) -> list[str]:
    if not values["ses_enabled"]:
        return []
    missing = [
        name
        for name, key in (
            ("SES_SENDER_EMAIL", "ses_sender_email"),
            ("SES_RECIPIENT_EMAILS", "ses_recipient_emails"),
        )
        if not values[key]
    ]
    if not missing:
        return []
    return [
        f"SES_ENABLED=true needs {' and '.join(missing)}. Fix: set "
        f"{' and '.join(missing)} (a sender verified in SES and the recipients), or set SES_ENABLED=false"
    ]


def load_dotenv_file(path: Path = Path(".env")) -> dict[str, str]:
    """Values from ``.env`` when present; the real environment always wins over them."""
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def load_settings(env: Mapping[str, str] | None = None, *, today: dt.date | None = None) -> Settings:
    """Parse settings from ``env`` (default: ``.env`` overlaid by the process environment)."""
    if env is None:
        env = {**load_dotenv_file(), **os.environ}
    r = _Reader(env)
    pinned = r.get(TODAY_ENV, None, fields.pinned_day, TODAY_FIX)  # the clock's pin, reported with the rest
    # A bad pin is listed with the other errors; the rest is then checked against the machine's clock.
    today = today or pinned or (machine_today() if r.errors else today_utc())
    region = r.get(
        ("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1", settings_rules.region, "use a code like us-east-1"
    )
    root = r.get(
        "FINOPS_PROJECT_ROOT",
        None,
        fields.project_root,
        "give the absolute path of the project folder (reports are confined to it), or unset it to use "
        "the folder of this project's pyproject.toml",
    )
    if root is None and not any(e.startswith("FINOPS_PROJECT_ROOT=") for e in r.errors):
        root = default_project_root()
        if root is None:
            r.errors.append(PROJECT_ROOT_MISSING)
    values: dict[str, Any] = {
        "aws_region": region,
        "role_arn": r.get(
            ("AWS_ROLE_ARN", "ASSUME_ROLE_ARN"),
            None,
            fields.role_arn,
            "use arn:aws:iam::<12-digit account>:role/<name>, or unset it to use the default credentials",
        ),
        "single_account_mode": r.get("SINGLE_ACCOUNT_MODE", False, fields.boolean, "use true or false"),
        "billing_view_arn": r.get(
            "FINOPS_BILLING_VIEW_ARN",
            None,
            fields.billing_view_arn,
            "use arn:aws:billing::<12-digit account>:billingview/<view> as ListBillingViews gives it (and "
            "boto3 >= 1.37 for the parameter), or unset it to read the caller's own Cost Explorer view",
        ),
        "required_tag_keys": r.get(
            "REQUIRED_TAG_KEYS",
            DEFAULT_REQUIRED_TAG_KEYS,
            settings_rules.tag_keys,
            f"give at most {settings_rules.MAX_REQUIRED_TAG_KEYS} comma-separated tag keys of letters, "
            "digits, spaces and _.:/=+-@ (each costs every run one Cost Explorer request or more), "
            "e.g. Environment,Owner,Project,CostCenter",
        ),
        "lookback_days": r.get(
            "LOOKBACK_DAYS",
            90,
            fields.int_in(1, 90),
            "use 1 to 90 (Cost Explorer keeps anomalies for 90 days)",
        ),
        "log_level": r.get(
            "LOG_LEVEL", "INFO", fields.choice(LOG_LEVELS, upper=True), f"use one of {', '.join(LOG_LEVELS)}"
        ),
        "log_format": r.get(
            "LOG_FORMAT", "text", fields.choice(LOG_FORMATS, upper=False), "use text or json"
        ),
        "duckdb_path": r.get(
            "FINOPS_DUCKDB_PATH",
            Path("data/finops.duckdb"),
            fields.duckdb_path,
            "give the path of a .duckdb file in a writable folder outside .git and the virtualenv, "
            "e.g. data/finops.duckdb",
        ),
        "start_date": r.get(
            "FINOPS_START_DATE",
            first_of_month_months_ago(today, 13),
            fields.start_date(today),
            "use YYYY-MM-DD within the last 13 months, or unset it for the full history",
        ),
        "member_role_name": r.get(
            "FINOPS_MEMBER_ROLE_NAME",
            "FinOpsMemberReadOnly",
            fields.role_name,
            "give the name (not the ARN) of the role deployed in every member account",
        ),
        "scan_regions": r.get(
            "FINOPS_SCAN_REGIONS",
            (region,),
            settings_rules.regions,
            "give comma-separated region codes, e.g. us-east-1,eu-west-1",
        ),
        "restatement_days": r.get(
            "FINOPS_RESTATEMENT_DAYS", 3, fields.int_in(1, 60), "use a whole number of days from 1 to 60"
        ),
        "restatement_request_budget": r.get(
            "FINOPS_RESTATEMENT_REQUEST_BUDGET",
            4,
            fields.int_in(1, 100),
            "use a whole number of Cost Explorer requests from 1 to 100",
        ),
        "month_close_days": r.get(
            "FINOPS_MONTH_CLOSE_DAYS", 5, fields.int_in(0, 27), "use a whole number of days from 0 to 27"
        ),
        "max_concurrency": r.get(
            "FINOPS_MAX_CONCURRENCY", 8, fields.int_in(1, 64), "use a whole number from 1 to 64"
        ),
        "daily_schedule_enabled": r.get(
            "FINOPS_DAILY_SCHEDULE_ENABLED", False, fields.boolean, "use true or false"
        ),
        "daily_schedule_cron": r.get(
            "FINOPS_DAILY_SCHEDULE_CRON", "0 6 * * *", fields.cron, "use a 5-field cron such as '0 6 * * *'"
        ),
        # --- tag governance and savings (issue #4) ---
        "tag_allowed_values": r.get(
            "TAG_ALLOWED_VALUES",
            (),
            tag_rules.parse_allowed_values,
            'give JSON such as {"Environment": ["prod", "dev"]}, or the path of a .json/.yaml file with it',
        ),
        "tag_key_case_mode": r.get(
            "TAG_KEY_CASE_MODE",
            "strict",
            tag_rules.parse_case_mode,
            "use strict (a case variant such as environment does not satisfy Environment) or insensitive",
        ),
        "tag_exempt_resource_types": r.get(
            "TAG_EXEMPT_RESOURCE_TYPES",
            (),
            tag_rules.parse_exempt_types,
            "give comma-separated types such as ec2:snapshot,ec2:elastic-ip, or a whole service such as s3",
        ),
        "tag_compliance_threshold": r.get(
            "TAG_COMPLIANCE_THRESHOLD", 80.0, tag_rules.parse_threshold, "use a percentage from 0 to 100"
        ),
        "snapshot_max_age_days": r.get(
            "SNAPSHOT_MAX_AGE_DAYS", 90, fields.int_in(1, 3650), "use a whole number of days from 1 to 3650"
        ),
        # --- spend alerts: anomalies, budgets and forecast (issue #5) ---
        "anomaly_min_impact_usd": r.get(
            "ANOMALY_MIN_IMPACT_USD", 1.0, fields.usd, "give a dollar amount of 0 or more, e.g. 25"
        ),
        "anomaly_min_score": r.get(
            "ANOMALY_MIN_SCORE",
            6.0,
            fields.float_in(1.0, 1000.0),
            "give a robust z-score from 1 to 1000, e.g. 6",
        ),
        "anomaly_high_impact_usd": r.get(
            "ANOMALY_HIGH_IMPACT_USD", 100.0, fields.usd, "give a dollar amount of 0 or more, e.g. 500"
        ),
        "cost_daily_warning": r.get(
            "COST_DAILY_WARNING", None, fields.usd, "give a dollar amount such as 2500, or unset it"
        ),
        "cost_monthly_warning": r.get(
            "COST_MONTHLY_WARNING", None, fields.usd, "give a dollar amount such as 75000, or unset it"
        ),
        # --- operability (issue #7) ---
        "read_copy": r.get("FINOPS_READ_COPY", True, fields.boolean, "use true or false"),
        "duckdb_lock_timeout_seconds": r.get(
            "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS",
            30,
            fields.int_in(0, 3600),
            "use a whole number of seconds from 0 to 3600 to wait for another process's lock on the file",
        ),
        "support_probe_enabled": r.get("SUPPORT_PROBE_ENABLED", False, fields.boolean, "use true or false"),
        # --- reports and delivery (issue #6) ---
        "project_root": root,
        **_report_settings(r, region, root),
    }
    r.errors.extend(tag_rules.cross_check(values["required_tag_keys"], values["tag_allowed_values"]))
    r.errors.extend(_report_cross_check(values))
    if r.errors:
        raise SettingsError("Invalid finops-pipeline settings:\n  - " + "\n  - ".join(r.errors))
    return Settings(**values)
