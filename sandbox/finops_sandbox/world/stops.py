"""When each stopped EC2 instance of the world was stopped: the time AWS puts in StateTransitionReason.

Why: "stopped for N days" is what a FinOps user acts on (a weekend stop is not waste, a year-long one is),
and AWS tells it only through ``StateTransitionReason`` ("User initiated (YYYY-MM-DD HH:MM:SS GMT)",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html, ``stateTransitionReason``).
The time must agree with the ledger: a stopped instance of the world bills no compute on any observed
day, so it was stopped before the history starts, or (created inside the history) right at its creation.
Each time comes from its own generator (seed + resource key): no draw of the world's shared generators
is consumed, so no other figure of the world moves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from finops_sandbox.world.rng import entity_rng


def stop_time(seed: int, key: str, created_at: dt.datetime, history_start: dt.datetime) -> dt.datetime:
    """A second between creation and the history start; at creation for an instance created later."""
    if created_at >= history_start:
        return created_at
    rng = entity_rng(seed, "stopped", key)
    span = int((history_start - created_at).total_seconds())
    return created_at + dt.timedelta(seconds=rng.randrange(1, max(2, span)))


def add_stop_times(seed: int, history_start: dt.date, resources: list[dict[str, Any]]) -> None:
    """Set ``stopped_at`` on every stopped instance row (the other rows get None)."""
    start = dt.datetime.combine(history_start, dt.time(0), dt.UTC)
    for row in resources:
        stopped = row["resource_type"] == "ec2:instance" and row["state"] == "stopped"
        row["stopped_at"] = (
            stop_time(seed, row["resource_key"], row["created_at"], start) if stopped else None
        )
