"""Cost allocation tags: which tag keys Cost Explorer may show, since when, and ListCostAllocationTags.

Why: in AWS a tag key shows in Cost Explorer only once the payer account has *activated* it as a cost
allocation tag, and only for usage from its activation on; before that, and for a key never activated,
every dollar lands in the ``Key$`` group (empty value). A pipeline that trusts ``Key$`` as "untagged"
then reads ~0% spend coverage on a real organisation with inactive keys. The sandbox must be able to
produce that, so the emulator's tag grouping and tag filters ask ``active_from`` below.

References (AWS Billing user guide and API reference):
- "You must activate both types of tags separately before they can appear in Cost Explorer or on a cost
  allocation report": https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html
- Activating user-defined cost allocation tags (Billing console > Cost allocation tags > Activate; "it
  can take up to 24 hours for tags to activate"):
  https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/activating-tags.html
- Activation is not retroactive; a separate backfill request re-applies the current activation status
  for up to twelve months back, once every 24 hours:
  https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-allocation-backfill.html
- ListCostAllocationTags (filters Status, TagKeys (1-100), Type; MaxResults 1-1000, default 100; a page
  holds at most 100 tags in botocore's model; NextToken):
  https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_ListCostAllocationTags.html
  LastUpdatedDate is when the key was last activated or deactivated; LastUsedDate the last month the key
  was used on a resource.

Modelled: activation on a day D shows the key's values for usage days >= D (the 24-hour activation
delay is not modelled). Backfills (StartCostAllocationTagBackfill, ListCostAllocationTagBackfillHistory):
"This will backfill the activation status (either active or inactive) for all tag keys from BackfillFrom up
to the time this request is made. You can request a backfill once every 24 hours"; BackfillFrom "can only be
a first day of the month ... Dates can't precede the previous twelve months, or in the future" (botocore's
ce model; https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-allocation-backfill.html). So
a completed backfill makes every key active when it was requested show its values from BackfillFrom on; a
key activated later, or never, is not helped. The world's past backfills (``tag_backfills``: (from,
requested on) pairs) are SUCCEEDED; one requested through the API succeeds at once (AWS takes up to a day)
and applies to every later answer. A second request within 24 hours is BackfillLimitExceededException.
Not modelled: deactivation dates.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from finops_sandbox.cost_explorer.common import CEError, fingerprint, page_bounds

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

# AWS-generated cost allocation tags the payer can activate; none is active unless activated.
AWS_GENERATED_KEYS = ("aws:createdBy",)
PAGE_MAX = 100  # CostAllocationTagList holds at most 100 tags (botocore's ce model)
_STATUSES = ("Active", "Inactive")
_TYPES = ("AWSGenerated", "UserDefined")


def default_activation(history_start: dt.date) -> dt.date:
    """When the world's keys were activated unless told otherwise: the month before the history starts."""
    first = history_start.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def _zoned(day: dt.date) -> str:
    """A ZonedDateTime as AWS writes it (pattern ``YYYY-MM-DDThh:mm:ssZ``)."""
    return f"{day.isoformat()}T00:00:00Z"


