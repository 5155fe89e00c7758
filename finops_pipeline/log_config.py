"""LOG_LEVEL and LOG_FORMAT for the project's own loggers (``finops_pipeline.*``).

Credentials never reach a log line: the project's handler redacts access key ids, secret keys, session
tokens and SigV4 signatures, and botocore's loggers (whose DEBUG output prints request headers, session
tokens included) are kept at INFO or above whatever LOG_LEVEL says.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, TextIO

import dagster as dg

from finops_pipeline.settings import Settings

ROOT_LOGGER = "finops_pipeline"
QUIET_LOGGERS = ("botocore", "boto3", "urllib3")
REDACTED = "***"
_SECRET_PATTERNS = (
    # X-Amz-Security-Token: ..., "SessionToken": "...", aws_secret_access_key=..., <SecretAccessKey>...</...>
    re.compile(
        r"(?i)((?:x-amz-security-token|session_?token|secret_?access_?key|aws_secret_access_key|"
        r"aws_session_token|secret_key|secretkey|password)['\"]?\s*[:=]\s*b?['\"]?)[^'\",\s}&<]+"
    ),
    re.compile(r"(?i)(<(SecretAccessKey|SessionToken)>)[^<]+"),
    re.compile(r"(Signature=)[0-9a-f]{16,}"),
    re.compile(r"()\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"),
)


def redact(text: str) -> str:
    """``text`` with credential values replaced by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once and redacts credentials from it (and from its exception)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(settings: Settings) -> logging.Logger:
    logger = logging.getLogger(ROOT_LOGGER)
    logger.setLevel(settings.log_level)
    handler = next((h for h in logger.handlers if getattr(h, "finops", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.finops = True  # type: ignore[attr-defined]
        handler.addFilter(RedactingFilter())
        logger.addHandler(handler)
        logger.propagate = False
    handler.setFormatter(
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    for name in QUIET_LOGGERS:  # their DEBUG lines carry request headers and session tokens
        quiet = logging.getLogger(name)
        if quiet.getEffectiveLevel() < logging.INFO:
            quiet.setLevel(logging.INFO)
    return logger


# --------------------------------------------------------------------------------- run progress (demo)
DAGSTER_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# The price of the step's own API calls (call_metadata) is not the figure the step is about.
NOT_KEY_FIGURES = frozenset({"ce_cost_usd"})


def _first_number(metadata: dict[str, Any], suffix: str) -> tuple[str, float] | None:
    """The first numeric metadata entry named ``*<suffix>``: the step's headline figure in that unit."""
    for key, value in metadata.items():
        number = getattr(value, "value", value)
        if (
            key.endswith(suffix)
            and key not in NOT_KEY_FIGURES
            and isinstance(number, int | float)
            and not isinstance(number, bool)
        ):
            return key, float(number)
    return None


@dataclass
class _Step:
    rows: int = 0
    materializations: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    # A partitioned asset's window figures (its AssetObservation): the step's key figures when present,
    # since each partition's materialization carries only its own day (the last one: today, still empty).
    observed: dict[str, Any] = field(default_factory=dict)


class RunProgress(logging.Handler):
    """One line per asset step as it ends (name, seconds, key figure); check steps are only counted.

    Dagster hands every event of a run to its loggers as a log record carrying the event; this handler
    is such a logger's, so a long run in the foreground (``make demo``) shows where it is without
    Dagster's DEBUG event stream (one line per partition per asset: thousands of lines).
    """

    def __init__(self, stream: TextIO, total_steps: int) -> None:
        super().__init__(logging.DEBUG)
        self.stream, self.total = stream, total_steps
        self.done = 0
        self.steps: dict[str, _Step] = {}
        self.checks: dict[str, list[str]] = {"passed": [], "failed": []}
        self.failed_steps: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or event.step_key is None:
            return
        step = self.steps.setdefault(event.step_key, _Step())
        kind = event.event_type_value
        data = event.event_specific_data
        if kind in ("ASSET_MATERIALIZATION", "ASSET_OBSERVATION"):
            found = data.materialization if kind == "ASSET_MATERIALIZATION" else data.asset_observation
            metadata = dict(found.metadata)
            if kind == "ASSET_MATERIALIZATION":
                step.materializations += 1
                step.rows += int(getattr(metadata.pop("dagster/row_count", 0), "value", 0))
                step.metadata.update(metadata)
            else:
                step.observed.update(metadata)
        elif kind == "ASSET_CHECK_EVALUATION":
            self.checks["passed" if data.passed else "failed"].append(data.check_name)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            self.done += 1
            self._step_line(event.step_key, step, kind, data)

    def _step_line(self, name: str, step: _Step, kind: str, data: Any) -> None:
        if kind == "STEP_FAILURE":
            self.failed_steps.append(name)
            error = (data.error.message if data.error else "failed").strip().splitlines()[0]
            self._write(f"{name:<34} FAILED: {error[:160]}")
            return
        if not step.materializations:
            return  # a check step: counted in the summary line
        seconds = (data.duration_ms or 0) / 1000
        figures = [f"{step.rows:,} rows"] if step.rows else []
        for suffix, unit in (("_usd", "$"), ("_pct", "%")):
            found = _first_number(step.observed or step.metadata, suffix)
            if found:
                figures.append(
                    f"{found[0]} {unit}{found[1]:,.2f}" if unit == "$" else f"{found[0]} {found[1]}%"
                )
        self._write(f"{name:<34} {seconds:6.1f} s  {', '.join(figures)}")

    def _write(self, text: str) -> None:
        self.stream.write(f"[{self.done:>{len(str(self.total))}}/{self.total}] {text}\n")
        self.stream.flush()

    def checks_line(self) -> str:
        failed = self.checks["failed"]
        line = f"Checks: {len(self.checks['passed'])} passed, {len(failed)} failed"
        return line + (f" ({', '.join(failed)})" if failed else "")


def progress_logger(handler: RunProgress) -> dg.LoggerDefinition:
    """A Dagster logger definition feeding ``handler`` every event of the run, DEBUG ones included."""

    @dg.logger(description="one line per asset step, for runs in the foreground")
    def progress(_: Any) -> logging.Logger:
        logger = logging.getLogger(f"{ROOT_LOGGER}.progress")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.handlers = [handler]
        return logger

    return progress
