"""Every environment variable the product reads, parsed and validated in one place.

A bad value must stop definition loading with a message naming the variable, the value and the
fix, before any run writes anything; so nothing else in the package reads ``os.environ``.

``Settings`` is a pydantic-settings model: each field declares its variable (and aliases), its default,
its parser and its fix; pydantic-settings finds each field's variable (the first of its names that is
set) and reads ``.env``, under the real environment. ``load_settings`` is the way in: it lists every
bad value at once, in one ``SettingsError`` (a plain ``Settings()`` also works, with pydantic's errors).

Adding a setting
----------------
1. Declare the field on ``Settings``, in the order its error should be listed::

       snapshot_max_age_days: int = EnvVar.get(
           "SNAPSHOT_MAX_AGE_DAYS", 90, fields.int_in(1, 3650), "use a whole number of days from 1 to 3650"
       )

   The type is what the product gets; the parser (``settings_fields.py``, or ``settings_rules.py`` for
   rules from AWS, IANA or the file system) turns the text into it or raises ``ValueError`` saying what
   is wrong; the fix tells the user what to write instead. Blank means unset.
2. A default that depends on other settings or on the day is a function of pydantic's validation info
   (see ``_full_history``); a rule that needs an earlier setting or the day is a ``field_validator``
   (see ``_within_cost_explorer_history``); one that needs two settings together goes in
   ``_settings_that_need_each_other``.
3. Give it bad values in ``finops_pipeline_tests/test_bad_input.py`` (a test fails until you do) and
   document it in ``.env.example`` and the README's settings table.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from pydantic import (
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from finops_pipeline import settings_fields as fields
from finops_pipeline import settings_rules
from finops_pipeline.clock import TODAY_ENV, TODAY_FIX, first_of_month_months_ago, machine_today, today_utc
from finops_pipeline.lib import tag_rules
from finops_pipeline.settings_fields import (
    BILLING_VIEW_ARN_RE,
    COST_DETAIL_SOURCES,
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
    EnvVar,
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

DOTENV_FILE = Path(".env")  # in the working directory
DEFAULT_REGION = "us-east-1"


class SettingsError(ValueError):
    """Raised with every invalid setting listed, each with what was wrong and how to fix it."""


@dataclass
class _Load:
    """What one ``load_settings`` call reads and checks against, and where it lists the problems found.

    Pydantic stops a model at its errors, but the cross checks need every other value: so each bad
    value is listed here and its field falls back to its default, as if the variable were unset.
    """

    env: Mapping[str, str]
    today: dt.date
    errors: list[str] = field(default_factory=list)


# The load in progress. Not pydantic's validation context: a BaseSettings is always validated through
# its __init__, which passes none on (and would read os.environ even for a mapping it was given).
_LOADING: ContextVar[_Load | None] = ContextVar("finops_settings_loading", default=None)


class _GivenVariables(EnvSettingsSource):
    """pydantic-settings' environment source, over the variables ``load_settings`` was given or read.

    One mapping (``.env`` already under the process environment) with blank values dropped, so that a
    blank variable means unset whichever file it is in, and a field takes the first of its names that
    is set and not blank (``AWS_REGION=`` leaves ``AWS_DEFAULT_REGION`` in force).
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = {name: value.strip() for name, value in env.items() if value.strip()}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given


def _today(info: ValidationInfo) -> dt.date:
    """The day the settings are checked against: load_settings' (its argument, the pin or the clock);
    for a plain ``Settings()``, the clock (which honours a FINOPS_TODAY in the process environment)."""
    load = _LOADING.get()
    return load.today if load is not None else today_utc()


def _full_history(info: ValidationInfo) -> dt.date:
    """FINOPS_START_DATE unset: as far back as Cost Explorer goes (13 months plus this one)."""
    return first_of_month_months_ago(_today(info), 13)


def _the_region(info: ValidationInfo) -> str:
    """SES_REGION unset: AWS_REGION's (its default when AWS_REGION is bad: that error is listed)."""
    return info.data.get("aws_region", DEFAULT_REGION)


def _only_the_region(info: ValidationInfo) -> tuple[str, ...]:
    """FINOPS_SCAN_REGIONS unset: AWS_REGION only."""
    return (_the_region(info),)


