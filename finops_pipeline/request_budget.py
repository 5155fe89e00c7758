"""The Cost Explorer request budget of one run (``FINOPS_RUN_REQUEST_BUDGET``).

Every Cost Explorer request (every page) is billed $0.01 (aws.amazon.com/aws-cost-management/pricing),
and a first backfill of a large organisation is thousands of pages. So a run has a budget of requests:

- an asset that knows what it is about to spend says so before spending (``reserve``): the cost grains
  from the rows they already hold, or from their first page when they hold none, and commitment_usage
  from its read plan; the step fails with the figures and the fix, and the earlier data stays;
- whatever the estimates, no request goes out past the budget (``charge``, called by a hook on every
  Cost Explorer client before each call).

The budget is per run because the AWS resource lives for one run (the in-process executor runs every
step of a run in one process, ``defs/resources.py``).
"""

from __future__ import annotations

import threading

CE_PRICE_PER_REQUEST_USD = 0.01
SETTING = "FINOPS_RUN_REQUEST_BUDGET"


class RequestBudgetExceeded(RuntimeError):
    """A run's Cost Explorer requests would pass its budget: nothing more is spent."""


class RequestBudget:
    """Requests charged so far in this run against the limit; thread-safe (fan-outs call concurrently)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._spent = 0
        self._lock = threading.Lock()

    @property
    def spent(self) -> int:
        return self._spent

    def reserve(self, requests: int, what: str) -> None:
        """Refuse, before any of them is sent, ``requests`` more that would pass the limit."""
        with self._lock:
            if self._spent + requests > self.limit:
                raise RequestBudgetExceeded(self._message(what, requests, "would need about"))

    def charge(self, operation: str) -> None:
        """Count one request about to be sent, or refuse it when the budget is spent."""
        with self._lock:
            if self._spent >= self.limit:
                raise RequestBudgetExceeded(
                    self._message(f"Cost Explorer {operation}", 1, "was refused: the budget is spent;")
                )
            self._spent += 1

    def _message(self, what: str, requests: int, verb: str) -> str:
        needed, price = self._spent + requests, CE_PRICE_PER_REQUEST_USD
        return (
            f"{what} {verb} {requests:,} Cost Explorer request(s) (${requests * price:,.2f}); "
            f"this run has spent {self._spent:,} of its budget of {self.limit:,} requests "
            f"(${self.limit * price:,.2f}, {SETTING}). Nothing was written by this step and "
            f"the earlier data is unchanged. Fix: set {SETTING} to at least {needed:,} to pay for it, or "
            "backfill a shorter partition range per run (the daily refresh reads only the days still "
            "estimated)."
        )
