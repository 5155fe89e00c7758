"""Cost Explorer refusals that are not IAM: faults the sandbox can be started with (``--ce-refusals``).

Real accounts meet these and a naive emulator never gives them, so the pipeline's handling of each went
untested. Each answers as AWS does: awsJson1_1, HTTP 400 (the AWS Cost Explorer API reference lists every
error of these operations as "HTTP Status Code: 400":
https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html#API_GetCostAndUsage_Errors,
.../API_GetCostForecast.html#API_GetCostForecast_Errors,
.../API_GetRightsizingRecommendation.html#API_GetRightsizingRecommendation_Errors), the error code of
botocore's Cost Explorer model (``botocore/data/ce/2017-10-25/service-2.json``: ``GetCostAndUsage`` may
raise BillExpirationException, DataUnavailableException, InvalidNextTokenException and
RequestChangedException; ``GetCostForecast`` DataUnavailableException; the recommendation operations
InvalidNextTokenException), and the message AWS sends where one is on record:

- ``not-enabled``: every Cost Explorer call of an account that never enabled Cost Explorer answers
  AccessDeniedException "User not enabled for cost explorer access" (aws-samples/aws-cost-explorer-report#15,
  mlabouardy/komiser#130): an IAM grant does not help.
- ``rightsizing-opt-in``: ``GetRightsizingRecommendation`` before the payer opted in answers
  AccessDeniedException "Rightsizing EC2 recommendation is an opt-in only feature. ..." (quoted in
  harness/developer-hub#396).
- ``forecast-data-unavailable``: ``GetCostForecast`` of an account with too little history answers
  DataUnavailableException "Insufficient amount of historical data." (zoph-io/instance-watcher#38).
- ``bill-expired``: ``GetCostAndUsage`` answers BillExpirationException, the model's text "The requested
  report expired. Update the date interval and try again." (every such request: a lasting condition).
- ``request-changed`` / ``invalid-next-token``: the first follow-up page (a request carrying
  ``NextPageToken``) of each request stream answers RequestChangedException "Your request parameters
  changed between pages. Try again with the old parameters or without a pagination token." /
  InvalidNextTokenException "The pagination token is invalid. Try again without a pagination token."
  (the model's texts); asked again from the first page, the stream then answers normally.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass

RIGHTSIZING_OPT_IN_MESSAGE = (
    "Rightsizing EC2 recommendation is an opt-in only feature. You can enable this feature from the PAYER "
    "account's Cost Explorer Preferences page. Normally it may take up to 24 hours in order to generate "
    "your rightsizing recommendations."
)
STATUS = 400  # every Cost Explorer client error (API reference, "Errors")


@dataclass(frozen=True)
class Refusal:
    """One refusal: which operations (None: all of Cost Explorer), the code and message, and when."""

    operations: frozenset[str] | None
    code: str
    message: str
    first_follow_up_only: bool = False  # only the first NextPageToken request of each request stream


REFUSALS: dict[str, Refusal] = {
    "not-enabled": Refusal(None, "AccessDeniedException", "User not enabled for cost explorer access"),
    "rightsizing-opt-in": Refusal(
        frozenset({"GetRightsizingRecommendation"}), "AccessDeniedException", RIGHTSIZING_OPT_IN_MESSAGE
    ),
    "forecast-data-unavailable": Refusal(
        frozenset({"GetCostForecast"}), "DataUnavailableException", "Insufficient amount of historical data."
    ),
    "bill-expired": Refusal(
        frozenset({"GetCostAndUsage"}),
        "BillExpirationException",
        "The requested report expired. Update the date interval and try again.",
    ),
    "request-changed": Refusal(
        frozenset({"GetCostAndUsage"}),
        "RequestChangedException",
        "Your request parameters changed between pages. Try again with the old parameters or without a "
        "pagination token.",
        first_follow_up_only=True,
    ),
    "invalid-next-token": Refusal(
        None,
        "InvalidNextTokenException",
        "The pagination token is invalid. Try again without a pagination token.",
        first_follow_up_only=True,
    ),
}


def unknown_refusals(names: Iterable[str]) -> list[str]:
    return sorted(name for name in names if name not in REFUSALS)


class CeRefusals:
    """Decides, per Cost Explorer request, whether one of the chosen refusals answers it (thread-safe)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.refusals = [REFUSALS[name] for name in sorted(names)]
        self._streams_refused: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def answer(self, operation: str | None, body: bytes) -> tuple[int, str, str] | None:
        """(HTTP status, code, message) of the refusal answering this request, or None."""
        for refusal in self.refusals:
            if refusal.operations is not None and operation not in refusal.operations:
                continue
            if not refusal.first_follow_up_only:
                return STATUS, refusal.code, refusal.message
            if self._first_follow_up(refusal.code, body):
                return STATUS, refusal.code, refusal.message
        return None

    def _first_follow_up(self, code: str, body: bytes) -> bool:
        """True for the first request of a stream that carries a page token (then never again)."""
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return False
        if not isinstance(request, dict) or not request.get("NextPageToken"):
            return False
        stream = {k: v for k, v in request.items() if k != "NextPageToken"}
        key = (code, hashlib.sha256(json.dumps(stream, sort_keys=True).encode()).hexdigest())
        with self._lock:
            if key in self._streams_refused:
                return False
            self._streams_refused.add(key)
            return True