def _found_project_root(info: ValidationInfo) -> Path:
    """FINOPS_PROJECT_ROOT unset: this checkout, or an error when installed away from it."""
    root = default_project_root()
    if root is None:
        raise ValueError(PROJECT_ROOT_MISSING)
    return root


class Settings(BaseSettings):
    """The product's settings, immutable, from the environment variables each field names."""

    model_config = SettingsConfigDict(
        frozen=True,
        env_file=DOTENV_FILE,  # the real environment wins over it
        env_file_encoding="utf-8",
        case_sensitive=True,
        extra="ignore",  # the environment holds far more than these variables
        enable_decoding=False,  # lists are comma-separated text for the parsers, not JSON
        validate_default=False,  # defaults are trusted; derived ones are worked out during validation
    )

    aws_region: str = EnvVar.get(
        ("AWS_REGION", "AWS_DEFAULT_REGION"),
        DEFAULT_REGION,
        settings_rules.region,
        "use a code like us-east-1",
    )
    project_root: Path = EnvVar.get(
        "FINOPS_PROJECT_ROOT",
        _found_project_root,
        fields.project_root,
        "give the absolute path of the project folder (reports are confined to it), or unset it to use "
        "the folder of this project's pyproject.toml",
    )
    role_arn: str | None = EnvVar.get(
        ("AWS_ROLE_ARN", "ASSUME_ROLE_ARN"),
        None,
        fields.role_arn,
        "use arn:aws:iam::<12-digit account>:role/<name>, or unset it to use the default credentials",
    )
    single_account_mode: bool = EnvVar.get("SINGLE_ACCOUNT_MODE", False, fields.boolean, "use true or false")
    billing_view_arn: str | None = EnvVar.get(
        "FINOPS_BILLING_VIEW_ARN",
        None,
        fields.billing_view_arn,
        "use arn:aws:billing::<12-digit account>:billingview/<view> as ListBillingViews gives it (and "
        "boto3 >= 1.37 for the parameter), or unset it to read the caller's own Cost Explorer view",
    )
    required_tag_keys: tuple[str, ...] = EnvVar.get(
        "REQUIRED_TAG_KEYS",
        DEFAULT_REQUIRED_TAG_KEYS,
        settings_rules.tag_keys,
        f"give at most {settings_rules.MAX_REQUIRED_TAG_KEYS} comma-separated tag keys of letters, "
        "digits, spaces and _.:/=+-@ (each costs every run one Cost Explorer request or more), "
        "e.g. Environment,Owner,Project,CostCenter",
    )
    lookback_days: int = EnvVar.get(
        "LOOKBACK_DAYS", 90, fields.int_in(1, 90), "use 1 to 90 (Cost Explorer keeps anomalies for 90 days)"
    )
    log_level: str = EnvVar.get(
        "LOG_LEVEL", "INFO", fields.choice(LOG_LEVELS, upper=True), f"use one of {', '.join(LOG_LEVELS)}"
    )
    log_format: str = EnvVar.get(
        "LOG_FORMAT", "text", fields.choice(LOG_FORMATS, upper=False), "use text or json"
    )
    duckdb_path: Path = EnvVar.get(
        "FINOPS_DUCKDB_PATH",
        Path("data/finops.duckdb"),
        fields.duckdb_path,
        "give the path of a .duckdb file in a writable folder outside .git and the virtualenv, "
        "e.g. data/finops.duckdb",
    )
    start_date: dt.date = EnvVar.get(
        "FINOPS_START_DATE",
        _full_history,
        fields.iso_date,
        "use YYYY-MM-DD within the last 13 months, or unset it for the full history",
    )
    member_role_name: str = EnvVar.get(
        "FINOPS_MEMBER_ROLE_NAME",
        "FinOpsMemberReadOnly",
        fields.role_name,
        "give the name (not the ARN) of the role deployed in every member account",
    )
    scan_regions: tuple[str, ...] = EnvVar.get(
        "FINOPS_SCAN_REGIONS",
        _only_the_region,
        settings_rules.regions,
        "give comma-separated region codes, e.g. us-east-1,eu-west-1",
    )
    restatement_days: int = EnvVar.get(
        "FINOPS_RESTATEMENT_DAYS", 3, fields.int_in(1, 60), "use a whole number of days from 1 to 60"
    )
    restatement_request_budget: int = EnvVar.get(
        "FINOPS_RESTATEMENT_REQUEST_BUDGET",
        4,
        fields.int_in(1, 100),
        "use a whole number of Cost Explorer requests from 1 to 100",
    )
    run_request_budget: int = EnvVar.get(
        "FINOPS_RUN_REQUEST_BUDGET",
        2000,
        fields.int_in(1, 1_000_000),
        "use a whole number of Cost Explorer requests from 1 to 1000000 ($0.01 each)",
    )
    drilldown_days: int = EnvVar.get(
        "FINOPS_DRILLDOWN_DAYS",
        500,
        fields.int_in(28, 500),
        "use a whole number of days from 28 to 500 (500, the default, keeps the whole history)",
    )
    # GetSavingsPlansCoverage cannot group by account: per account it costs one request per account.
    sp_coverage_account_days: int = EnvVar.get(
        "FINOPS_SP_COVERAGE_ACCOUNT_DAYS",
        1,
        fields.int_in(1, 31),
        "use a whole number of days from 1 to 31 (1, the default, reads Savings Plans coverage per account "
        "on every run; 7 reads it per account once a week and organisation-wide in between)",
    )
    month_close_days: int = EnvVar.get(
        "FINOPS_MONTH_CLOSE_DAYS", 5, fields.int_in(0, 27), "use a whole number of days from 0 to 27"
    )
    max_concurrency: int = EnvVar.get(
        "FINOPS_MAX_CONCURRENCY", 8, fields.int_in(1, 64), "use a whole number from 1 to 64"
    )
    daily_schedule_enabled: bool = EnvVar.get(
        "FINOPS_DAILY_SCHEDULE_ENABLED", False, fields.boolean, "use true or false"
    )
    daily_schedule_cron: str = EnvVar.get(
        "FINOPS_DAILY_SCHEDULE_CRON", "0 6 * * *", fields.cron, "use a 5-field cron such as '0 6 * * *'"
    )
    # --- tag governance and savings (issue #4) ---
    tag_allowed_values: tag_rules.AllowedValues = EnvVar.get(
        "TAG_ALLOWED_VALUES",
        (),
        tag_rules.parse_allowed_values,
        'give JSON such as {"Environment": ["prod", "dev"]}, or the path of a .json/.yaml file with it',
    )
    tag_key_case_mode: str = EnvVar.get(
        "TAG_KEY_CASE_MODE",
        "strict",
        tag_rules.parse_case_mode,
        "use strict (a case variant such as environment does not satisfy Environment) or insensitive",
    )
    tag_exempt_resource_types: tuple[str, ...] = EnvVar.get(
        "TAG_EXEMPT_RESOURCE_TYPES",
        (),
        tag_rules.parse_exempt_types,
        "give comma-separated types such as ec2:snapshot,ec2:elastic-ip, or a whole service such as s3",
    )
    tag_compliance_threshold: float = EnvVar.get(
        "TAG_COMPLIANCE_THRESHOLD", 80.0, tag_rules.parse_threshold, "use a percentage from 0 to 100"
    )
    snapshot_max_age_days: int = EnvVar.get(
        "SNAPSHOT_MAX_AGE_DAYS", 90, fields.int_in(1, 3650), "use a whole number of days from 1 to 3650"
    )
    # --- commitments: Savings Plans and RI utilization and coverage (issue #16) ---
    commitment_utilization_target: float = EnvVar.get(
        "COMMITMENT_UTILIZATION_TARGET",
        95.0,
        fields.float_in(0.0, 100.0),
        "use a percentage from 0 to 100, e.g. 95: below it, unused commitment is waste",
    )
    commitment_coverage_target: float = EnvVar.get(
        "COMMITMENT_COVERAGE_TARGET",
        70.0,
        fields.float_in(0.0, 100.0),
        "use a percentage from 0 to 100, e.g. 70: eligible usage below it runs on demand",
    )
    # --- spend alerts: anomalies, budgets and forecast (issue #5) ---
    anomaly_min_impact_usd: float = EnvVar.get(
        "ANOMALY_MIN_IMPACT_USD", 1.0, fields.usd, "give a dollar amount of 0 or more, e.g. 25"
    )
    anomaly_min_score: float = EnvVar.get(
        "ANOMALY_MIN_SCORE", 4.5, fields.float_in(1.0, 1000.0), "give a robust z-score from 1 to 1000, e.g. 6"
    )
    anomaly_min_probability: float = EnvVar.get(
        "ANOMALY_MIN_PROBABILITY",
        0.5,
        fields.float_in(0.0, 1.0),
        "give a probability from 0 to 1, e.g. 0.5 (0 keeps every candidate event)",
    )
    anomaly_high_impact_usd: float = EnvVar.get(
        "ANOMALY_HIGH_IMPACT_USD", 100.0, fields.usd, "give a dollar amount of 0 or more, e.g. 500"
    )
    cost_daily_warning: float | None = EnvVar.get(
        "COST_DAILY_WARNING", None, fields.usd, "give a dollar amount such as 2500, or unset it"
    )
    cost_monthly_warning: float | None = EnvVar.get(
        "COST_MONTHLY_WARNING", None, fields.usd, "give a dollar amount such as 75000, or unset it"
    )
    # --- operability (issue #7) ---
    read_copy: bool = EnvVar.get("FINOPS_READ_COPY", True, fields.boolean, "use true or false")
    duckdb_lock_timeout_seconds: int = EnvVar.get(
        "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS",
        30,
        fields.int_in(0, 3600),
        "use a whole number of seconds from 0 to 3600 to wait for another process's lock on the file",
    )
    support_probe_enabled: bool = EnvVar.get(
        "SUPPORT_PROBE_ENABLED", False, fields.boolean, "use true or false"
    )
    # --- reports and delivery (issue #6) ---
    report_default_formats: tuple[str, ...] = EnvVar.get(
        "REPORT_DEFAULT_FORMATS",
        REPORT_FORMATS,
        report_formats,
        f"give comma-separated formats from {', '.join(REPORT_FORMATS)}, or all",
    )
    report_output_dir: Path = EnvVar.get(
        "REPORT_OUTPUT_DIR",
        Path("reports"),
        Path,
        "give a writable folder inside the project, e.g. reports (no '..', no symlink pointing outside, "
        "not under .git or the virtualenv)",
    )
    max_excel_rows: int = EnvVar.get(
        "MAX_EXCEL_ROWS",
        EXCEL_MAX_DATA_ROWS,
        fields.int_in(1, EXCEL_MAX_DATA_ROWS),
        f"use a whole number of rows per sheet from 1 to {EXCEL_MAX_DATA_ROWS:,} (Excel's limit)",
    )
    report_schedule_enabled: bool = EnvVar.get(
        "REPORT_SCHEDULE_ENABLED", False, fields.boolean, "use true or false"
    )
    report_schedule_cron: str = EnvVar.get(
        "REPORT_SCHEDULE_CRON", "0 2 * * *", fields.cron, "use a 5-field cron such as '0 2 * * *'"
    )
    report_schedule_timezone: str = EnvVar.get(
        "REPORT_SCHEDULE_TIMEZONE",
        "UTC",
        settings_rules.timezone,
        "use an IANA time zone such as UTC or Europe/Paris",
    )
    ses_enabled: bool = EnvVar.get("SES_ENABLED", False, fields.boolean, "use true or false")
    ses_region: str = EnvVar.get(
        "SES_REGION", _the_region, settings_rules.region, "use the code of a region with SES, e.g. us-east-1"
    )
    ses_sender_email: str | None = EnvVar.get(
        "SES_SENDER_EMAIL",
        None,
        email_address,
        "give one address or domain verified in SES, e.g. finops@example.com",
    )
    ses_recipient_emails: tuple[str, ...] = EnvVar.get(
        "SES_RECIPIENT_EMAILS",
        (),
        fields.email_list,
        f"give comma-separated addresses (at most {SES_MAX_RECIPIENTS}), e.g. a@example.com,b@ex.com",
    )
    ses_max_send_attempts: int = EnvVar.get(
        "SES_MAX_SEND_ATTEMPTS", 3, fields.int_in(1, 20), "use a whole number of attempts from 1 to 20"
    )
    # --- alerts to chat and incident tools (issue #17): credentials, never quoted in errors or logs ---
    slack_webhook_url: str | None = EnvVar.get(
        "SLACK_WEBHOOK_URL",
        None,
        fields.webhook_url,
        "give the Slack app's incoming webhook URL, https://hooks.slack.com/services/...",
    )
    alert_webhook_url: str | None = EnvVar.get(
        "ALERT_WEBHOOK_URL",
        None,
        fields.webhook_url,
        "give the https URL that receives the alerts' JSON (a Teams workflow, PagerDuty-style receiver...)",
    )
    alert_webhook_secret: str | None = EnvVar.get(
        "ALERT_WEBHOOK_SECRET",
        None,
        fields.webhook_secret,
        "give at least 16 characters shared with the receiver (it checks X-Finops-Signature), or leave unset",
    )
    alert_max_send_attempts: int = EnvVar.get(
        "ALERT_MAX_SEND_ATTEMPTS", 5, fields.int_in(1, 20), "use a whole number of attempts from 1 to 20"
    )
    # --- FOCUS: AWS Data Exports import and showback (issue #18) ---
    focus_export_uri: str | None = EnvVar.get(
        "FOCUS_EXPORT_URI",
        None,
        settings_rules.export_uri,
        "give the S3 folder of the Data Export (s3://<bucket>/<prefix>/<export-name>, the one holding "
        "data/ and metadata/) or an existing local folder of its .parquet / .csv / .csv.gz files, or "
        "unset it to skip the FOCUS import",
    )
    showback_tag_key: str = EnvVar.get(
        "SHOWBACK_TAG_KEY",
        "CostCenter",
        settings_rules.tag_key,
        "give one tag key of letters, digits, spaces and _.:/=+-@ (not aws:...), e.g. CostCenter",
    )
    # Where the per-account cost grains and commitment_usage read the days the export holds
    # (defs/ingest/cost_export.py, defs/commitments/usage_export.py).
    cost_detail_source: str = EnvVar.get(
        "FINOPS_COST_DETAIL_SOURCE",
        "cost_explorer",
        fields.choice(COST_DETAIL_SOURCES, upper=False),
        "use cost_explorer (the default: every day from Cost Explorer) or data_export (the days the FOCUS "
        "export holds from its files, the newest ones from Cost Explorer; needs FOCUS_EXPORT_URI)",
    )
    # AWS refreshes an export up to three times a day; an hourly look costs one S3 listing per tick.
    focus_sensor_interval_seconds: int = EnvVar.get(
        "FOCUS_SENSOR_INTERVAL_SECONDS",
        3600,
        fields.int_in(30, 86400),
        "use a whole number of seconds from 30 to 86400 between two looks at the FOCUS export",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Within ``load_settings``, its variables only; a plain ``Settings()`` reads the environment."""
        load = _LOADING.get()
        if load is not None:
            return init_settings, _GivenVariables(settings_cls, load.env)
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _blank_means_unset(cls, data: Any) -> Any:
        """Values are stripped and a blank one dropped, so its field takes its default (for a plain
        ``Settings()`` and init values; load_settings' source has dropped them already)."""
        if not isinstance(data, Mapping):
            return data
        return {
            key: value.strip() if isinstance(value, str) else value
            for key, value in data.items()
            if not (isinstance(value, str) and not value.strip())
        }

    @field_validator("start_date")
    @classmethod
    def _within_cost_explorer_history(cls, day: dt.date, info: ValidationInfo) -> dt.date:
        """Against the day being checked (the pin's or the argument's), which no parser knows."""
        return fields.within_cost_explorer_history(day, _today(info))

    @field_validator("report_output_dir")
    @classmethod
    def _inside_the_project(cls, folder: Path, info: ValidationInfo) -> Path:
        """Checked, not resolved: reports resolve it again when they write (see reporting/safety.py)."""
        root = info.data.get("project_root")
        if root is not None:  # without a root, FINOPS_PROJECT_ROOT's own error is already listed
            confined_dir(folder, root)
        return folder

    # Defined after the other field validators, so that it wraps them too (pydantic nests field
    # validators in the order they are defined).
    @field_validator("*", mode="wrap")
    @classmethod
    def _one_variable(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """Works out a derived default; lists a bad value with the others and falls back to the default.

        The fallback is what the field would hold were the variable unset (None for a derived default,
        so nothing later is checked against a guess); the cross checks then see a full set of values.
        Outside ``load_settings`` errors are left to pydantic.
        """
        field_info = cls.model_fields[info.field_name or ""]
        spec = next(item for item in field_info.metadata if isinstance(item, EnvVar))
        load = _LOADING.get()
        try:
            if value is None and spec.derive is not None:
                return spec.derive(info)
            return handler(value)
        except ValidationError as exc:
            if load is None:
                raise
            reasons = "; ".join(
                str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
                for error in exc.errors()
            )
            load.errors.append(fields.invalid(spec.name_used(load.env), str(value), reasons, spec.fix))
        except ValueError as exc:  # a derived default that cannot be worked out: its message says why
            if load is None:
                raise
            load.errors.append(str(exc))
        return field_info.default

    @model_validator(mode="after")
    def _settings_that_need_each_other(self) -> Self:
        """Rules between settings, checked on every value (a bad one at its default), listed last."""
        problems = [
            *tag_rules.cross_check(self.required_tag_keys, self.tag_allowed_values),
            *_ses_check(self),
            *_alert_check(self),
            *_detail_source_check(self),
        ]
        load = _LOADING.get()
        if load is not None:
            load.errors.extend(problems)
        elif problems:
            raise ValueError("; ".join(problems))
        return self


def _ses_check(settings: Settings) -> list[str]:
    """E-mail delivery needs a sender and recipients: one problem naming whichever is missing."""
    if not settings.ses_enabled:
        return []
    missing = [
        name
        for name, given in (
            ("SES_SENDER_EMAIL", settings.ses_sender_email),
            ("SES_RECIPIENT_EMAILS", settings.ses_recipient_emails),
        )
        if not given
    ]
    if not missing:
        return []
    return [
        f"SES_ENABLED=true needs {' and '.join(missing)}. Fix: set "
        f"{' and '.join(missing)} (a sender verified in SES and the recipients), or set SES_ENABLED=false"
    ]


def _alert_check(settings: Settings) -> list[str]:
    """A signing secret with nowhere to send: said, since the user meant a webhook to be configured."""
    if settings.alert_webhook_secret and not settings.alert_webhook_url:
        return [
            "ALERT_WEBHOOK_SECRET is set but ALERT_WEBHOOK_URL is not. Fix: set ALERT_WEBHOOK_URL to the "
            "receiver's https URL, or unset ALERT_WEBHOOK_SECRET"
        ]
    return []


def _detail_source_check(settings: Settings) -> list[str]:
    """Cost detail from the export needs an export to read."""
    if settings.cost_detail_source == "data_export" and not settings.focus_export_uri:
        return [
            "FINOPS_COST_DETAIL_SOURCE=data_export needs FOCUS_EXPORT_URI. Fix: set FOCUS_EXPORT_URI to the "
            "Data Export's S3 folder (s3://<bucket>/<prefix>/<export-name>), or set "
            "FINOPS_COST_DETAIL_SOURCE=cost_explorer"
        ]
    return []


def load_dotenv_file(path: Path = DOTENV_FILE) -> dict[str, str]:
    """Values from ``.env`` when present, read as ``Settings()`` reads it; the real environment wins."""
    source = DotEnvSettingsSource(Settings, env_file=path)
    return {key: value for key, value in source.env_vars.items() if value is not None}


def _pinned_day(env: Mapping[str, str]) -> tuple[dt.date | None, list[str]]:
    """The clock's pin (``FINOPS_TODAY``), or the error to list with the others: it is not a field."""
    value = (env.get(TODAY_ENV) or "").strip()
    if not value:
        return None, []
    try:
        return fields.pinned_day(value), []
    except ValueError as exc:
        return None, [fields.invalid(TODAY_ENV, value, str(exc), TODAY_FIX)]


def load_settings(env: Mapping[str, str] | None = None, *, today: dt.date | None = None) -> Settings:
    """Parse settings from ``env`` (default: ``.env`` overlaid by the process environment).

    Every bad value, and every problem between two settings, is listed in one ``SettingsError``.
    """
    if env is None:
        env = {**load_dotenv_file(), **os.environ}
    pinned, errors = _pinned_day(env)
    # A bad pin is listed with the other errors; the rest is then checked against the machine's clock.
    load = _Load(env, today or pinned or (machine_today() if errors else today_utc()), errors)
    token = _LOADING.set(load)
    try:
        settings = Settings()
    finally:
        _LOADING.reset(token)
    if load.errors:
        raise SettingsError("Invalid finops-pipeline settings:\n  - " + "\n  - ".join(load.errors))
    return settings
