"""Health domain: the AWS permissions of the configured features, as ``finops doctor`` sees them, and the
recovery of runs whose process died."""

from types import SimpleNamespace

import dagster as dg

from finops_pipeline.aws_session import AwsResource, call_metadata
from finops_pipeline.config_resources import (
    FocusExportResource,
    HealthResource,
    SesResource,
    TagPolicyResource,
)
from finops_pipeline.defs import layers
from finops_pipeline.doctor import run_probes
from finops_pipeline.lib.markdown import md_table
from finops_pipeline.lib.run_recovery import fail_dead_runs, is_local
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

CHECK_NAME = "no_critical_permission_missing"


def probed_settings(
    aws: AwsResource,
    tag_policy: TagPolicyResource,
    ses: SesResource,
    health_probes: HealthResource,
    focus_export: FocusExportResource | None = None,
) -> SimpleNamespace:
    """What ``run_probes`` reads of the settings, from this run's resources (``finops doctor`` passes
    the Settings themselves), so the asset probes exactly what the run is configured to use."""
    return SimpleNamespace(
        aws_region=aws.region,
        role_arn=aws.role_arn,
        scan_regions=tuple(aws.scan_regions),
        single_account_mode=aws.single_account_mode,
        billing_view_arn=aws.billing_view_arn,
        required_tag_keys=tuple(tag_policy.required_keys),
        ses_enabled=ses.enabled,
        ses_region=ses.region,
        ses_sender_email=ses.sender_email,
        support_probe_enabled=health_probes.support_probe_enabled,
        focus_export_uri=focus_export.uri if focus_export is not None else None,
    )


def _table(rows: list[dict], columns: tuple[str, ...]) -> str:
    return md_table(columns, ([row.get(c) for c in columns] for row in rows), limit=50, width=160)


@dg.asset(
    name="aws_access_health",
    group_name=layers.HEALTH,
    kinds={"aws"},
    owners=["team:finops"],
    pool="duckdb",
    description="Every AWS permission the configured features need, probed as `finops doctor` does.",
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="aws_access_health",
            description="No critical permission is missing and the credentials work.",
        )
    ],
)
def aws_access_health(
    context: dg.AssetExecutionContext,
    aws: AwsResource,
    warehouse: WarehouseResource,
    tag_policy: TagPolicyResource,
    ses: SesResource,
    health_probes: HealthResource,
    focus_export: FocusExportResource,
):
    with aws.tracked() as calls:
        report = run_probes(aws, probed_settings(aws, tag_policy, ses, health_probes, focus_export))
    with warehouse.connect() as conn:
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
    payload = report.to_json()
    permissions = payload["permissions"]
    member = permissions.get("member_role", {})
    areas = [
        {"area": name, **{k: v for k, v in area.items() if k == "status"}}
        for name, area in permissions.items()
    ]
    metadata = {
        "status": payload["status"],
        "critical_missing": len(payload["critical_missing"]),
        "missing_actions": len(payload["missing"]),
        "region": payload["region"],
        "auth_strategy": payload["auth_strategy"],
        "caller_arn": payload["caller"].get("arn", ""),
        "member_accounts_ok": int(member.get("accounts_ok", 0)),
        "member_accounts_failed": len(member.get("accounts_failed", [])),
        "areas": dg.MetadataValue.md(_table(areas, ("area", "status"))),
        "remediation": dg.MetadataValue.md(
            _table(payload["remediation"], ("area", "action", "status", "accounts", "regions", "fix"))
        ),
        "report": dg.MetadataValue.json(payload),
        **call_metadata(calls),
    }
    if payload["error"]:
        metadata["error"] = payload["error"]
    context.log.info("aws_access_health: %s, missing %s", payload["status"], payload["missing"] or "nothing")
    yield dg.MaterializeResult(metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=payload["status"] in ("ok", "degraded"),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "status": payload["status"],
            "critical_missing": ", ".join(payload["critical_missing"]) or "none",
            "missing": ", ".join(payload["missing"]) or "none",
        },
    )


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process is gone (kill -9, OOM, restart) so that their pool and queue "
    "slots are freed and the next run proceeds.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    if not is_local(context.instance):
        return dg.SkipReason("run storage is shared (not local SQLite): run monitoring's max_runtime applies")
    dead = fail_dead_runs(context.instance)
    for run in dead:
        context.log.warning("run %s (%s) failed: its process %s is gone", run.run_id, run.job_name, run.pid)
    return dg.SkipReason(f"{len(dead)} dead run(s) failed" if dead else "no dead run")
