"""Delivery bookkeeping for the e-mail sensors, kept in the sensor cursor (JSON), Dagster-free.

A sensor cursor is saved only when its tick succeeds, so the sensors never raise: every send's outcome
is recorded here. An item is sent at most once (its key joins ``sent`` the moment SES accepts it, and
``already_done`` lets the caller check a durable marker too); a failed send stays ``pending`` and is
retried on later ticks until ``max_attempts``, then moves to ``failed`` for good.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_SENT_KEYS = 2000
MAX_FAILED = 200


@dataclass
class Outcome:
    key: str
    status: str  # sent | retry | failed | already_sent
    attempts: int
    payload: dict[str, Any]
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)  # what send() returned: message id, sizes...


@dataclass
class Outbox:
    after: int | None = None  # storage id of the newest materialization already queued
    sent: list[str] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, text: str | None) -> Outbox:
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            return cls(notes=["the previous cursor was not JSON and was reset"])
        if not isinstance(data, dict):
            return cls()
        return cls(
            after=data.get("after"),
            sent=list(data.get("sent", [])),
            pending=list(data.get("pending", [])),
            failed=list(data.get("failed", [])),
        )

    def dump(self) -> str:
        data = asdict(self)
        data.pop("notes")
        data["sent"] = self.sent[-MAX_SENT_KEYS:]
        data["failed"] = self.failed[-MAX_FAILED:]
        return json.dumps(data, sort_keys=True, default=str)

    def known(self, key: str) -> bool:
        return (
            key in self.sent
            or any(item["key"] == key for item in self.pending)
            or any(item["key"] == key for item in self.failed)
        )

    def enqueue(self, key: str, payload: dict[str, Any]) -> bool:
        """Queue ``key`` unless it was already sent, queued or given up on."""
        if self.known(key):
            return False
        self.pending.append({"key": key, "attempts": 0, "last_error": "", "payload": payload})
        return True

    def process(
        self,
        send: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        max_attempts: int,
        time_budget_s: float = 40.0,
        max_sends: int = 25,
        already_done: Callable[[dict[str, Any]], bool] | None = None,
        on_sent: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> list[Outcome]:
        """One attempt per pending item (oldest first), within the budget; never raises."""
        deadline = time.monotonic() + time_budget_s
        outcomes: list[Outcome] = []
        remaining: list[dict[str, Any]] = []
        tried = 0
        for item in self.pending:
            if tried >= max_sends or time.monotonic() > deadline:
                remaining.append(item)
                continue
            key, payload = item["key"], item["payload"]
            if key in self.sent or (already_done is not None and already_done(payload)):
                if key not in self.sent:
                    self.sent.append(key)
                outcomes.append(Outcome(key, "already_sent", item["attempts"], payload))
                continue
            tried += 1
            attempts = item["attempts"] + 1
            try:
                detail = send(payload)
            except Exception as exc:  # recorded, retried later, never fatal to the tick
                error = f"{type(exc).__name__}: {exc}"[:500]
                if attempts >= max_attempts:
                    self.failed.append({"key": key, "attempts": attempts, "last_error": error})
                    outcomes.append(Outcome(key, "failed", attempts, payload, error))
                else:
                    remaining.append({**item, "attempts": attempts, "last_error": error})
                    outcomes.append(Outcome(key, "retry", attempts, payload, error))
                continue
            self.sent.append(key)
            if on_sent is not None:
                # The send happened: a marker that cannot be written must not undo that.
                with contextlib.suppress(Exception):
                    on_sent(payload, detail)
            outcomes.append(Outcome(key, "sent", attempts, payload, detail=detail))
        self.pending = remaining
        return outcomes
