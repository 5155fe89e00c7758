"""How each setting is declared and its text read: ``EnvVar`` and the parsers behind ``settings.Settings``.

Each parser takes the variable's stripped, non-blank text and returns the value or raises ``ValueError``
saying what is wrong; ``settings.py`` adds the variable's name, the value and the fix. They live here so
``settings.py`` stays a readable list of settings. Rules that come from outside the project (AWS, IANA,
the file system, JSON) are in ``settings_rules.py``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster._utils.schedules import is_valid_cron_string
from pydantic import AliasChoices, Field, GetCoreSchemaHandler, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from finops_pipeline import settings_rules
from finops_pipeline.clock import ClockError, first_of_month_months_ago, parse_today

DEFAULT_REQUIRED_TAG_KEYS = ("Environment", "Owner", "Project", "CostCenter")
ROLE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
# botocore's BillingViewArn shape (ce/2017-10-25/service-2.json).
BILLING_VIEW_ARN_RE = re.compile(r"^arn:aws[a-z-]*:billing::\d{12}:billingview/[-a-zA-Z0-9/:_+=.@]{1,43}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# FINOPS_COST_DETAIL_SOURCE: where the per-account cost grains read the days a Data Export holds.
COST_DETAIL_SOURCES = ("cost_explorer", "data_export")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
# reports and delivery (issue #6)
REPORT_FORMATS = (
    "csv",
    "json",
    "xlsx",
    "parquet",
    "html",
    "pdf",
    "focus",
)  # focus: FOCUS 1.0 daily cost (#18)
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


@dataclass(frozen=True)
class EnvVar:
    """Where one setting comes from, how its text is read, and what to tell the user when it is wrong.

    It rides on the field as metadata: pydantic runs ``parse`` on the variable's text (so a bad value is
    a pydantic validation error like any other), and ``settings.py`` finds ``names`` and ``fix`` here to
    turn that error into ``NAME='value' is invalid: <what>. Fix: <how>``.
    """

    names: tuple[str, ...]  # the first one set wins: the main name, then its aliases
    parse: Callable[[str], Any]
    fix: str
    # The default when it depends on other settings or on the day (pydantic gives it the values so far).
    derive: Callable[[ValidationInfo], Any] | None = None

    @classmethod
    def get(cls, names: str | tuple[str, ...], default: Any, parse: Callable[[str], Any], fix: str) -> Any:
        """The field whose value is got from the variable ``names`` (a name, or the name and its aliases).

        ``default`` is the value when the variable is unset or blank, or a function of the validation
        info when it depends on other settings or the day (the field then holds None until validation
        works it out). Spelled ``EnvVar.get("NAME", ...)`` on purpose: ``test_bad_input`` finds every
        variable by that spelling and fails until the new one has bad values tested.
        """
        names = (names,) if isinstance(names, str) else names
        derive = default if callable(default) else None
        field_info = Field(
            None if derive else default,
            validation_alias=AliasChoices(*names),
            validate_default=derive is not None,
        )
        field_info.metadata.append(cls(names, parse, fix, derive))  # pydantic applies field metadata
        return field_info

    def name_used(self, env: Mapping[str, Any]) -> str:
        """The name the value came from: the first one set and not blank, as pydantic's alias choice."""
        return next((name for name in self.names if str(env.get(name) or "").strip()), self.names[0])

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Text is parsed; a value already of the field's type (a default, a derived one) is only checked."""
        return core_schema.no_info_before_validator_function(self._parse_text, handler(source))

    def _parse_text(self, value: Any) -> Any:
        return self.parse(value) if isinstance(value, str) else value


def shown(value: str) -> str:
    """The value as the error quotes it: whole, or its start and length when it would flood the message."""
    if len(value) <= SHOWN_MAX_CHARS:
        return repr(value)
    return f"{value[: SHOWN_MAX_CHARS // 2]!r}... ({len(value):,} characters)"


# Settings whose value is a credential (a webhook URL carries its token): errors never quote them.
SECRET_SETTINGS = frozenset({"SLACK_WEBHOOK_URL", "ALERT_WEBHOOK_URL", "ALERT_WEBHOOK_SECRET"})


