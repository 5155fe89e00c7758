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

A completed backfill moves the trusted start back: StartCostAllocationTagBackfill "will backfill the
activation status (either active or inactive) for all tag keys from BackfillFrom up to the time this request
is made" (botocore's ce model), so a key already active when a backfill was requested is grouped correctly
from that backfill's BackfillFrom (a month's 1st, at most twelve months back) on. The backfill history is
one ``ListCostAllocationTagBackfillHistory`` request (up to 1000 backfills a page; one a day at most).

Shared by the ``ce_cost_allocation_tags`` asset and its check, and by ``finops doctor``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline import tables
from finops_pipeline.clock import first_of_month_months_ago

TAG_KEYS_PER_REQUEST = 100  # ListCostAllocationTags' TagKeys filter holds 1-100 keys
NOT_LISTED = "NotListed"  # a required key AWS does not list: no billed resource carried it (yet)
ACTIVATION_COLUMNS = tables.table("raw.ce_cost_allocation_tags").arrow_schema()


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


BACKFILL_PAGE = 1000  # ListCostAllocationTagBackfillHistory's MaxResults upper bound (botocore ce model)


def read_backfills(ce: Any) -> tuple[list[dict[str, Any]], str | None]:
    """Every backfill request (one request for up to 1000), and why none could be read (else None).

    A refusal (an older policy without ``ce:ListCostAllocationTagBackfillHistory``) only costs the
    backfill's benefit: the days before activation stay unknown, as without a backfill.
    """
    requests: list[dict[str, Any]] = []
    token: str | None = None
    try:
        while True:
            answer = ce.list_cost_allocation_tag_backfill_history(
                MaxResults=BACKFILL_PAGE, **({"NextToken": token} if token else {})
            )
            requests += answer.get("BackfillRequests", [])
            token = answer.get("NextToken")
            if not token:
                return requests, None
    except (ClientError, BotoCoreError) as exc:
        return [], str(exc)


def _when(value: Any) -> dt.datetime | None:
    """boto3 parses ZonedDateTime as a string: ``2026-06-15T00:00:00Z``."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.UTC)


def backfilled_from(updated: dt.datetime, backfills: Sequence[dict[str, Any]]) -> dt.date | None:
    """The earliest BackfillFrom of a SUCCEEDED backfill requested once the key was active (at or after
    its LastUpdatedDate): the first day the backfill re-grouped under the key. None: no such backfill."""
    days = [
        start.date()
        for b in backfills
        if b.get("BackfillStatus") == "SUCCEEDED"
        and (requested := _when(b.get("RequestedAt"))) is not None
        and requested >= updated
        and (start := _when(b.get("BackfillFrom"))) is not None
    ]
    return min(days, default=None)


def active_from(tag: dict[str, Any], backfills: Sequence[dict[str, Any]] = ()) -> dt.date | None:
    """First usage day whose tag grouping is trusted: the day after activation (it takes up to 24 h), or
    the start of a backfill requested since the activation, whichever is earlier.

    None for an inactive key; an active key without a LastUpdatedDate is trusted throughout (``min``).
    """
    if tag.get("Status") != "Active":
        return None
    updated = _when(tag.get("LastUpdatedDate"))
    if updated is None:
        return dt.date.min
    since = updated.date() + dt.timedelta(days=1)
    backfilled = backfilled_from(updated, backfills)
    return since if backfilled is None else min(since, backfilled)


def activation_table(
    tags: Sequence[dict[str, Any]],
    required: Sequence[str],
    fetched_at: dt.datetime,
    backfills: Sequence[dict[str, Any]] = (),
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
            "active_from": active_from(t, backfills),
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

    backfills: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, today: dt.date) -> dict[str, Any]:
        return {
            "inactive_required_keys": self.inactive,
            "not_listed_required_keys": self.not_listed,
            "active_from": self.activated,
            "fix": fix_text(self.inactive, today, self.backfills) if self.inactive else None,
        }


def judge(
    tags: Sequence[dict[str, Any]], required: Sequence[str], backfills: Sequence[dict[str, Any]] = ()
) -> ActivationVerdict:
    """Which required keys Cost Explorer cannot group by (inactive) and since when the others count."""
    by_key = {t["TagKey"]: t for t in tags}
    verdict = ActivationVerdict(backfills=list(backfills))
    for key in required:
        tag = by_key.get(key)
        if tag is None:
            verdict.not_listed.append(key)
        elif tag.get("Status") != "Active":
            verdict.inactive.append(key)
        else:
            since = active_from(tag, backfills)
            verdict.activated[key] = "always" if since in (None, dt.date.min) else since.isoformat()
    return verdict


def next_backfill(today: dt.date, backfills: Sequence[dict[str, Any]]) -> str | None:
    """When the next backfill may be requested, if the last one was less than 24 hours ago."""
    last = max((w for b in backfills if (w := _when(b.get("RequestedAt"))) is not None), default=None)
    if last is None:
        return None
    allowed = last + dt.timedelta(hours=24)
    return allowed.strftime("%Y-%m-%dT%H:%M:%SZ") if allowed.date() > today else None


def fix_text(keys: Sequence[str], today: dt.date, backfills: Sequence[dict[str, Any]] = ()) -> str:
    """How to activate `keys` and get their past spend back (backfill), in the payer account."""
    statuses = " ".join(f"TagKey={key},Status=Active" for key in keys)
    backfill_from = first_of_month_months_ago(today, 12).isoformat()
    wait = next_backfill(today, backfills)
    when = f" (the last one was under 24 hours ago: the next is possible from {wait})" if wait else ""
    return (
        f"activate the cost allocation tag(s) {', '.join(keys)} in the management (payer) account: Billing "
        "and Cost Management console > Cost allocation tags > select > Activate, or `aws ce "
        f"update-cost-allocation-tags-status --cost-allocation-tags-status {statuses}` (needs "
        "ce:UpdateCostAllocationTagsStatus, which this pipeline never calls). It takes up to 24 hours and "
        "is not retroactive: until then Cost Explorer puts all their spend in 'Key$' and the pipeline "
        "reports their spend coverage as unknown. For past months, request a backfill once the activation "
        "has taken effect (a backfill applies the activation status at the time it is requested, so one "
        "requested earlier does not cover these keys): console: Cost allocation tags > Backfill tags; or "
        f"`aws ce start-cost-allocation-tag-backfill --backfill-from {backfill_from}T00:00:00Z`, up to 12 "
        f"months back, once per 24 hours{when}. The next run reads the backfill history "
        "(ListCostAllocationTagBackfillHistory) and counts the backfilled months; re-ingest ce_cost_by_tag "
        "over them."
    )
