"""Counter-based randomness for the synthetic World.

Why: every draw is keyed by a hash (splitmix64) of the seed, the entity and, for the ledger, the
absolute day, never taken from one sequential stream whose count depends on the history length. So
a value for an entity or a day does not move when as_of moves or when another entity is added.
"""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np

_MASK64 = (1 << 64) - 1
_C0, _C1, _C2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix64(x: int) -> int:
    z = (x + _C0) & _MASK64
    z = ((z ^ (z >> 30)) * _C1) & _MASK64
    z = ((z ^ (z >> 27)) * _C2) & _MASK64
    return z ^ (z >> 31)


def _str64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def stable_key(*parts: int | str) -> int:
    """A 64-bit hash of a tuple of ints/strings (stable across processes, unlike hash())."""
    h = 0
    for part in parts:
        value = part if isinstance(part, int) else _str64(part)
        h = _mix64(h ^ (value & _MASK64))
    return h


def unit(*parts: int | str) -> float:
    return (stable_key(*parts) >> 11) / float(1 << 53)


def entity_rng(*parts: int | str) -> random.Random:
    """A private generator for one entity: its draw count never depends on the history length."""
    return random.Random(stable_key(*parts))


def _mix64_np(x: np.ndarray) -> np.ndarray:
    z = x + np.uint64(_C0)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_C1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_C2)
    return z ^ (z >> np.uint64(31))


def unit_grid(series_keys: np.ndarray, stream: int, days: np.ndarray) -> np.ndarray:
    """Uniform [0,1) for every (series, day) cell: shape (len(days), len(series_keys))."""
    base = _mix64_np(series_keys ^ np.uint64(_mix64(stream)))
    h = _mix64_np(base[None, :] ^ days.astype(np.uint64)[:, None])
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / float(1 << 53))


def stochastic_round(rng: random.Random, x: float) -> int:
    base = math.floor(x)
    return base + (1 if rng.random() < x - base else 0)
