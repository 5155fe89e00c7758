"""``ec2_inventory``: EC2 instances, volumes, own snapshots and AMIs, elastic IPs and NAT gateways of every
account × scan region.

The Tagging API only lists resources that have (or had) tags; these describe calls see every EC2 resource,
tagged or not, and give the states the waste recommendations need (unattached, unassociated, stopped).
Same fan-out, status table (source ``ec2``) and failure rules as the tag scan, one level finer: each
describe operation degrades on its own. A denied ``DescribeVolumes`` keeps the fresh instances, snapshots
and addresses, and the volumes of the last good scan (stale); the status row names the operation.
"""

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg
import pyarrow as pa

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget, attempt, call_metadata
from finops_pipeline.clock import utc_now
from finops_pipeline.defs import layers
from finops_pipeline.lib.fan_out import (
    failures_of,
    record_scan_status,
    replace_scanned_rows,
    scan_targets,
)
from finops_pipeline.lib.regions import scan_enabled
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.tables.model import STALE_COLUMNS
from finops_pipeline.warehouse import WarehouseResource, record_api_calls

SOURCE = "ec2"
KINDS = ("instances", "volumes", "snapshots", "addresses", "nat_gateways", "images")
TABLES = {kind: f"raw.ec2_{kind}" for kind in KINDS}
# What a scan writes: every column but the stale marks, which replace_scanned_rows sets on kept rows.
SCHEMAS = {
    kind: registry.table(name).arrow_schema(exclude=[c.name for c in STALE_COLUMNS])
    for kind, name in TABLES.items()
}


def _tags(item: dict[str, Any]) -> str:
    return json.dumps({t["Key"]: t["Value"] for t in item.get("Tags") or []}, ensure_ascii=False)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def _blank(value: str | None) -> str | None:
    return value or None  # moto answers '' where AWS leaves the field out


# "User initiated (2019-04-08 14:29:07 GMT)": AWS's StateTransitionReason of a stopped instance
# (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html, stateTransitionReason: "might be
# an empty string"); moto writes UTC instead of GMT. The only place DescribeInstances says since when.
_STOPPED_AT = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def stopped_since(instance: dict[str, Any]) -> dt.datetime | None:
    """When a stopped instance stopped, from its StateTransitionReason; None when not stopped or no time.

    Why: ``LaunchTime`` is the last start, not the stop, and the stop time appears nowhere else in the API.
    """
    if instance.get("State", {}).get("Name") not in ("stopping", "stopped"):
        return None
    found = _STOPPED_AT.search(instance.get("StateTransitionReason") or "")
    if found is None:
        return None
    return dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)


