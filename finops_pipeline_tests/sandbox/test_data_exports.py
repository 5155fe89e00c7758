"""The sandbox's AWS Data Exports emulation: a FOCUS 1.0 export in moto S3 that agrees with Cost Explorer.

The export is read back the way users read it (boto3 for the objects, pyarrow for the Parquet) and compared
with the Cost Explorer emulator over HTTP, month by month, to the cent.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from finops_pipeline_tests.conftest import sandbox_config
from finops_pipeline_tests.focus_support import FOCUS_BUCKET, withdraw_focus_export
from finops_sandbox.data_exports import DataExport
from finops_sandbox.server import Sandbox
from finops_sandbox.world import build_world

CENT = Decimal("0.01")


def _cents(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@pytest.fixture(scope="module")
def export(sandbox: Sandbox) -> Iterator[tuple[DataExport, Any]]:
    """The export in the session sandbox for this module; removed after, so later tests there see only
    the world's own buckets."""
    s3 = boto3.client("s3", **_client_args(sandbox))
    exported = DataExport(s3, FOCUS_BUCKET)
    exported.publish(sandbox.world)
    yield exported, s3
    withdraw_focus_export(sandbox.env())


def _client_args(sandbox: Sandbox) -> dict[str, str]:
    env = sandbox.env()
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": env["AWS_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def _monthly_from_export(s3: Any, export: DataExport) -> dict[str, tuple[Decimal, Decimal]]:
    """Per billing period: the manifest's files, summed with pyarrow (BilledCost, EffectiveCost)."""
    out = {}
    listed = s3.list_objects_v2(Bucket=export.bucket, Prefix=f"{export.prefix}/{export.name}/metadata/")
    for item in listed["Contents"]:
        manifest = json.loads(s3.get_object(Bucket=export.bucket, Key=item["Key"])["Body"].read())
        billed = effective = Decimal(0)
        for uri in manifest["dataFiles"]:
            key = uri.split(f"s3://{export.bucket}/", 1)[1]
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=export.bucket, Key=key)["Body"].read()))
            billed += sum(Decimal(str(v)) for v in table.column("BilledCost").to_pylist())
            effective += sum(Decimal(str(v)) for v in table.column("EffectiveCost").to_pylist())
        period = item["Key"].split("BILLING_PERIOD=", 1)[1][:7]
        out[period] = (billed.quantize(CENT), effective.quantize(CENT))
    return out


def _monthly_from_cost_explorer(sandbox: Sandbox) -> dict[str, tuple[Decimal, Decimal]]:
    ce = boto3.client("ce", **_client_args(sandbox))
    world = sandbox.world
    answer = ce.get_cost_and_usage(
        TimePeriod={"Start": world.history_start.isoformat(), "End": world.data_end.isoformat()},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost", "AmortizedCost"],
    )
    assert "NextPageToken" not in answer
    return {
        r["TimePeriod"]["Start"][:7]: (
            _cents(r["Total"]["UnblendedCost"]["Amount"]),
            _cents(r["Total"]["AmortizedCost"]["Amount"]),
        )
        for r in answer["ResultsByTime"]
    }


def test_every_month_reconciles_with_cost_explorer_to_the_cent(
    sandbox: Sandbox, export: tuple[DataExport, Any]
) -> None:
    exported, s3 = export
    from_export = _monthly_from_export(s3, exported)
    from_ce = _monthly_from_cost_explorer(sandbox)
    assert len(from_ce) == 14  # 13 months of history and this one
    assert from_export == from_ce
    assert all(billed > 0 for billed, _ in from_export.values())


def test_layout_and_manifest_are_aws_shaped(export: tuple[DataExport, Any]) -> None:
    exported, s3 = export
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=exported.bucket)["Contents"]]
    base = f"{exported.prefix}/{exported.name}"
    data = [k for k in keys if k.startswith(f"{base}/data/BILLING_PERIOD=")]
    manifests = [k for k in keys if k.startswith(f"{base}/metadata/BILLING_PERIOD=")]
    assert len(manifests) == 14 and all(k.endswith(f"{exported.name}-Manifest.json") for k in manifests)
    assert data and all(k.endswith(".snappy.parquet") for k in data)
    manifest = json.loads(s3.get_object(Bucket=exported.bucket, Key=manifests[-1])["Body"].read())
    assert set(manifest) == {"executionId", "exportArn", "columns", "dataFiles"}
    names = {c["name"] for c in manifest["columns"]}
    assert {"BilledCost", "EffectiveCost", "ChargePeriodStart", "Tags", "x_UsageType"} <= names


def test_open_periods_are_restated_and_closed_ones_left_alone(
    sandbox: Sandbox, export: tuple[DataExport, Any]
) -> None:
    exported, s3 = export
    before = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=exported.bucket)["Contents"]}
    next_day = build_world(sandbox_config(as_of=sandbox.world.config.as_of + dt.timedelta(days=1)))
    written = exported.publish(next_day)
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=exported.bucket)["Contents"]}
    open_period = next_day.estimated_from.strftime("%Y-%m")
    assert written == [open_period]  # only the month whose bill is not final
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed and all(f"BILLING_PERIOD={open_period}" in k for k in changed)
    exported.publish(sandbox.world)  # back to the session's day for this module's other tests