class CostAllocationTags:
    """The world's tag keys with their activation, answering ListCostAllocationTags."""

    def __init__(self, emulator: CostExplorerEmulator) -> None:
        self.em = emulator
        config = emulator.world.config
        inactive = set(getattr(config, "inactive_tag_keys", ()) or ())
        dated = dict(getattr(config, "tag_activation_dates", ()) or ())
        default = default_activation(emulator.world.history_start)
        self.backfills: list[dict[str, Any]] = []
        with emulator.lock:
            used = emulator.con.execute(
                "SELECT t.key, max(l.usage_date) FROM workload_tags t JOIN ledger l USING (workload_id) "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
        self.tags: list[dict[str, Any]] = []
        self._active_from: dict[str, dt.date] = {}
        for key, last_used in used:
            entry: dict[str, Any] = {"TagKey": key, "Type": "UserDefined"}
            if key in inactive:
                entry["Status"] = "Inactive"  # never activated: no LastUpdatedDate
            else:
                since = dated.get(key, default)
                self._active_from[key] = since
                entry.update(Status="Active", LastUpdatedDate=_zoned(since))
            entry["LastUsedDate"] = _zoned(last_used.replace(day=1))
            self.tags.append(entry)
        self._activated = dict(self._active_from)  # the activation days, before any backfill
        for backfill_from, requested in sorted(
            getattr(config, "tag_backfills", ()) or (), key=lambda b: b[1]
        ):
            self._apply_backfill(backfill_from, requested)
        with emulator.lock:
            emulator.con.execute("CREATE TABLE tag_active_from (key VARCHAR, active_from DATE)")
        self._store()
        for key in AWS_GENERATED_KEYS:
            self.tags.append({"TagKey": key, "Type": "AWSGenerated", "Status": "Inactive"})
        self.tags.sort(key=lambda t: t["TagKey"])

    def _store(self) -> None:
        """For SQL that needs every key's activation at once (GetTags); inactive keys have no row."""
        with self.em.lock:
            self.em.con.execute("DELETE FROM tag_active_from")
            if self._active_from:
                self.em.con.executemany(
                    "INSERT INTO tag_active_from VALUES (?, ?)", list(self._active_from.items())
                )

    def _apply_backfill(self, backfill_from: dt.date, requested: dt.date) -> None:
        """The activation of every key active when requested now holds from `backfill_from` on."""
        for key, since in self._activated.items():
            if since <= requested:
                self._active_from[key] = min(self._active_from[key], backfill_from)
        self.backfills.append(
            {
                "BackfillFrom": _zoned(backfill_from),
                "RequestedAt": _zoned(requested),
                "CompletedAt": _zoned(requested),
                "BackfillStatus": "SUCCEEDED",
                "LastUpdatedAt": _zoned(requested),
            }
        )

    def start_backfill(self, body: dict[str, Any]) -> dict[str, Any]:
        """StartCostAllocationTagBackfill: validated as botocore documents it; succeeds at once."""
        value = body.get("BackfillFrom")
        try:
            start = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
        except ValueError as exc:
            raise CEError(f"BackfillFrom {value!r} is not a date-time (YYYY-MM-DDThh:mm:ssZ)") from exc
        today = self.em.world.data_end
        earliest = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        for _ in range(11):  # the previous twelve months: the 1st of the month 12 months back
            earliest = (earliest - dt.timedelta(days=1)).replace(day=1)
        if start.day != 1 or start > today or start < earliest:
            raise CEError(
                f"BackfillFrom must be the first day of a month from {earliest.isoformat()} to today"
            )
        last = max((b["RequestedAt"] for b in self.backfills), default=None)
        if last is not None and dt.date.fromisoformat(last[:10]) > today - dt.timedelta(days=1):
            raise CEError("You can request a backfill once every 24 hours", "BackfillLimitExceededException")
        self._apply_backfill(start, today)
        self._store()
        self.em.costs.forget()  # cached answers grouped tags under the old activation
        return {"BackfillRequest": dict(self.backfills[-1])}

    def list_backfill_history(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListCostAllocationTagBackfillHistory: newest first, MaxResults 1-1000 (default 100)."""
        size = body.get("MaxResults", 100)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
            raise CEError("MaxResults must be an integer between 1 and 1000")
        found = sorted(self.backfills, key=lambda b: b["RequestedAt"], reverse=True)
        try:
            lo, hi, token = page_bounds(
                {"NextPageToken": body.get("NextToken")},
                fingerprint(body, "NextToken", "MaxResults"),
                len(found),
                min(size, self.em.page_size),
            )
        except CEError as exc:
            raise CEError("Invalid NextToken", "InvalidNextTokenException") from exc
        answer: dict[str, Any] = {"BackfillRequests": [dict(b) for b in found[lo:hi]]}
        if token:
            answer["NextToken"] = token
        return answer

    def active_from(self, key: str) -> dt.date | None:
        """First usage day whose spend Cost Explorer shows under `key`'s values; None: never (inactive)."""
        return self._active_from.get(key)

    def list_cost_allocation_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListCostAllocationTags: every input is an optional filter; pages of at most 100 tags."""
        status, kind, keys = body.get("Status"), body.get("Type"), body.get("TagKeys")
        if status is not None and status not in _STATUSES:
            raise CEError(f"Invalid Status {status!r}: must be one of {list(_STATUSES)}")
        if kind is not None and kind not in _TYPES:
            raise CEError(f"Invalid Type {kind!r}: must be one of {list(_TYPES)}")
        if keys is not None and (
            not isinstance(keys, list)
            or not 1 <= len(keys) <= 100
            or not all(isinstance(k, str) and len(k) <= 1024 for k in keys)
        ):
            raise CEError("TagKeys must be a list of 1 to 100 tag keys")
        size = body.get("MaxResults", 100)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1000:
            raise CEError("MaxResults must be an integer between 1 and 1000")
        wanted = set(keys) if keys is not None else None
        found = [
            tag
            for tag in self.tags
            if (status is None or tag["Status"] == status)
            and (kind is None or tag["Type"] == kind)
            and (wanted is None or tag["TagKey"] in wanted)
        ]
        request = fingerprint(body, "NextToken", "MaxResults")
        try:
            lo, hi, token = page_bounds(
                {"NextPageToken": body.get("NextToken")},
                request,
                len(found),
                min(size, PAGE_MAX, self.em.page_size),
            )
        except CEError as exc:
            raise CEError("Invalid NextToken", "InvalidNextTokenException") from exc
        answer: dict[str, Any] = {"CostAllocationTags": [dict(tag) for tag in found[lo:hi]]}
        if token:
            answer["NextToken"] = token
        return answer
