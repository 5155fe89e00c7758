"""Keeps ``time.sleep`` working when the suite runs under Debian's ``faketime`` (libfaketime 0.9.10).

The Makefile puts this folder on PYTHONPATH for ``make test`` only, so every Python process of the
suite (pytest, sandboxes, the Dagster daemon) loads it. It does nothing unless libfaketime is preloaded.

Why: with the monotonic clock faked, every timed lock wait (``threading.Condition.wait(timeout)``,
botocore's retry token bucket) computes its deadline from the faked clock and never returns; with
``FAKETIME_DONT_FAKE_MONOTONIC=1`` (set by the Makefile) waits work, but libfaketime's
``clock_nanosleep(TIMER_ABSTIME)`` shifts the deadline by the fake offset and ``time.sleep`` fails with
EINVAL. A relative ``select`` timeout is untouched by libfaketime, so sleeping through it works.
Only the calendar is under test, never the length of a second.
"""

import os

if "faketime" in os.environ.get("LD_PRELOAD", ""):
    import select
    import time

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            select.select([], [], [], left)

    time.sleep = _sleep
