"""How accurate is the anomaly detector? Four world families, every method, one run.

Family A (``sandbox``): per seed, the sandbox's default world (12 accounts, 13 months + this month,
fixed as-of day), its ledger turned into the series the ``cost_anomalies`` asset scores (its own SQL
on views shaped as the raw tables: account × service, plus the account × usage-type drill-down),
plus ``finops_sandbox.anomaly_worlds.recurrence_traps``: series carrying the recurring patterns real
bills have (monthly charges and credits on any day, month-end / month-start batch, business-day-only
usage, bi-weekly, quarterly and annual jobs, holiday dips, bursts, slow ramps, price changes, English and
German holiday calendars, a month-end close of varying length, clustered bursts, usage-priced monthly
charges), half of them with an anomaly on top. The detector's parameters are chosen on seeds 11-15
of this family (``--seeds 11,12,13,14,15``); seeds 1-5 are held out.

Family B (``independent``): ``finops_sandbox.anomaly_worlds.holdout_family``, written separately
(multiplicative log-normal noise, t(3) tails, AR(1) wander, other pattern placements and anomaly
kinds). Never used to choose a parameter: only measured.

Families C (``realistic``) and D (``bottom_up``), written apart from A, B and each other
(``finops_sandbox.anomaly_worlds``): the event classifier (``lib/anomalies/confirmation.py``) is
fitted on candidate events of A's seeds 11-40 and C's seeds 11-40 (``bench/anomaly_training.py``);
its settings (features, monotone constraints, threshold) were chosen on D's seeds 1-10, which it
is never fitted on. Seeds 1-5 of A, B and C are never fitted on.

Methods: ``finops_pipeline`` (``detect_with_drilldown`` as the pipeline runs it; ``detect`` where a
family has no drill-down), ``statistical_only`` (its statistical stages alone at their former
event threshold, z 6, no classifier), the baselines ``day_over_day_20pct`` and
``rolling_zscore_28d``, and
``--extra`` methods of ``bench/anomaly_models.py`` (scikit-learn: ``sklearn_quantile``, a pooled
gradient-boosted quantile band, and ``sklearn_confirmed``, the detector's events it confirms).
Event-level scoring over the whole history after a 28-day warm-up; events on a trap
series before its pattern could be learnt (twice for monthly patterns, once for quarterly or
annual ones) are not scored.
AWS's anomalies (the Cost Explorer emulator's GetAnomalies) cover only the world's own series and 90
days: printed separately.

    .venv/bin/python bench/anomaly_eval.py [--seeds 1,2,3,4,5]
        [--families sandbox,independent,realistic,bottom_up]
        [--extra sklearn_quantile,sklearn_confirmed] [--drilldown-days 90,180]

``--drilldown-days`` measures what fetching the account × usage-type grain (the drill-down, the
largest Cost Explorer grain: 14,270 of 23,798 requests of a 1,000-account backfill) over only its last
D days costs in accuracy: ``finops_pipeline_drill_Dd`` is the pipeline with the drill-down cut to its
last D days, scored over the whole history and over the last 90 days of the world's own series.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from finops_pipeline.lib.anomalies import detect, detect_with_drilldown
from finops_pipeline.lib.anomalies.evaluation import (
    day_over_day,
    false_events_by_trap,
    recall_by_kind,
    rolling_zscore,
    score_events,
    scored_part,
)
from finops_sandbox.anomaly_worlds.bottom_up_family import bottom_up_family
from finops_sandbox.anomaly_worlds.holdout_family import holdout_family
from finops_sandbox.anomaly_worlds.labelled import LabelledSeries
from finops_sandbox.anomaly_worlds.realistic_family import realistic_family
from finops_sandbox.anomaly_worlds.recurrence_traps import trap_series
from finops_sandbox.anomaly_worlds.world_series import aws_events, world_series
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import WorldConfig, build_world

WARM_UP_DAYS = 28
AWS_WINDOW_DAYS = 90
AS_OF = dt.date(2026, 11, 27)
ACCURACY_FILE = Path(__file__).resolve().parents[1] / "finops_pipeline" / "data" / "anomaly_accuracy.json"
SCORES = ("precision", "recall", "f1")
STATISTICAL = {"min_score": 6.0, "confirm_threshold": 0.0}
Method = Callable[[pl.DataFrame, pl.DataFrame | None], pl.DataFrame]
BASE_METHODS: dict[str, Method] = {
    "finops_pipeline": lambda s, d: detect_with_drilldown(s, d) if d is not None else detect(s),
    # The statistical stages alone, at their former event threshold (no classifier): what the
    # classifier adds.
    "statistical_only": lambda s, d: (
        detect_with_drilldown(s, d, **STATISTICAL) if d is not None else detect(s, **STATISTICAL)
    ),
    "day_over_day_20pct": lambda s, d: day_over_day(s),
    "rolling_zscore_28d": lambda s, d: rolling_zscore(s),
}


def sandbox_case(seed: int) -> tuple[LabelledSeries, pl.DataFrame, dict[str, Any]]:
    """Family A: the world's series and labels plus the recurrence trap series."""
    world = build_world(WorldConfig(seed=seed, as_of=AS_OF))
    data = world_series(world)
    n_days = (world.data_end - world.history_start).days
    traps = trap_series(seed, world.history_start, n_days)
    labels = pl.concat([data.labels.select(traps.labels.columns), traps.labels])
    series = pl.concat([data.series.select(traps.series.columns), traps.series])
    case = LabelledSeries(series, labels, traps.traps)
    return case, data.drilldown, {"world": world, "world_labels": data.labels, "world_series": data.series}