def _arn(target: ScanTarget, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{target.region}:{target.account_id}:{kind}/{resource_id}"


def _paginate(client: Any, operation: str, key: str, **request: Any) -> Iterable[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**request):
        yield from page.get(key, [])


def _instances(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    return [
        {
            "resource_arn": _arn(target, "instance", i["InstanceId"]),
            "instance_id": i["InstanceId"],
            "instance_type": i.get("InstanceType"),
            "state": i.get("State", {}).get("Name"),
            "launch_time": _utc(i.get("LaunchTime")),
            "stopped_since": stopped_since(i),
            "tags": _tags(i),
        }
        for reservation in _paginate(
            ec2, "describe_instances", "Reservations", PaginationConfig={"PageSize": 1000}
        )
        for i in reservation.get("Instances", [])
    ]


def _volumes(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    return [
        {
            "resource_arn": _arn(target, "volume", v["VolumeId"]),
            "volume_id": v["VolumeId"],
            "volume_type": v.get("VolumeType"),
            "size_gb": float(v["Size"]) if v.get("Size") is not None else None,
            "iops": v.get("Iops"),
            "state": v.get("State"),
            "attached_instance_ids": [
                a["InstanceId"] for a in v.get("Attachments") or [] if a.get("InstanceId")
            ],
            "create_time": _utc(v.get("CreateTime")),
            "tags": _tags(v),
        }
        for v in _paginate(ec2, "describe_volumes", "Volumes", PaginationConfig={"PageSize": 500})
    ]


def _snapshots(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    return [
        {
            "resource_arn": _arn(target, "snapshot", s["SnapshotId"]),
            "snapshot_id": s["SnapshotId"],
            "volume_id": _blank(s.get("VolumeId")),
            "volume_size_gb": float(s["VolumeSize"]) if s.get("VolumeSize") is not None else None,
            "state": s.get("State"),
            "storage_tier": s.get("StorageTier"),
            "start_time": _utc(s.get("StartTime")),
            "description": s.get("Description"),
            "tags": _tags(s),
        }
        for s in _paginate(
            ec2, "describe_snapshots", "Snapshots", OwnerIds=["self"], PaginationConfig={"PageSize": 1000}
        )
    ]


def _addresses(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    return [
        {
            "resource_arn": _arn(target, "elastic-ip", a.get("AllocationId") or a["PublicIp"]),
            "allocation_id": a.get("AllocationId") or a["PublicIp"],
            "public_ip": a.get("PublicIp"),
            "domain": a.get("Domain"),
            "association_id": _blank(a.get("AssociationId")),
            "instance_id": _blank(a.get("InstanceId")),
            "network_interface_id": _blank(a.get("NetworkInterfaceId")),
            "tags": _tags(a),
        }
        for a in ec2.describe_addresses().get("Addresses", [])  # not paginated
    ]


def _nat_gateways(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """DescribeNatGateways, 1000 a page (its maximum); deleted gateways stay listed about an hour
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html): not kept."""
    return [
        {
            "resource_arn": _arn(target, "natgateway", n["NatGatewayId"]),
            "nat_gateway_id": n["NatGatewayId"],
            "state": n.get("State"),
            "connectivity_type": n.get("ConnectivityType"),
            "vpc_id": n.get("VpcId"),
            "subnet_id": n.get("SubnetId"),
            "create_time": _utc(n.get("CreateTime")),
            "tags": _tags(n),
        }
        for n in _paginate(ec2, "describe_nat_gateways", "NatGateways", PaginationConfig={"PageSize": 1000})
        if n.get("State") not in ("deleting", "deleted")
    ]


def _images(ec2: Any, target: ScanTarget) -> list[dict[str, Any]]:
    """DescribeImages of the account's own AMIs (Owners=['self']), with the EBS snapshots that back them
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html)."""
    return [
        {
            "resource_arn": _arn(target, "image", i["ImageId"]),
            "image_id": i["ImageId"],
            "name": i.get("Name"),
            "state": i.get("State"),
            "creation_date": _iso(i.get("CreationDate")),
            "snapshot_ids": [m["Ebs"]["SnapshotId"] for m in _ebs(i) if m["Ebs"].get("SnapshotId")],
            "snapshot_size_gb": float(sum(m["Ebs"].get("VolumeSize") or 0 for m in _ebs(i))),
            "tags": _tags(i),
        }
        for i in _paginate(
            ec2, "describe_images", "Images", Owners=["self"], PaginationConfig={"PageSize": 1000}
        )
    ]


def _ebs(image: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in image.get("BlockDeviceMappings") or [] if m.get("Ebs")]


def _iso(value: str | None) -> dt.datetime | None:
    """DescribeImages gives CreationDate as an ISO 8601 string ("2024-05-01T09:00:00.000Z")."""
    return None if not value else dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


# table kind -> (the operation AWS names in errors and IAM, the reader of its rows)
OPERATIONS: dict[str, tuple[str, Callable[[Any, ScanTarget], list[dict[str, Any]]]]] = {
    "instances": ("DescribeInstances", _instances),
    "volumes": ("DescribeVolumes", _volumes),
    "snapshots": ("DescribeSnapshots", _snapshots),
    "addresses": ("DescribeAddresses", _addresses),
    "nat_gateways": ("DescribeNatGateways", _nat_gateways),
    "images": ("DescribeImages", _images),
}
STATUS_ORDER = ("access_denied", "error", "throttled")  # the status row takes the first one present


def scan_account_region(aws: AwsResource, target: ScanTarget) -> dict[str, ScanOutcome]:
    """The describe calls (paginated) in one account × region, each with its own outcome.

    Building the client assumes the member role: a denial there raises and fails the whole target.
    """
    ec2 = aws.client("ec2", region=target.region, account_id=target.account_id)
    where = {"account_id": target.account_id, "region": target.region}
    return {
        kind: attempt(target, lambda read=read: [{**where, **row} for row in read(ec2, target)], operation)
        for kind, (operation, read) in OPERATIONS.items()
    }


def per_operation(outcomes: list[ScanOutcome]) -> tuple[dict[str, list[ScanOutcome]], list[ScanOutcome]]:
    """Each table's outcome per target, and each target's combined outcome for ``raw.scan_status``.

    A target that failed as a whole (role denied, region not enabled) fails every table; otherwise a
    target is degraded by the operations that failed, whose details its status row lists.
    """
    by_kind: dict[str, list[ScanOutcome]] = {kind: [] for kind in OPERATIONS}
    combined = []
    for outcome in outcomes:
        parts = outcome.result or {kind: outcome for kind in OPERATIONS}
        for kind in OPERATIONS:
            by_kind[kind].append(parts[kind])
        failed = [part for part in parts.values() if part.status != "ok"]
        if outcome.status != "ok" or not failed:
            combined.append(ScanOutcome(outcome.target, outcome.status, outcome.detail, parts))
            continue
        status = next(s for s in STATUS_ORDER if any(part.status == s for part in failed))
        detail = "; ".join(part.detail for part in failed)[:500]
        combined.append(ScanOutcome(outcome.target, status, detail, parts))
    return by_kind, combined


@dg.asset(
    group_name=layers.RAW_INVENTORY,
    kinds={"aws", "duckdb"},
    owners=["team:finops"],
    pool="duckdb",
    deps=["aws_accounts"],
    description="EC2 instances, volumes, own snapshots and AMIs, elastic IPs and NAT gateways of every "
    "account × scan region; "
    "a failed account × region × operation keeps its last good rows, marked stale.",
    metadata={**definition_metadata("ec2_inventory"), "tables": ", ".join(TABLES.values())},
)
def ec2_inventory(
    context: dg.AssetExecutionContext, aws: AwsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    with aws.tracked() as calls:
        with warehouse.connect() as conn:
            targets = scan_targets(conn, aws)
        by_kind, outcomes = per_operation(
            scan_enabled(aws, targets, lambda target: scan_account_region(aws, target))
        )
    now = utc_now()
    tables = {
        kind: pa.Table.from_pylist(
            [{**row, "scanned_at": now} for o in by_kind[kind] for row in o.result or []], schema=schema
        )
        for kind, schema in SCHEMAS.items()
    }
    with warehouse.connect() as conn:
        stale = {
            kind: replace_scanned_rows(conn, TABLES[kind], table, failures_of(by_kind[kind]), now)
            for kind, table in tables.items()
        }
        items = [sum(len(part.result or []) for part in o.result.values()) for o in outcomes]
        statuses = record_scan_status(conn, SOURCE, outcomes, items)
        record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
        counted = row_count(conn, "ec2_inventory")
    return dg.MaterializeResult(
        metadata={
            **counted,
            **{kind: table.num_rows for kind, table in tables.items()},
            **{f"{kind}_stale": n for kind, n in stale.items()},
            "accounts_scanned": len({t.account_id for t in targets}),
            "regions_scanned": len(aws.scan_regions),
            "scans_ok": statuses["ok"],
            "scans_failed": len(outcomes) - statuses["ok"],
            **call_metadata(calls),
        }
    )
