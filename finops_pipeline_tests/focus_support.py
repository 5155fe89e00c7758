"""The sandbox's FOCUS Data Export (issue #18) for tests that run the whole pipeline against a sandbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from finops_sandbox.data_exports import DataExport

FOCUS_BUCKET = "finops-data-exports"  # the bucket iam/focus-export-policy.json names


def sandbox_s3(env: dict[str, str]) -> Any:
    """A boto3 S3 client on the sandbox at ``env``."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def publish_focus_export(env: dict[str, str], world: Any) -> str:
    """Publish ``world``'s FOCUS export into the sandbox at ``env``; the FOCUS_EXPORT_URI to read it.

    For a sandbox that lives only as long as the test; a shared one takes ``focus_export``, which
    removes the bucket again (it is an S3 bucket like any other: left behind, every later inventory and
    compliance test of that sandbox would count one resource its world does not have)."""
    export = DataExport(sandbox_s3(env), FOCUS_BUCKET)
    export.publish(world)
    return export.uri


@contextmanager
def focus_export(env: dict[str, str], world: Any) -> Iterator[str]:
    """``publish_focus_export`` for the test's duration; the bucket and its objects are deleted after."""
    try:
        yield publish_focus_export(env, world)
    finally:
        withdraw_focus_export(env)


def withdraw_focus_export(env: dict[str, str], bucket: str = FOCUS_BUCKET) -> None:
    """Delete the export's objects and its bucket from the sandbox at ``env``."""
    s3 = sandbox_s3(env)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def whole_and_behind(sandbox: Any, bucket_prefix: str) -> Iterator[dict[str, Any]]:
    """Two deliveries of the sandbox world's export (a module fixture's body): the whole ledger, and
    one two days behind it (``DataExport.publish(through=...)``); withdrawn afterwards."""
    s3 = sandbox_s3(sandbox.env())
    whole, behind = DataExport(s3, f"{bucket_prefix}-whole"), DataExport(s3, f"{bucket_prefix}-behind")
    whole.publish(sandbox.world)
    behind.publish(sandbox.world, through=sandbox.world.data_end - dt.timedelta(days=2))
    yield {"whole": whole, "behind": behind}
    for export in (whole, behind):
        withdraw_focus_export(sandbox.env(), export.bucket)
