"""``focus_export_sensor``: import each billing period of the FOCUS export when its files change.

AWS rewrites an open period's files up to three times a day and adds a period each month
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html). A tick lists the
export (S3 ``ListObjectsV2`` and the manifests: what ``focus_cost`` itself reads first), adds periods
the instance lacks as partitions, and requests one ``focus_import_job`` run per period whose files now
differ from those its last successful import read (the ``export_digest`` of that partition's last
materialization). State lives in the instance, not the cursor, so a failed or killed import is
requested again on a later tick; a period with a run queued or in progress is left to that run.
"""

from __future__ import annotations

import dagster as dg

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.config_resources import FocusExportResource
from finops_pipeline.defs.focus.partitions import FOCUS_DIGEST_KEY, FOCUS_PERIODS, export_source
from finops_pipeline.lib.focus.source import period_digest

FOCUS_COST_KEY = dg.AssetKey("focus_cost")
FOCUS_JOB = "focus_import_job"  # the sensor's target (automation/jobs.py)
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def imported_digests(instance: dg.DagsterInstance, periods: list[str]) -> dict[str, str]:
    """Per period, the export digest its last successful ``focus_cost`` materialization read."""
    found: dict[str, str] = {}
    for period in periods:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=FOCUS_COST_KEY, asset_partitions=[period]), limit=1
        ).records
        materialization = records[0].asset_materialization if records else None
        value = materialization.metadata.get(FOCUS_DIGEST_KEY) if materialization else None
        if value is not None:
            found[period] = str(getattr(value, "value", value))
    return found


def periods_in_flight(instance: dg.DagsterInstance, job_name: str) -> set[str]:
    """The periods of ``job_name``'s runs not finished yet."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT))
    return {key for run in runs if (key := run.tags.get("dagster/partition"))}


def focus_export_tick(
    context: dg.SensorEvaluationContext, aws: AwsResource, focus_export: FocusExportResource
) -> dg.SensorResult | dg.SkipReason:
    if focus_export.uri is None:
        return dg.SkipReason("FOCUS_EXPORT_URI is not set: no FOCUS export to watch")
    by_period = export_source(focus_export.uri, aws).files_by_period()
    instance = context.instance
    known = set(instance.get_dynamic_partitions(FOCUS_PERIODS.name))
    new = [p for p in by_period if p not in known]
    imported = imported_digests(instance, [p for p in by_period if p in known])
    busy = periods_in_flight(instance, FOCUS_JOB)
    changed = [
        period
        for period, files in by_period.items()
        if period not in busy and imported.get(period) != period_digest(files)
    ]
    if not new and not changed:
        return dg.SkipReason(f"the export's {len(by_period)} billing periods are imported as they are")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=period, tags={"finops/trigger": "focus_export_sensor"})
            for period in changed
        ],
        dynamic_partitions_requests=[FOCUS_PERIODS.build_add_request(new)] if new else [],
    )