def independent_case(seed: int) -> tuple[LabelledSeries, None, dict[str, Any]]:
    return holdout_family(seed, dt.date(2025, 10, 1), 420), None, {}


def other_case(family: str, seed: int) -> tuple[LabelledSeries, None, dict[str, Any]]:
    """Families C (``realistic``: the classifier's second tuning family, its seeds 11-40 fitted on)
    and D (``bottom_up``: the validation family its settings were chosen on, never fitted on)."""
    if family == "realistic":
        return realistic_family(seed, dt.date(2025, 10, 1), 420), None, {}
    if family == "bottom_up":
        return bottom_up_family(seed, dt.date(2025, 10, 1), 420), None, {}
    if family == "independent":
        return independent_case(seed)
    raise SystemExit(f"--families: unknown family {family!r} (sandbox, independent, realistic, bottom_up)")


def evaluate(
    family: str, seed: int, methods: dict[str, Method], drill_days: list[int] | None = None
) -> list[dict[str, Any]]:
    case, drill, extra = sandbox_case(seed) if family == "sandbox" else other_case(family, seed)
    start = case.series["date"].min() + dt.timedelta(days=WARM_UP_DAYS)
    end = case.series["date"].max() + dt.timedelta(days=1)
    rows = []
    for name, method in methods.items():
        started = time.perf_counter()
        events = scored_part(method(case.series, drill), case.traps)
        seconds = time.perf_counter() - started
        score = score_events(events, case.labels, start, end)
        rows.append(
            {
                "family": family,
                "seed": seed,
                "method": name,
                **score.row(),
                "seconds": seconds,
                "by_kind": recall_by_kind(events, case.labels, start, end),
                "false_by_trap": false_events_by_trap(events, case.labels, case.traps, start, end),
            }
        )
        if name == "finops_pipeline" and family == "sandbox":
            rows.append(_aws_row(seed, extra, drill, drill_days or []))
    return rows


def last_days(drill: pl.DataFrame, days: int) -> pl.DataFrame:
    """The drill-down as a grain fetched over only its last ``days`` days would hold it."""
    return drill.filter(pl.col("date") > drill["date"].max() - dt.timedelta(days=days))


def _aws_row(seed: int, extra: dict[str, Any], drill: pl.DataFrame, drill_days: list[int]) -> dict[str, Any]:
    """Last 90 days, the world's own series only: ours beside AWS's anomalies (increases only)."""
    world = extra["world"]
    start = world.data_end - dt.timedelta(days=AWS_WINDOW_DAYS)
    aws = aws_events(CostExplorerEmulator(world), start, world.data_end)
    ours = {"finops_pipeline": detect_with_drilldown(extra["world_series"], drill)}
    for days in drill_days:
        ours[f"finops_pipeline_drill_{days}d"] = detect_with_drilldown(
            extra["world_series"], last_days(drill, days)
        )
    out = {"family": "sandbox_last_90_days_world_only", "seed": seed, "method": "aws"}
    for name, events in (("aws_cost_anomaly_detection", aws), *ours.items()):
        out[name] = score_events(events, extra["world_labels"], start, world.data_end).f1
    return out


