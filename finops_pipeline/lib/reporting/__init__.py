"""Reports and delivery: datasets from the warehouse, five file formats, e-mail through SES.

Plain Python (no Dagster): ``finops_pipeline.defs.reporting`` wraps it in an asset, job, schedule and
sensors. Start with :func:`generate_report`.
"""

from finops_pipeline.lib.reporting.periods import Period, ReportRangeError, resolve_period
from finops_pipeline.lib.reporting.report import ReportError, generate_report, send_report_email
from finops_pipeline.lib.reporting.safety import OutputPathError

__all__ = [
    "OutputPathError",
    "Period",
    "ReportError",
    "ReportRangeError",
    "generate_report",
    "resolve_period",
    "send_report_email",
]
