"""Cost allocation tag activation of the required keys: read it, judge it, and say how to fix it.

Why: Cost Explorer shows a tag key only once the payer account has activated it as a cost allocation
tag, and only for usage from then on (activation is not retroactive beyond a separate backfill
request); an inactive key's spend all lands in ``Key$``, the group that otherwise means "untagged".
Without this, spend coverage reads ~0% on an organisation whose keys are not activated, with no hint
why. References: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
(activate; up to 24 hours to take effect),
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-allocation-backfill.html (backfill up
to twelve months, once every 24 hours),
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_ListCostAllocationTags.html.

Shared by the ``ce_cost_allocation_tags`` asset and its check, and by ``finops doctor``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from finops_pipeline.clock import first_of_month_months_ago

TAG_KEYS_PER_REQUEST = 100  # ListCostAllocationTags' TagKeys filter holds 1-100 keys
NOT_LISTED = "NotListed"  # a required key AWS does not list: no billed resource carried it (yet)
ACTIVATION_COLUMNS = pa.schema(
    [
        ("snapshot_date", pa.date32()),
        ("tag_key", pa.string()),
        ("tag_type", pa.string()),
        ("status", pa.string()),
        ("last_updated_date", pa.timestamp("us", tz="UTC")),
        ("last_used_date", pa.timestamp("us", tz="UTC")),
        ("active_from", pa.date32()),
        ("is_required", pa.bool_()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
    ]
)


def list_tags(ce: Any, keys: Sequence[str]) -> list[dict[str, Any]]:
    """ListCostAllocationTags for `keys` (UserDefined), every page: one request per 100 keys here."""
    tags: list[dict[str, Any]] = []
    for i in range(0, len(keys), TAG_KEYS_PER_REQUEST):
        request: dict[str, Any] = {
            "TagKeys": list(keys[i : i + TAG_KEYS_PER_REQUEST]),
            "Type": "UserDefined",
            "MaxResults": TAG_KEYS_PER_REQUEST,
        }
        token: str | None = None
        while True:
            answer = ce.list_cost_allocation_tags(**request, **({"NextToken": token} if token else {}))
            tags += answer.get("CostAllocationTags", [])
            token = answer.get("NextToken")
            if not token:
                break
    return tags


def _when(value: Any) -> dt.datetime | None:
    """boto3 parses ZonedDateTime as a string: ``2026-06-15T00:00:00Z``."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.UTC)


def active_from(tag: dict[str, Any]) -> dt.date | None:
    """First usage day whose tag grouping is trusted: the day after activation (it takes up to 24 h).

    None for an inactive key; an active key without a LastUpdatedDate is trusted throughout (``min``).
    """
    if tag.get("Status") != "Active":
        return None
    updated = _when(tag.get("LastUpdatedDate"))
    return dt.date.min if updated is None else updated.date() + dt.timedelta(days=1)


def activation_table(
    tags: Sequence[dict[str, Any]], required: Sequence[str], fetched_at: dt.datetime
) -> pa.Table:
    """Rows for ``raw.ce_cost_allocation_tags``: every answered key, plus required keys AWS did not list."""
    listed = {t["TagKey"] for t in tags}
    rows = [
        {
            "tag_key": t["TagKey"],
            "tag_type": t.get("Type"),
            "status": t.get("Status"),
            "last_updated_date": _when(t.get("LastUpdatedDate")),
            "last_used_date": _when(t.get("LastUsedDate")),
            "active_from": active_from(t),
            "is_required": t["TagKey"] in required,
        }
        for t in tags
    ]
    rows += [
        {"tag_key": key, "tag_type": "UserDefined", "status": NOT_LISTED, "is_required": True}
        for key in required
        if key not in listed
    ]
    snapshot = fetched_at.date()
    return pa.Table.from_pylist(
        [{**row, "snapshot_date": snapshot, "fetched_at": fetched_at} for row in rows],
        schema=ACTIVATION_COLUMNS,
    )


@dataclass
class ActivationVerdict:
    """The required keys by activation state, and the fix when one is not usable."""

    inactive: list[str] = field(default_factory=list)
    not_listed: list[str] = field(default_factory=list)
    activated: dict[str, str] = field(default_factory=dict)  # key -> first trusted usage day

    @property
    def ok(self) -> bool:
        return not self.inactive

    def to_json(self, today: dt.date) -> dict[str, Any]:
        return {
            "inactive_required_keys": self.inactive,
            "not_listed_required_keys": self.not_listed,
            "active_from": self.activated,
            "fix": fix_text(self.inactive, today) if self.inactive else None,
        }


def judge(tags: Sequence[dict[str, Any]], required: Sequence[str]) -> ActivationVerdict:
    """Which required keys Cost Explorer cannot group by (inactive) and since when the others count."""
    by_key = {t["TagKey"]: t for t in tags}
    verdict = ActivationVerdict()
    for key in required:
        tag = by_key.get(key)
        if tag is None:
            verdict.not_listed.append(key)
        elif tag.get("Status") != "Active":
            verdict.inactive.append(key)
        else:
            since = active_from(tag)
            verdict.activated[key] = "always" if since in (None, dt.date.min) else since.isoformat()
    return verdict


def fix_text(keys: Sequence[str], today: dt.date) -> str:
    """How to activate `keys` and get their past spend back (backfill), in the payer account."""
    statuses = " ".join(f"TagKey={key},Status=Active" for key in keys)
    backfill_from = first_of_month_months_ago(today, 12).isoformat()
    return (
        f"activate the cost allocation tag(s) {', '.join(keys)} in the management (payer) account: Billing "
        "and Cost Management console > Cost allocation tags > select > Activate, or `aws ce "
        f"update-cost-allocation-tags-status --cost-allocation-tags-status {statuses}` (needs "
        "ce:UpdateCostAllocationTagsStatus, which this pipeline never calls). It takes up to 24 hours and "
        "is not retroactive: until then Cost Explorer puts all their spend in 'Key$' and the pipeline "
        "reports their spend coverage as unknown. For past months, request a backfill (console: Cost "
        "allocation tags > Backfill tags; or `aws ce start-cost-allocation-tag-backfill --backfill-from "
        f"{backfill_from}T00:00:00Z`, up to 12 months back, once per 24 hours), then re-ingest "
        "ce_cost_by_tag over the backfilled months."
    )
