"""The FOCUS assets' partitions: one per billing period the export holds, added as the export shows them.

A Data Export is delivered per billing period and rewrites an open period while charges change
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html), so the period is
the unit that is re-read: ``focus_export_sensor`` adds a period when it appears and requests a run of
the periods whose files changed. Dynamic, not monthly from a fixed start: AWS backfills an export up to
36 months back, and a hand copy (the FinOps Foundation sample) can hold any month.
"""

from __future__ import annotations

import dagster as dg

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.lib.focus.source import ExportSource

FOCUS_PERIODS = dg.DynamicPartitionsDefinition(name="focus_billing_period")
# The assets partitioned by FOCUS_PERIODS; runs of the daily Cost Explorer window leave them out.
FOCUS_PARTITIONED = ("focus_cost", "focus_spend_coverage", "focus_showback")
# The metadata key of a focus_cost partition's ``period_digest``: what its last import read.
FOCUS_DIGEST_KEY = "export_digest"


def export_source(uri: str, aws: AwsResource) -> ExportSource:
    """The export at ``uri``: an S3 prefix through the pipeline's counted aws resource (its credentials,
    role and endpoints), a local folder without AWS."""
    return ExportSource(uri, aws.client("s3") if uri.startswith("s3://") else None)


def register_periods(instance: dg.DagsterInstance, source: ExportSource) -> list[str]:
    """Add the export's periods that the instance lacks; every period of the export, in order."""
    periods = sorted(source.files_by_period())
    known = set(instance.get_dynamic_partitions(FOCUS_PERIODS.name))
    if missing := [p for p in periods if p not in known]:
        instance.add_dynamic_partitions(FOCUS_PERIODS.name, missing)
    return periods


def all_periods_tags(instance: dg.DagsterInstance) -> dict[str, str]:
    """Run tags selecting every registered period (a single run: the assets' backfill policy)."""
    periods = instance.get_dynamic_partitions(FOCUS_PERIODS.name)
    return {
        "dagster/asset_partition_range_start": periods[0],
        "dagster/asset_partition_range_end": periods[-1],
    }
