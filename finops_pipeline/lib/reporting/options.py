"""What a report needs to know of the configuration: plain values, so the writers need no Dagster.

``ReportsResource`` / ``SesResource`` build these in a run; ``generate_report`` builds them from
the settings when it is called from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportOptions:
    project_root: Path
    default_formats: tuple[str, ...]
    output_dir: Path
    max_excel_rows: int
    required_tag_keys: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Any) -> ReportOptions:
        return cls(
            project_root=settings.project_root,
            default_formats=settings.report_default_formats,
            output_dir=settings.report_output_dir,
            max_excel_rows=settings.max_excel_rows,
            required_tag_keys=settings.required_tag_keys,
        )


@dataclass(frozen=True)
class SesOptions:
    enabled: bool
    region: str
    sender_email: str | None
    recipient_emails: tuple[str, ...]
    max_send_attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> SesOptions:
        return cls(
            enabled=settings.ses_enabled,
            region=settings.ses_region,
            sender_email=settings.ses_sender_email,
            recipient_emails=settings.ses_recipient_emails,
            max_send_attempts=settings.ses_max_send_attempts,
        )


@dataclass(frozen=True)
class AlertOptions:
    """Where alerts go besides e-mail: a Slack incoming webhook and a generic JSON webhook (signed)."""

    slack_webhook_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    max_send_attempts: int = 5
    timeout_s: float = 10.0

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels, in sending order."""
        return tuple(
            name for name, url in (("slack", self.slack_webhook_url), ("webhook", self.webhook_url)) if url
        )

    def __repr__(self) -> str:  # the URLs carry credentials: never in a log line or a traceback
        return f"AlertOptions(channels={self.channels}, max_send_attempts={self.max_send_attempts})"