def _print_family(rows: list[dict[str, Any]], family: str, methods: list[str]) -> None:
    print(f"\nFamily {family}")
    print(f"{'method':<32} {'labels':>6} {'found':>5} {'events':>6} {'P':>6} {'R':>6} {'F1':>6} {'delay':>5}")
    for method in methods:
        sub = [r for r in rows if r["family"] == family and r["method"] == method]
        if not sub:
            continue
        delays = [r["median_delay_days"] for r in sub if r["median_delay_days"] is not None]
        delay = f"{statistics.median(delays):.1f}" if delays else "n/a"
        print(
            f"{method:<32} {sum(r['labels'] for r in sub):>6} {sum(r['found'] for r in sub):>5} "
            f"{sum(r['detected'] for r in sub):>6} {statistics.mean(r['precision'] for r in sub):>6.3f} "
            f"{statistics.mean(r['recall'] for r in sub):>6.3f} "
            f"{statistics.mean(r['f1'] for r in sub):>6.3f} "
            f"{delay:>5}"
        )
    for method in methods:
        sub = [r for r in rows if r["family"] == family and r["method"] == method]
        if not sub:
            continue
        found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in sub:
            for kind, (f, n) in r["by_kind"].items():
                found[kind][0] += f
                found[kind][1] += n
        false = sum((Counter(r["false_by_trap"]) for r in sub), Counter())
        print(
            f"  {method}: recall by kind: " + ", ".join(f"{k} {f}/{n}" for k, (f, n) in sorted(found.items()))
        )
        print(f"  {method}: false events by trap: " + ", ".join(f"{k} {v}" for k, v in sorted(false.items())))


def record(rows: list[dict[str, Any]], families: list[str], seeds: str, methods: list[str]) -> None:
    """Each family's mean precision, recall and F1 of the detector and of every other method, as the
    ``cost_anomalies`` asset shows them (``defs/anomalies/assets.py``)."""
    out: dict[str, Any] = {"seeds": seeds, "families": {}}
    for family in families:
        means = {}
        for method in methods:
            sub = [r for r in rows if r["family"] == family and r["method"] == method]
            if sub:
                means[method] = {
                    k: round(statistics.mean(r[k] for r in sub), 3) for k in ("precision", "recall", "f1")
                }
        out["families"][family] = means
    ACCURACY_FILE.write_text(json.dumps(out, indent=2) + "\n")
    print(f"recorded -> {ACCURACY_FILE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--families", default="sandbox,independent,realistic,bottom_up")
    parser.add_argument("--extra", default="", help="comma-separated methods of bench/anomaly_models.py")
    parser.add_argument("--drilldown-days", default="", help="comma-separated days of drill-down to keep")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"write each family's figures to {ACCURACY_FILE} (shown on the cost_anomalies asset)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    methods = dict(BASE_METHODS)
    drill_days = [int(d) for d in args.drilldown_days.split(",") if d]
    for days in drill_days:
        methods[f"finops_pipeline_drill_{days}d"] = lambda s, d, n=days: (
            detect_with_drilldown(s, last_days(d, n)) if d is not None else detect(s)
        )
    if args.extra:
        import anomaly_models  # bench/ is on sys.path when run as a script

        methods.update({name: anomaly_models.METHODS[name] for name in args.extra.split(",")})
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = [r for f in args.families.split(",") for s in seeds for r in evaluate(f, s, methods, drill_days)]
    print(
        f"Anomaly detection, event level, seeds {args.seeds}, warm-up {WARM_UP_DAYS} days (mean over seeds)"
    )
    for family in args.families.split(","):
        _print_family(rows, family, list(methods))
    aws = [r for r in rows if r["family"] == "sandbox_last_90_days_world_only"]
    if aws:
        print(
            "\nSandbox world's own series, last 90 days: mean F1 finops_pipeline "
            f"{statistics.mean(r['finops_pipeline'] for r in aws):.3f}, AWS Cost Anomaly Detection "
            f"{statistics.mean(r['aws_cost_anomaly_detection'] for r in aws):.3f}"
            + "".join(
                f", drill-down {days} days "
                f"{statistics.mean(r[f'finops_pipeline_drill_{days}d'] for r in aws):.3f}"
                for days in drill_days
            )
        )
    print()
    if args.record:
        record(rows, args.families.split(","), args.seeds, list(methods))
    for family in args.families.split(","):
        sub = [r for r in rows if r["family"] == family]
        ours = [r for r in sub if r["method"] == "finops_pipeline"]
        f1, p = statistics.mean(r["f1"] for r in ours), statistics.mean(r["precision"] for r in ours)
        best = max(
            statistics.mean(r["f1"] for r in sub if r["method"] == m)
            for m in methods
            if not m.startswith("finops_pipeline")
        )
        ok = f1 >= 0.85 and p >= 0.85 and f1 > best
        print(
            f"target {family}: F1 {f1:.3f}, P {p:.3f} (>= 0.85 each, above the best other method {best:.3f}) "
            f"-> {'OK' if ok else 'MISSED'}; "
            f"detector {statistics.mean(r['seconds'] for r in ours):.2f} s per world"
        )


if __name__ == "__main__":
    main()
