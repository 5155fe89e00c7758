"""LOG_LEVEL and LOG_FORMAT for the project's own loggers (``finops_pipeline.*``).

Credentials never reach a log line: the project's handler redacts access key ids, secret keys, session
tokens and SigV4 signatures, and botocore's loggers (whose DEBUG output prints request headers, session
tokens included) are kept at INFO or above whatever LOG_LEVEL says.
"""

from __future__ import annotations

import json
import logging
import re

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
