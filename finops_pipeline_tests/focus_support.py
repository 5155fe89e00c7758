"""The sandbox's FOCUS Data Export (issue #18) for tests that run the whole pipeline against a sandbox."""

from __future__ import annotations

from typing import Any

FOCUS_BUCKET = "finops-data-exports"  # the bucket iam/focus-export-policy.json names


def publish_focus_export(env: dict[str, str], world: Any) -> str:
    """Publish ``world``'s FOCUS export into the sandbox at ``env``; the FOCUS_EXPORT_URI to read it."""
    import boto3

    from finops_sandbox.data_exports import DataExport

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    export = DataExport(s3, FOCUS_BUCKET)
    export.publish(world)
    return export.uri
