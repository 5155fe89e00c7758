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
