"""LOG_LEVEL / LOG_FORMAT for the project's loggers, and no credential in any log, event or metadata."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.log_config import QUIET_LOGGERS, configure_logging, redact
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.pipeline_fixtures import run_pipeline

SECRET = "finopsTESTsecret/Zq8vX2+kLm0pRt5uWy7aBc9dEf1gHi3jKl"


@pytest.fixture
def project_logger() -> Any:
    logger = logging.getLogger("finops_pipeline")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    yield logger
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]


def _capture(logger: logging.Logger) -> io.StringIO:
    stream = io.StringIO()
    handler = next(h for h in logger.handlers if getattr(h, "finops", False))
    handler.setStream(stream)
    return stream


def test_json_format_and_level(project_logger: logging.Logger) -> None:
    configure_logging(load_settings({"LOG_LEVEL": "warning", "LOG_FORMAT": "json"}))
    stream = _capture(project_logger)
    child = logging.getLogger("finops_pipeline.doctor")
    child.info("hidden at WARNING")
    child.warning("scan of %s failed", "eu-west-1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["level"] == "WARNING" and payload["logger"] == "finops_pipeline.doctor"
    assert payload["message"] == "scan of eu-west-1 failed"
    assert set(payload) == {"time", "level", "logger", "message"}


def test_text_format_and_debug(project_logger: logging.Logger) -> None:
    configure_logging(load_settings({"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text"}))
    stream = _capture(project_logger)
    logging.getLogger("finops_pipeline.x").debug("details %d", 3)
    assert stream.getvalue().rstrip().endswith("DEBUG finops_pipeline.x: details 3")
    for name in QUIET_LOGGERS:  # their DEBUG lines print request headers, session tokens included
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO


def test_credentials_are_redacted_from_project_logs(project_logger: logging.Logger) -> None:
    configure_logging(load_settings({"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}))
    stream = _capture(project_logger)
    log = logging.getLogger("finops_pipeline.test")
    log.debug("headers %s", {"X-Amz-Security-Token": "IQoJb3JpZ2luX2VjEJr//token+value=="})
    log.info("creds aws_secret_access_key=%s key AKIAIOSFODNN7EXAMPLE", SECRET)
    try:
        raise RuntimeError(f"<SecretAccessKey>{SECRET}</SecretAccessKey>")
    except RuntimeError:
        log.exception("failed")
    output = stream.getvalue()
    assert (
        SECRET not in output and "IQoJb3JpZ2luX2VjEJr" not in output and "AKIAIOSFODNN7EXAMPLE" not in output
    )
    assert output.count("***") >= 4
    assert "RuntimeError" in output  # the exception is kept, minus the secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Signature=0123456789abcdef0123456789abcdef", "Signature=***"),
        ('{"SessionToken": "abc/def+=="}', '{"SessionToken": "***"}'),
        ("aws_session_token = FwoGZXIvYXdz", "aws_session_token = ***"),
        ("ASIAY34FZKBOKMUTVV7A", "***"),
        ("ce:GetCostAndUsage 12 pages", "ce:GetCostAndUsage 12 pages"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_no_credential_in_logs_events_metadata_or_tables(
    sandbox: Any,
    pipeline_env_for: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    project_logger: logging.Logger,
) -> None:
    """A DEBUG run with an assumed central role: no secret key, session token or key id leaks anywhere."""
    from moto.sts.models import sts_backends

    database = tmp_path / "finops.duckdb"
    central = f"arn:aws:iam::{sandbox.world.management_account_id}:role/FinOpsMemberReadOnly"
    pipeline_env_for(
        database,
        AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_ROLE_ARN=central,
        LOG_LEVEL="DEBUG",
        LOG_FORMAT="json",
    )
    caplog.set_level(logging.DEBUG)
    instance = dg.DagsterInstance.ephemeral()
    result = run_pipeline(
        assets=["aws_accounts", "tagged_resources", "ce_anomalies", "aws_access_health"], instance=instance
    )
    assert result.success
    secrets = {SECRET}
    for account in sts_backends:
        for role in sts_backends[account]["aws"].assumed_roles:
            secrets |= {role.secret_access_key, role.session_token, role.access_key_id}
    assert len(secrets) > 3  # the central role and member roles were assumed during the run

    captured = capfd.readouterr()
    texts = [captured.out, captured.err, caplog.text]
    for record in instance.all_logs(result.run_id):
        texts.append(record.user_message or "")
        if record.dagster_event is not None:
            texts.append(repr(record.dagster_event))
    with duckdb.connect(str(database), read_only=True) as conn:
        for table in ("raw.scan_status", "raw.aws_accounts", "meta.api_call_log"):
            texts.append(repr(conn.execute(f"SELECT * FROM {table}").fetchall()))
    blob = "\n".join(texts)
    assert "aws_access_health" in blob and len(blob) > 10_000  # the capture really holds the run
    leaked = sorted(secret[:12] + "..." for secret in secrets if secret and secret in blob)
    assert leaked == []