def quoted(name: str, value: str) -> str:
    """The value as the error for ``name`` shows it: :func:`shown`, or only its length for a secret."""
    return f"<secret, {len(value)} characters>" if name in SECRET_SETTINGS else shown(value)


def invalid(name: str, value: str, reason: str, fix: str) -> str:
    """One line of the settings error: the variable, its value, what is wrong and what to write instead."""
    return f"{name}={quoted(name, value)} is invalid: {reason}. Fix: {fix}"


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return number

    return parse


def boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("not a boolean")


def choice(options: tuple[str, ...], *, upper: bool) -> Callable[[str], str]:
    def parse(value: str) -> str:
        normal = value.upper() if upper else value.lower()
        if normal not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return normal

    return parse


def role_arn(value: str) -> str:
    if not ROLE_ARN_RE.match(value):
        raise ValueError("not an IAM role ARN")
    return value


def billing_view_arn(value: str) -> str:
    if not BILLING_VIEW_ARN_RE.match(value):
        raise ValueError("not a billing view ARN")
    from botocore.session import get_session

    accepted = get_session().get_service_model("ce").operation_model("GetCostAndUsage").input_shape.members
    if "BillingViewArn" not in accepted:
        raise ValueError("the installed botocore's GetCostAndUsage does not accept BillingViewArn")
    return value


def role_name(value: str) -> str:
    if not ROLE_NAME_RE.match(value):
        raise ValueError("not an IAM role name (1-64 characters of letters, digits and +=,.@_-)")
    return value


def pinned_day(value: str) -> dt.date:
    try:
        return parse_today(value)
    except ClockError:
        raise ValueError("not a date in YYYY-MM-DD form") from None


def duckdb_path(value: str) -> Path:
    return settings_rules.writable_file(value, (".duckdb", ".db"))


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date in YYYY-MM-DD form") from None


def within_cost_explorer_history(day: dt.date, today: dt.date) -> dt.date:
    """``day`` if Cost Explorer still has it: not after ``today``, not before the 13 months it keeps."""
    oldest = first_of_month_months_ago(today, 13)
    if day > today:
        raise ValueError(f"is after today ({today})")
    if day < oldest:
        raise ValueError(f"is older than Cost Explorer keeps (13 months plus this month: {oldest})")
    return day


def usd(value: str) -> float:
    try:
        amount = float(value.replace(",", "").removeprefix("$"))
    except ValueError:
        raise ValueError("not a number") from None
    if not amount >= 0 or amount == float("inf"):
        raise ValueError("must be a finite amount of 0 or more")
    return amount


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise ValueError("not a number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return number

    return parse


def cron(value: str) -> str:
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


def project_root(value: str) -> Path:
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


def email_address(value: str) -> str:
    if any(ch in value for ch in "\r\n\0") or not EMAIL_RE.match(value) or len(value) > 254:
        raise ValueError(f"{value[:80]!r} is not an e-mail address")
    return value


def email_list(value: str) -> tuple[str, ...]:
    addresses = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    for address in addresses:
        email_address(address)
    if len(addresses) > SES_MAX_RECIPIENTS:
        raise ValueError(f"{len(addresses)} recipients; SES takes at most {SES_MAX_RECIPIENTS} per message")
    return addresses


# --- alerts (issue #17) ---------------------------------------------------------------------------

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def webhook_url(value: str) -> str:
    """An https URL (http only to this machine: a local receiver or test); never quoted in errors."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ValueError("not a URL") from None
    if any(ch in value for ch in "\r\n\0 ") or not parts.hostname:
        raise ValueError("not a URL with a host")
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return value
    raise ValueError(f"scheme {parts.scheme or 'none'}: use https (http only to 127.0.0.1 or localhost)")


def webhook_secret(value: str) -> str:
    """The shared secret that signs webhook bodies (HMAC-SHA256): long enough to resist guessing."""
    if len(value) < 16 or any(ch in value for ch in "\r\n\0"):
        raise ValueError("shorter than 16 characters or has a line break")
    return value
