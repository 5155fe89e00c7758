"""The runtime knobs as Dagster resources, each built from the validated :class:`Settings`.

Settings are parsed once (``finops_pipeline.defs.resources``), then handed to assets, checks, sensors
and schedules as resources, so a test can ``dg.materialize([asset], resources={...})`` with explicit
values instead of environment variables. Only what Dagster needs at load time (partition start,
crons, default statuses) is read outside them (``finops_pipeline.defs.load_time``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.lib.reporting.options import AlertOptions, ReportOptions, SesOptions
from finops_pipeline.lib.tag_rules import TagRules
from finops_pipeline.settings import DEFAULT_REQUIRED_TAG_KEYS, REPORT_FORMATS, Settings
from finops_pipeline.warehouse import WarehouseResource


class TagPolicyResource(dg.ConfigurableResource):
    """What a compliant resource carries (REQUIRED_TAG_KEYS, TAG_*), and how old a snapshot may be."""

    required_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_REQUIRED_TAG_KEYS))
    allowed_values: dict[str, list[str]] = Field(default_factory=dict)
    key_case_mode: str = "strict"
    exempt_resource_types: list[str] = Field(default_factory=list)
    threshold_pct: float = 80.0

    def rules(self) -> TagRules:
        return TagRules(
            required_keys=tuple(self.required_keys),
            allowed_values=tuple((key, tuple(values)) for key, values in self.allowed_values.items()),
            key_case_mode=self.key_case_mode,
            exempt_resource_types=tuple(self.exempt_resource_types),
            threshold_pct=self.threshold_pct,
        )


class SavingsPolicyResource(dg.ConfigurableResource):
    """When an EBS snapshot counts as waste (SNAPSHOT_MAX_AGE_DAYS)."""

    snapshot_max_age_days: int = 90


class CommitmentPolicyResource(dg.ConfigurableResource):
    """What the commitment checks hold Savings Plans and RIs to (COMMITMENT_UTILIZATION_TARGET,
    COMMITMENT_COVERAGE_TARGET), and how close an expiry must be to warn."""

    utilization_target_pct: float = 95.0
    coverage_target_pct: float = 70.0
    expiry_warning_days: int = 30


class AnomalyPolicyResource(dg.ConfigurableResource):
    """Which detected changes become events and which are high severity (ANOMALY_*)."""

    min_impact_usd: float = 1.0
    min_score: float = 4.5
    min_probability: float = 0.5
    high_impact_usd: float = 100.0


class SpendAlertsResource(dg.ConfigurableResource):
    """Thresholds without an AWS budget behind them (COST_DAILY_WARNING, COST_MONTHLY_WARNING)."""

    daily_warning_usd: float | None = None
    monthly_warning_usd: float | None = None


class CostWindowResource(dg.ConfigurableResource):
    """How much Cost Explorer history is read and re-read (FINOPS_START_DATE, FINOPS_RESTATEMENT_*,
    FINOPS_MONTH_CLOSE_DAYS, LOOKBACK_DAYS, FINOPS_DRILLDOWN_DAYS, FINOPS_SP_COVERAGE_ACCOUNT_DAYS)."""

    first_day: str  # YYYY-MM-DD: Dagster config has no date type
    restatement_days: int = 3
    month_close_days: int = 5
    restatement_request_budget: int = 4
    anomaly_lookback_days: int = 90
    drilldown_days: int = 500  # FINOPS_DRILLDOWN_DAYS: the days of history the drill-down grain reads
    # FINOPS_SP_COVERAGE_ACCOUNT_DAYS: how old the per-account Savings Plans coverage may grow before a run
    # reads it per account again (one request per account); runs in between read it organisation-wide.
    sp_coverage_account_days: int = 1

    @property
    def start_date(self) -> dt.date:
        return dt.date.fromisoformat(self.first_day)


class ReportsResource(dg.ConfigurableResource):
    """Where and how reports are written (REPORT_*, MAX_EXCEL_ROWS), confined to FINOPS_PROJECT_ROOT."""

    project_root: str
    default_formats: list[str] = Field(default_factory=lambda: list(REPORT_FORMATS))
    output_dir: str = "reports"
    max_excel_rows: int = 1_048_575
    required_tag_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_REQUIRED_TAG_KEYS))
    schedule_enabled: bool = False  # REPORT_SCHEDULE_ENABLED: a tick turned on by hand still skips

    def options(self) -> ReportOptions:
        return ReportOptions(
            project_root=Path(self.project_root),
            default_formats=tuple(self.default_formats),
            output_dir=Path(self.output_dir),
            max_excel_rows=self.max_excel_rows,
            required_tag_keys=tuple(self.required_tag_keys),
        )


class SesResource(dg.ConfigurableResource):
    """E-mail delivery through SES (SES_*); off unless SES_ENABLED=true."""

    enabled: bool = False
    region: str = "us-east-1"
    sender_email: str | None = None
    recipient_emails: list[str] = Field(default_factory=list)
    max_send_attempts: int = 3

    def options(self) -> SesOptions:
        return SesOptions(
            enabled=self.enabled,
            region=self.region,
            sender_email=self.sender_email,
            recipient_emails=tuple(self.recipient_emails),
            max_send_attempts=self.max_send_attempts,
        )


class AlertsResource(dg.ConfigurableResource):
    """Alerts to Slack (SLACK_WEBHOOK_URL) and a generic JSON webhook (ALERT_WEBHOOK_*); off when unset.

    The URLs and the secret are credentials: only :class:`AlertOptions` carries them to the sender, and
    its repr names the channels, never the URLs.
    """

    slack_webhook_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    max_send_attempts: int = 5

    def options(self) -> AlertOptions:
        return AlertOptions(
            slack_webhook_url=self.slack_webhook_url,
            webhook_url=self.webhook_url,
            webhook_secret=self.webhook_secret,
            max_send_attempts=self.max_send_attempts,
        )


class FocusExportResource(dg.ConfigurableResource):
    """Where the AWS Data Export (FOCUS 1.0) is read from (FOCUS_EXPORT_URI; None: not configured), the
    tag key showback splits cost by (SHOWBACK_TAG_KEY), and whether the per-account cost grains read the
    days it holds from it instead of Cost Explorer (FINOPS_COST_DETAIL_SOURCE)."""

    uri: str | None = None
    showback_tag_key: str = "CostCenter"
    cost_detail_source: str = "cost_explorer"  # or "data_export" (defs/ingest/cost_export.py)


class HealthResource(dg.ConfigurableResource):
    """Optional probes of ``aws_access_health`` (SUPPORT_PROBE_ENABLED)."""

    support_probe_enabled: bool = False


def _secret(name: str, value: str | None) -> str | dg.EnvVar | None:
    """A credential bound by its variable's name where the environment holds it: the Dagster UI's resource
    page then shows ``SLACK_WEBHOOK_URL``, not the URL (the value was validated by the settings already).
    A value read from the .env file stays a value (the environment does not hold it for Dagster)."""
    return dg.EnvVar(name) if value is not None and os.environ.get(name) == value else value


def resources_for(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Every resource the code location binds, keyed as assets, checks, sensors and schedules name them."""
    return {
        "aws": AwsResource.from_settings(settings),
        "warehouse": WarehouseResource(
            database=str(settings.duckdb_path),
            lock_timeout_seconds=settings.duckdb_lock_timeout_seconds,
            read_copy=settings.read_copy,
        ),
        "tag_policy": TagPolicyResource(
            required_keys=list(settings.required_tag_keys),
            allowed_values={key: list(values) for key, values in settings.tag_allowed_values},
            key_case_mode=settings.tag_key_case_mode,
            exempt_resource_types=list(settings.tag_exempt_resource_types),
            threshold_pct=settings.tag_compliance_threshold,
        ),
        "savings_policy": SavingsPolicyResource(snapshot_max_age_days=settings.snapshot_max_age_days),
        "commitment_policy": CommitmentPolicyResource(
            utilization_target_pct=settings.commitment_utilization_target,
            coverage_target_pct=settings.commitment_coverage_target,
        ),
        "anomaly_policy": AnomalyPolicyResource(
            min_impact_usd=settings.anomaly_min_impact_usd,
            min_score=settings.anomaly_min_score,
            min_probability=settings.anomaly_min_probability,
            high_impact_usd=settings.anomaly_high_impact_usd,
        ),
        "spend_alerts": SpendAlertsResource(
            daily_warning_usd=settings.cost_daily_warning, monthly_warning_usd=settings.cost_monthly_warning
        ),
        "cost_window": CostWindowResource(
            first_day=settings.start_date.isoformat(),
            restatement_days=settings.restatement_days,
            month_close_days=settings.month_close_days,
            restatement_request_budget=settings.restatement_request_budget,
            anomaly_lookback_days=settings.lookback_days,
            drilldown_days=settings.drilldown_days,
            sp_coverage_account_days=settings.sp_coverage_account_days,
        ),
        "reports": ReportsResource(**report_fields(settings)),
        "ses": SesResource(**ses_fields(settings)),
        "alerts": AlertsResource(
            slack_webhook_url=_secret("SLACK_WEBHOOK_URL", settings.slack_webhook_url),
            webhook_url=_secret("ALERT_WEBHOOK_URL", settings.alert_webhook_url),
            webhook_secret=_secret("ALERT_WEBHOOK_SECRET", settings.alert_webhook_secret),
            max_send_attempts=settings.alert_max_send_attempts,
        ),
        "health_probes": HealthResource(support_probe_enabled=settings.support_probe_enabled),
        "focus_export": FocusExportResource(
            uri=settings.focus_export_uri,
            showback_tag_key=settings.showback_tag_key,
            cost_detail_source=settings.cost_detail_source,
        ),
    }


def report_fields(settings: Settings) -> dict[str, object]:
    return {
        "project_root": str(settings.project_root),
        "default_formats": list(settings.report_default_formats),
        "output_dir": str(settings.report_output_dir),
        "max_excel_rows": settings.max_excel_rows,
        "required_tag_keys": list(settings.required_tag_keys),
        "schedule_enabled": settings.report_schedule_enabled,
    }


def ses_fields(settings: Settings) -> dict[str, object]:
    return {
        "enabled": settings.ses_enabled,
        "region": settings.ses_region,
        "sender_email": settings.ses_sender_email,
        "recipient_emails": list(settings.ses_recipient_emails),
        "max_send_attempts": settings.ses_max_send_attempts,
    }
