"""Every environment variable the product reads, parsed and validated in one place.

A bad value must stop definition loading with a message naming the variable, the value and the
fix, before any run writes anything; so nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dagster._utils.schedules import is_valid_cron_string
from dotenv import dotenv_values

from finops_pipeline import settings_rules
from finops_pipeline.clock import (
    TODAY_ENV,
    TODAY_FIX,
    ClockError,
    first_of_month_months_ago,
    machine_today,
    parse_today,
    today_utc,
)
from finops_pipeline.lib import tag_rules

T = TypeVar("T")

DEFAULT_REQUIRED_TAG_KEYS = ("Environment", "Owner", "Project", "CostCenter")
ROLE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
# botocore's BillingViewArn shape (ce/2017-10-25/service-2.json).
BILLING_VIEW_ARN_RE = re.compile(r"^arn:aws[a-z-]*:billing::\d{12}:billingview/[-a-zA-Z0-9/:_+=.@]{1,43}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
# reports and delivery (issue #6)
REPORT_FORMATS = ("csv", "json", "xlsx", "parquet", "html")
REPORT_FORMAT_ALIASES = {"excel": "xlsx", "xls": "xlsx", "htm": "html", "pq": "parquet"}
EXCEL_MAX_DATA_ROWS = 1_048_575  # Excel's 1,048,576 rows less the header
SES_MAX_RECIPIENTS = 50  # SES: at most 50 recipients per message
PROJECT_NAME = "finops-pipeline"
SHOWN_MAX_CHARS = 200  # longer values are quoted by their start and length, not in full
PROJECT_ROOT_MISSING = (
    "FINOPS_PROJECT_ROOT is not set and no pyproject.toml of finops-pipeline was found above the installed "
    "package. Fix: set FINOPS_PROJECT_ROOT to the absolute path of the project folder (reports are "
    "confined to it)"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")+$")


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


def shown(value: str) -> str:
    """The value as the error quotes it: whole, or its start and length when it would flood the message."""
    if len(value) <= SHOWN_MAX_CHARS:
        return repr(value)
    return f"{value[: SHOWN_MAX_CHARS // 2]!r}... ({len(value):,} characters)"


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return number

    return parse


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("not a boolean")


def _choice(options: tuple[str, ...], *, upper: bool) -> Callable[[str], str]:
    def parse(value: str) -> str:
        normal = value.upper() if upper else value.lower()
        if normal not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return normal

    return parse


def _role_arn(value: str) -> str:
    if not ROLE_ARN_RE.match(value):
        raise ValueError("not an IAM role ARN")
    return value


def _billing_view_arn(value: str) -> str:
    if not BILLING_VIEW_ARN_RE.match(value):
        raise ValueError("not a billing view ARN")
    from botocore.session import get_session

    accepted = get_session().get_service_model("ce").operation_model("GetCostAndUsage").input_shape.members
    if "BillingViewArn" not in accepted:
        raise ValueError("the installed botocore's GetCostAndUsage does not accept BillingViewArn")
    return value


def _role_name(value: str) -> str:
    if not ROLE_NAME_RE.match(value):
        raise ValueError("not an IAM role name (1-64 characters of letters, digits and +=,.@_-)")
    return value


def _pinned_day(value: str) -> dt.date:
    try:
        return parse_today(value)
    except ClockError:
        raise ValueError("not a date in YYYY-MM-DD form") from None


def _duckdb_path(value: str) -> Path:
    return settings_rules.writable_file(value, (".duckdb", ".db"))


def _start_date(today: dt.date) -> Callable[[str], dt.date]:
    oldest = first_of_month_months_ago(today, 13)

    def parse(value: str) -> dt.date:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("not a date in YYYY-MM-DD form") from None
        if day > today:
            raise ValueError(f"is after today ({today})")
        if day < oldest:
            raise ValueError(f"is older than Cost Explorer keeps (13 months plus this month: {oldest})")
        return day

    return parse


def _usd(value: str) -> float:
    try:
        amount = float(value.replace(",", "").removeprefix("$"))
    except ValueError:
        raise ValueError("not a number") from None
    if not amount >= 0 or amount == float("inf"):
        raise ValueError("must be a finite amount of 0 or more")
    return amount


def _float_in(lo: float, hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError("not a number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return number

    return parse


def _cron(value: str) -> str:
    if not is_valid_cron_string(value):
        raise ValueError("not a valid cron expression")
    return value


# --- reports and delivery (issue #6) ---------------------------------------------------------------


def report_formats(value: str) -> tuple[str, ...]:
    """``csv,xlsx`` -> ('csv', 'xlsx'); ``all`` -> every format. Shared by settings and run config."""
    parts = [part.strip().lower() for part in value.split(",") if part.strip()]
    if parts == ["all"]:
        return REPORT_FORMATS
    formats = tuple(dict.fromkeys(REPORT_FORMAT_ALIASES.get(part, part) for part in parts))
    bad = [part for part in formats if part not in REPORT_FORMATS]
    if bad:
        raise ValueError(f"unknown format {', '.join(bad)} (known: {', '.join(REPORT_FORMATS)})")
    if not formats:
        raise ValueError("no format given")
    return formats


def default_project_root() -> Path | None:
    """The folder holding this project's ``pyproject.toml``, found from the package's own location.

    Not the working directory: confinement must not widen because a process was started from ``/``.
    None when the package is installed away from its checkout (then FINOPS_PROJECT_ROOT is required).
    """
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        try:
            name = tomllib.loads(candidate.read_text(encoding="utf-8")).get("project", {}).get("name")
        except (OSError, ValueError):
            continue
        if name == PROJECT_NAME:
            return folder
    return None


def _required_project_root() -> Path:
    root = default_project_root()
    if root is None:
        raise SettingsError(PROJECT_ROOT_MISSING)
    return root


def _project_root(value: str) -> Path:
    path = settings_rules.expand_user(value)
    if not path.is_absolute():
        raise ValueError("must be an absolute path (a relative one would follow the working directory)")
    if not path.is_dir():
        raise ValueError("is not an existing folder")
    resolved = path.resolve()
    if resolved.parent == resolved:
        raise ValueError("is the file system root, which confines nothing")
    return resolved


def confined_dir(value: str | Path, root: Path) -> Path:
    """``value`` as a directory inside ``root``: no ``..``, no symlink leading out; relative to ``root``.

    Also away from git's and Python's own files (``.git/hooks`` or ``.venv/bin`` would turn a report
    into code that runs), and either existing or creatable in a writable folder, so a bad folder is
    refused when settings load, not when the first report is written.
    """
    root = root.resolve()
    path = settings_rules.expand_user(str(value))
    if any(part == ".." for part in path.parts):
        raise ValueError("must not contain '..'")
    full = path if path.is_absolute() else root / path
    resolved = full.resolve()  # follows every symlink that exists
    if resolved != root and root not in resolved.parents:
        raise ValueError(f"resolves to {resolved}, outside the project directory {root}")
    if resolved.exists() and not resolved.is_dir():
        raise ValueError("exists and is not a directory")
    problem = settings_rules.forbidden_area(resolved)
    if problem:
        raise ValueError(problem)
    settings_rules.creatable_dir(resolved)
    return resolved


def _report_output_dir(root: Path | None) -> Callable[[str], Path]:
    def parse(value: str) -> Path:
        if root is not None:  # without a root, FINOPS_PROJECT_ROOT's own error is already listed
            confined_dir(value, root)
        return Path(value)

    return parse


def email_address(value: str) -> str:
    if any(ch in value for ch in "\r\n\0") or not EMAIL_RE.match(value) or len(value) > 254:
        raise ValueError(f"{value[:80]!r} is not an e-mail address")
    return value


def _email_list(value: str) -> tuple[str, ...]:
    addresses = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    for address in addresses:
        email_address(address)
    if len(addresses) > SES_MAX_RECIPIENTS:
        raise ValueError(f"{len(addresses)} recipients; SES takes at most {SES_MAX_RECIPIENTS} per message")
    return addresses


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
            _int_in(1, EXCEL_MAX_DATA_ROWS),
            f"use a whole number of rows per sheet from 1 to {EXCEL_MAX_DATA_ROWS:,} (Excel's limit)",
        ),
        "report_schedule_enabled": r.get("REPORT_SCHEDULE_ENABLED", False, _bool, "use true or false"),
        "report_schedule_cron": r.get(
            "REPORT_SCHEDULE_CRON", "0 2 * * *", _cron, "use a 5-field cron such as '0 2 * * *'"
        ),
        "report_schedule_timezone": r.get(
            "REPORT_SCHEDULE_TIMEZONE",
            "UTC",
            settings_rules.timezone,
            "use an IANA time zone such as UTC or Europe/Paris",
        ),
        "ses_enabled": r.get("SES_ENABLED", False, _bool, "use true or false"),
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
            _email_list,
            f"give comma-separated addresses (at most {SES_MAX_RECIPIENTS}), e.g. a@example.com,b@ex.com",
        ),
        "ses_max_send_attempts": r.get(
            "SES_MAX_SEND_ATTEMPTS", 3, _int_in(1, 20), "use a whole number of attempts from 1 to 20"
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
    pinned = r.get(TODAY_ENV, None, _pinned_day, TODAY_FIX)  # the clock's pin, reported with the rest
    # A bad pin is listed with the other errors; the rest is then checked against the machine's clock.
    today = today or pinned or (machine_today() if r.errors else today_utc())
    region = r.get(
        ("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1", settings_rules.region, "use a code like us-east-1"
    )
    root = r.get(
        "FINOPS_PROJECT_ROOT",
        None,
        _project_root,
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
            _role_arn,
            "use arn:aws:iam::<12-digit account>:role/<name>, or unset it to use the default credentials",
        ),
        "single_account_mode": r.get("SINGLE_ACCOUNT_MODE", False, _bool, "use true or false"),
        "billing_view_arn": r.get(
            "FINOPS_BILLING_VIEW_ARN",
            None,
            _billing_view_arn,
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
            "LOOKBACK_DAYS", 90, _int_in(1, 90), "use 1 to 90 (Cost Explorer keeps anomalies for 90 days)"
        ),
        "log_level": r.get(
            "LOG_LEVEL", "INFO", _choice(LOG_LEVELS, upper=True), f"use one of {', '.join(LOG_LEVELS)}"
        ),
        "log_format": r.get("LOG_FORMAT", "text", _choice(LOG_FORMATS, upper=False), "use text or json"),
        "duckdb_path": r.get(
            "FINOPS_DUCKDB_PATH",
            Path("data/finops.duckdb"),
            _duckdb_path,
            "give the path of a .duckdb file in a writable folder outside .git and the virtualenv, "
            "e.g. data/finops.duckdb",
        ),
        "start_date": r.get(
            "FINOPS_START_DATE",
            first_of_month_months_ago(today, 13),
            _start_date(today),
            "use YYYY-MM-DD within the last 13 months, or unset it for the full history",
        ),
        "member_role_name": r.get(
            "FINOPS_MEMBER_ROLE_NAME",
            "FinOpsMemberReadOnly",
            _role_name,
            "give the name (not the ARN) of the role deployed in every member account",
        ),
        "scan_regions": r.get(
            "FINOPS_SCAN_REGIONS",
            (region,),
            settings_rules.regions,
            "give comma-separated region codes, e.g. us-east-1,eu-west-1",
        ),
        "restatement_days": r.get(
            "FINOPS_RESTATEMENT_DAYS", 3, _int_in(1, 60), "use a whole number of days from 1 to 60"
        ),
        "restatement_request_budget": r.get(
            "FINOPS_RESTATEMENT_REQUEST_BUDGET",
            4,
            _int_in(1, 100),
            "use a whole number of Cost Explorer requests from 1 to 100",
        ),
        "month_close_days": r.get(
            "FINOPS_MONTH_CLOSE_DAYS", 5, _int_in(0, 27), "use a whole number of days from 0 to 27"
        ),
        "max_concurrency": r.get(
            "FINOPS_MAX_CONCURRENCY", 8, _int_in(1, 64), "use a whole number from 1 to 64"
        ),
        "daily_schedule_enabled": r.get("FINOPS_DAILY_SCHEDULE_ENABLED", False, _bool, "use true or false"),
        "daily_schedule_cron": r.get(
            "FINOPS_DAILY_SCHEDULE_CRON", "0 6 * * *", _cron, "use a 5-field cron such as '0 6 * * *'"
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
            "SNAPSHOT_MAX_AGE_DAYS", 90, _int_in(1, 3650), "use a whole number of days from 1 to 3650"
        ),
        # --- spend alerts: anomalies, budgets and forecast (issue #5) ---
        "anomaly_min_impact_usd": r.get(
            "ANOMALY_MIN_IMPACT_USD", 1.0, _usd, "give a dollar amount of 0 or more, e.g. 25"
        ),
        "anomaly_min_score": r.get(
            "ANOMALY_MIN_SCORE", 6.0, _float_in(1.0, 1000.0), "give a robust z-score from 1 to 1000, e.g. 6"
        ),
        "anomaly_high_impact_usd": r.get(
            "ANOMALY_HIGH_IMPACT_USD", 100.0, _usd, "give a dollar amount of 0 or more, e.g. 500"
        ),
        "cost_daily_warning": r.get(
            "COST_DAILY_WARNING", None, _usd, "give a dollar amount such as 2500, or unset it"
        ),
        "cost_monthly_warning": r.get(
            "COST_MONTHLY_WARNING", None, _usd, "give a dollar amount such as 75000, or unset it"
        ),
        # --- operability (issue #7) ---
        "read_copy": r.get("FINOPS_READ_COPY", True, _bool, "use true or false"),
        "duckdb_lock_timeout_seconds": r.get(
            "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS",
            30,
            _int_in(0, 3600),
            "use a whole number of seconds from 0 to 3600 to wait for another process's lock on the file",
        ),
        "support_probe_enabled": r.get("SUPPORT_PROBE_ENABLED", False, _bool, "use true or false"),
        # --- reports and delivery (issue #6) ---
        "project_root": root,
        **_report_settings(r, region, root),
    }
    r.errors.extend(tag_rules.cross_check(values["required_tag_keys"], values["tag_allowed_values"]))
    r.errors.extend(_report_cross_check(values))
    if r.errors:
        raise SettingsError("Invalid finops-pipeline settings:\n  - " + "\n  - ".join(r.errors))
    return Settings(**values)
