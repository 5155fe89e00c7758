"""Speed of ``lib.anomalies.detect``: 10,000 daily series × 400 days (target: <= 20 s on 2 cores).

Synthetic series with the shapes of real cost data (weekly seasonality, month-start fees, trend, noise,
zeros, a few spikes and shifts) are generated with numpy, then the detector scores them all at once.

    .venv/bin/python bench/anomaly_speed_bench.py [--series 10000] [--days 400] [--extra sklearn_quantile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np
import polars as pl

from finops_pipeline.lib.anomalies import detect

TARGET_SECONDS = 20.0


def synthetic(n_series: int, n_days: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 10, 1)
    dates = np.arange(np.datetime64(start), np.datetime64(start) + n_days)
    weekday = (dates.astype(np.int64) + 3) % 7
    first = dates == dates.astype("datetime64[M]").astype("datetime64[D]")
    level = np.exp(rng.uniform(np.log(0.5), np.log(5000), n_series))[:, None]
    weekend = rng.choice([1.0, 0.85, 0.55], n_series)[:, None]
    season = np.where(weekday[None, :] >= 5, weekend, 1.0)
    growth = np.exp(rng.uniform(-0.2, 0.6, n_series)[:, None] * np.arange(n_days)[None, :] / 365)
    noise = 1 + rng.uniform(0.0, 0.12, n_series)[:, None] * rng.standard_normal((n_series, n_days))
    cost = level * season * growth * noise
    cost += np.where(first[None, :] & (rng.random(n_series) < 0.2)[:, None], level * 5, 0.0)
    spikes = rng.random((n_series, n_days)) < 0.002
    cost = np.where(spikes, cost * 4, cost)
    cost = np.where(rng.random((n_series, n_days)) < 0.01, 0.0, cost)
    ids = np.repeat(np.arange(n_series), n_days)
    return pl.DataFrame(
        {
            "series_id": pl.Series(ids).cast(pl.Utf8),
            "group": pl.Series(ids // 10).cast(pl.Utf8),
            "date": np.tile(dates, n_series),
            "cost": cost.ravel(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--extra", default="", help="also time a method of bench/anomaly_models.py")
    args = parser.parse_args()
    frame = synthetic(args.series, args.days)
    detect(frame.head(50 * args.days))  # warm-up (imports, allocator)
    started = time.perf_counter()
    events = detect(frame)
    elapsed = time.perf_counter() - started
    print(f"anomaly detector speed: {args.series:,} series × {args.days} days = {frame.height:,} rows")
    print(f"  cores available: {os.cpu_count()}")
    print(
        f"  detect(): {elapsed:.2f} s ({frame.height / elapsed / 1e6:.2f} M rows/s), {events.height:,} events"
    )
    print(
        f"  target: <= {TARGET_SECONDS:.0f} s -> {'OK' if elapsed <= TARGET_SECONDS else 'MISSED'} "
        f"({elapsed / TARGET_SECONDS:.0%} of the budget)"
    )
    if args.extra:
        import anomaly_models  # bench/ is on sys.path when run as a script

        started = time.perf_counter()
        extra = anomaly_models.METHODS[args.extra](frame, None)
        seconds = time.perf_counter() - started
        print(f"  {args.extra}: {seconds:.2f} s, {extra.height:,} events")


if __name__ == "__main__":
    main()
