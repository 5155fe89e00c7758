"""``cost_anomalies``: our detector's events and AWS's anomalies, in dollars, with their drivers.

The detector (``finops_pipeline.lib.anomalies.detect_with_drilldown``) scores the daily unblended cost of
every account × service, every account and the organisation, and every account × usage type (an event
only that finer series shows is reported on its account × service with the usage type as its first
driver); each event gets its top root-cause drivers from the drill-down grains, and sits beside AWS
Cost Anomaly Detection's anomalies (``raw.ce_anomalies``) at the same grain, matched when the two
overlap.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa

from finops_pipeline import tables
from finops_pipeline.clock import utc_now
from finops_pipeline.config_resources import AnomalyPolicyResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.anomalies.checks import NEW_HIGH_SQL
from finops_pipeline.lib.anomalies import detect_with_drilldown
from finops_pipeline.lib.markdown import md_table, usd
from finops_pipeline.warehouse import WarehouseResource, replace_rows

SQL = resources.files("finops_pipeline.defs.anomalies").joinpath("sql")
TABLE_SQL = tables.table("marts.cost_anomalies").create_sql()
SERIES_SQL = SQL.joinpath("series.sql").read_text()
USAGE_SERVICES_SQL = SQL.joinpath("usage_services.sql").read_text()
DRILLDOWN_SQL = SQL.joinpath("drilldown.sql").read_text()
DRIVERS_SQL = SQL.joinpath("drivers.sql").read_text()
AWS_EVENTS_SQL = SQL.joinpath("aws_events.sql").read_text()
DRILLDOWN_PART_ROWS = 2_000_000  # drill-down rows DuckDB aggregates at a time (read_series)
READ_BATCH_ROWS = 1_000_000
GRAINS = {"as": "account_service", "a": "account", "o": "organisation"}
MEDIUM_IMPACT_USD = 10.0
MART_COLUMNS = (
    "event_id", "source", "grain", "account_id", "account_name", "service", "start_date", "end_date", "days",
    "detected_date", "is_open", "direction", "kind", "actual_usd", "expected_usd", "impact_usd", "impact_pct",
    "score", "severity", "top_driver_dimension", "top_driver_value", "top_driver_impact_usd",
    "top_driver_share",
    "drivers", "matched", "matched_event_ids", "first_seen_at", "computed_at",
)  # fmt: skip


ACCURACY_FILE = "data/anomaly_accuracy.json"  # written by bench/anomaly_eval.py --record
FORMER = ("statistical_only",)  # the statistical stages alone: the detector before its classifier
FAMILIES = {
    "sandbox": "A sandbox (tuning family)",
    "independent": "B independent (never fitted or chosen on)",
    "realistic": "C realistic (tuning family)",
    "bottom_up": "D bottom-up (validation)",
}


def accuracy_metadata() -> dict[str, Any]:
    """The detector's accuracy per world family, as ``bench/anomaly_eval.py --record`` last measured
    it (held-out seeds): what a user weighing its alerts can expect, beside the former detector and
    the best plain baseline."""
    measured = json.loads(resources.files("finops_pipeline").joinpath(ACCURACY_FILE).read_text())
    rows, out = [], {}
    for family, label in FAMILIES.items():
        methods = measured["families"][family]
        ours, former = methods["finops_pipeline"], methods[FORMER[0]]["f1"]
        others = [m["f1"] for name, m in methods.items() if name not in {"finops_pipeline", *FORMER}]
        baseline = max(others)
        rows.append((label, ours["precision"], ours["recall"], ours["f1"], former, baseline))
        out[f"detector_f1_{family}"] = ours["f1"]
    headers = ("world family", "P", "R", "F1", "former detector F1", "best baseline F1")
    table = md_table(headers, rows)
    return {"detector_accuracy": dg.MetadataValue.md(f"Seeds {measured['seeds']}:\n\n{table}"), **out}


def detector_params(policy: AnomalyPolicyResource) -> dict[str, Any]:
    return {
        "min_impact_usd": policy.min_impact_usd,
        "min_score": policy.min_score,
        "confirm_threshold": policy.min_probability,
        "high_impact_usd": policy.high_impact_usd,
        "medium_impact_usd": min(MEDIUM_IMPACT_USD, policy.high_impact_usd),
    }


def _event_id(*parts: Any) -> str:
    return "fp-" + hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).hexdigest()


def pipeline_events(
    series: pl.DataFrame, drilldown: pl.DataFrame, policy: AnomalyPolicyResource
) -> pl.DataFrame:
    """Detected events with their grain, account and service parsed from the series id."""
    events = detect_with_drilldown(series, drilldown, **detector_params(policy))
    if events.height == 0:
        return events.with_columns(
            pl.lit(None, pl.Utf8).alias(c) for c in ("event_id", "grain", "account_id", "service")
        )
    parts = events["series_id"].str.split_exact("|", 2).struct.unnest()
    events = events.with_columns(
        parts["field_0"].replace_strict(GRAINS).alias("grain"),
        pl.when(parts["field_0"] == "o").then(None).otherwise(parts["field_1"]).alias("account_id"),
        parts["field_2"].alias("service"),
    )
    ids = [
        _event_id(g, a, s, d, r)
        for g, a, s, d, r in events.select(
            "grain", "account_id", "service", "start_date", "direction"
        ).iter_rows()
    ]
    return events.with_columns(pl.Series("event_id", ids, pl.Utf8))


def _severity(impact: pl.Expr, policy: AnomalyPolicyResource) -> pl.Expr:
    high = policy.high_impact_usd
    return (
        pl.when(impact.abs() >= high)
        .then(pl.lit("high"))
        .when(impact.abs() >= min(MEDIUM_IMPACT_USD, high))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )


def _aws_drivers(root_causes: str | None) -> list[dict[str, Any]]:
    out = []
    for cause in json.loads(root_causes or "[]"):
        contribution = (cause.get("Impact") or {}).get("Contribution")
        for dimension, key in (("usage_type", "UsageType"), ("region", "Region")):
            if cause.get(key):
                out.append(
                    {"dimension": dimension, "value": cause[key], "change_usd": contribution, "share": None}
                )
    return out[:3]


def _with_own_driver(drivers: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """An event found on one usage type's own series has that usage type, with all of its impact,
    as its first driver; the drill-down's other candidates follow (top 3 in all)."""
    own = events.filter(pl.col("driver").is_not_null()).select(
        "event_id",
        pl.lit("usage_type").alias("dimension"),
        pl.col("driver").alias("value"),
        pl.col("impact").alias("change_usd"),
        pl.lit(1.0).alias("share"),
        pl.lit(0, pl.Int64).alias("rank"),
    )
    others = drivers.join(
        own.select("event_id", "dimension", "value"), on=["event_id", "dimension", "value"], how="anti"
    )
    ranked = pl.concat([own, others.cast(own.schema)]).sort("event_id", "rank")
    return ranked.with_columns(pl.int_range(1, pl.len() + 1).over("event_id").alias("rank")).filter(
        pl.col("rank") <= 3
    )


@dataclass(frozen=True)
class Detected:
    """The detector's events and the newest day it saw."""

    events: pl.DataFrame
    last_day: dt.date | None


def read_series(conn: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The series the detector scores and their account × usage-type drill-down, ids as categoricals.

    Memory: at 1,000 accounts the drill-down is 14 million rows. Read whole, as text, with DuckDB
    aggregating every row at once, reading took 4.5 GB; so it is read in ranges of accounts (whole
    groups; DuckDB pushes the range down to its scan), each a batch at a time into compact columns.
    """
    series = _compact(conn.sql(SERIES_SQL))
    conn.execute(USAGE_SERVICES_SQL)
    in_range = f'SELECT * FROM ({DRILLDOWN_SQL}) WHERE "group" BETWEEN $1 AND $2'
    parts = [_compact(conn.sql(in_range, params=list(bounds))) for bounds in _account_ranges(conn)]
    return series, pl.concat(parts) if parts else _compact(conn.sql(DRILLDOWN_SQL))


def _account_ranges(conn: Any) -> list[tuple[str, str]]:
    """(first, last) accounts of consecutive ranges holding about DRILLDOWN_PART_ROWS drill-down rows."""
    counts = conn.sql(
        "SELECT account_id, count(*) FROM raw.ce_cost_by_account_usage_type GROUP BY 1 ORDER BY 1"
    ).fetchall()
    ranges, first, rows = [], None, 0
    for account, n in counts:
        first, rows = first or account, rows + n
        if rows >= DRILLDOWN_PART_ROWS or account == counts[-1][0]:
            ranges.append((first, account))
            first, rows = None, 0
    return ranges


def _compact(relation: Any) -> pl.DataFrame:
    """``relation``'s rows, read a batch at a time, text as categoricals (4 bytes a row)."""
    reader = relation.to_arrow_reader(READ_BATCH_ROWS)
    frames = [_compact_batch(batch) for batch in reader]
    if frames:
        return pl.concat(frames)
    return pl.from_arrow(reader.schema.empty_table()).with_columns(pl.col(pl.Utf8).cast(pl.Categorical))


def _compact_batch(batch: pa.RecordBatch) -> pl.DataFrame:
    """One batch in polars, every column in buffers of its own: a column taken straight from the
    batch would keep the whole batch, its text included, alive."""
    columns = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns.append(pl.Series(name, column).cast(pl.Categorical))
        else:
            columns.append(pl.Series(name, pa.concat_arrays([column])))  # a copy
    return pl.DataFrame(columns)


def detect_events(series: pl.DataFrame, drilldown: pl.DataFrame, policy: AnomalyPolicyResource) -> Detected:
    last_day = series["date"].max() if series.height else None
    return Detected(pipeline_events(series, drilldown, policy), last_day)


def _our_events(conn: Any, detected: Detected) -> pl.DataFrame:
    """The detector's events with their drivers (usage type, region) ranked by dollar change."""
    ours, last_day = detected.events, detected.last_day
    drivers = pl.DataFrame(
        schema={
            "event_id": pl.Utf8,
            "dimension": pl.Utf8,
            "value": pl.Utf8,
            "change_usd": pl.Float64,
            "share": pl.Float64,
            "rank": pl.Int64,
        }
    )
    if ours.height:
        conn.register(
            "events",
            ours.select(
                "event_id",
                "grain",
                "account_id",
                "service",
                "start_date",
                "end_date",
                pl.col("impact").alias("impact_usd"),
            ).to_arrow(),
        )
        conn.execute(USAGE_SERVICES_SQL)  # a view of this connection
        drivers = _with_own_driver(conn.sql(DRIVERS_SQL).pl(), ours)
        conn.unregister("events")
    driver_lists = (
        drivers.sort("event_id", "rank")
        .group_by("event_id", maintain_order=True)
        .agg(pl.struct("dimension", "value", "change_usd", "share").alias("driver_list"))
    )
    ours = ours.join(driver_lists, on="event_id", how="left").with_columns(
        pl.lit("finops_pipeline").alias("source"),
        (pl.col("end_date") == pl.lit(last_day)).alias("is_open")
        if last_day
        else pl.lit(False).alias("is_open"),
        pl.col("actual").alias("actual_usd"),
        pl.col("expected").alias("expected_usd"),
        pl.col("impact").alias("impact_usd"),
        pl.col("days").cast(pl.Int32),
    )
    return (
        ours.with_columns(
            pl.col("driver_list")
            .map_elements(lambda v: json.dumps(list(v) if v is not None else []), return_dtype=pl.Utf8)
            .alias("drivers"),
            pl.col("driver_list").list.first().struct.field("dimension").alias("top_driver_dimension"),
            pl.col("driver_list").list.first().struct.field("value").alias("top_driver_value"),
            pl.col("driver_list").list.first().struct.field("change_usd").alias("top_driver_impact_usd"),
            pl.col("driver_list").list.first().struct.field("share").alias("top_driver_share"),
        )
        if ours.height
        else ours.with_columns(
            pl.lit(None, pl.Utf8).alias(c) for c in ("drivers", "top_driver_dimension", "top_driver_value")
        ).with_columns(
            pl.lit(None, pl.Float64).alias(c) for c in ("top_driver_impact_usd", "top_driver_share")
        )
    )


def _aws_events(conn: Any, last_day: dt.date | None) -> pl.DataFrame:
    """AWS Cost Anomaly Detection's anomalies in the mart's columns, their root causes as drivers."""
    aws = conn.sql(AWS_EVENTS_SQL, params=[last_day or utc_now().date()]).pl()
    aws_drivers = [_aws_drivers(rc) for rc in aws["root_causes"].to_list()]
    return aws.with_columns(
        pl.lit("aws").alias("source"),
        (pl.col("end_date") - pl.col("start_date")).dt.total_days().add(1).cast(pl.Int32).alias("days"),
        pl.col("start_date").alias("detected_date"),
        pl.when(pl.col("impact_usd") >= 0)
        .then(pl.lit("increase"))
        .otherwise(pl.lit("decrease"))
        .alias("direction"),
        pl.lit("aws").alias("kind"),
        pl.Series("drivers", [json.dumps(d) for d in aws_drivers], pl.Utf8),
        pl.Series("top_driver_dimension", [d[0]["dimension"] if d else None for d in aws_drivers], pl.Utf8),
        pl.Series("top_driver_value", [d[0]["value"] if d else None for d in aws_drivers], pl.Utf8),
        pl.Series(
            "top_driver_impact_usd", [d[0]["change_usd"] if d else None for d in aws_drivers], pl.Float64
        ),
        pl.Series("top_driver_share", [None] * aws.height, pl.Float64),
    )


def _with_matches(mart: pl.DataFrame) -> pl.DataFrame:
    """Match across sources: same grain, account and service, overlapping windows."""
    keyed = mart.select(
        "event_id", "source", "grain", "account_id", "service", "start_date", "end_date"
    ).with_columns(pl.col("account_id").fill_null(""), pl.col("service").fill_null(""))
    pairs = keyed.join(keyed, on=["grain", "account_id", "service"], suffix="_o").filter(
        (pl.col("source") != pl.col("source_o"))
        & (pl.col("start_date") <= pl.col("end_date_o"))
        & (pl.col("end_date") >= pl.col("start_date_o"))
    )
    matches = pairs.group_by("event_id").agg(pl.col("event_id_o").sort().alias("matched_event_ids"))
    return mart.join(matches, on="event_id", how="left").with_columns(
        pl.col("matched_event_ids").is_not_null().alias("matched")
    )


def mart_rows(conn: Any, policy: AnomalyPolicyResource, now: dt.datetime, detected: Detected) -> pl.DataFrame:
    """Compute ``marts.cost_anomalies`` (returned, not written) from the detector's events and AWS's."""
    ours = _our_events(conn, detected)
    aws = _aws_events(conn, detected.last_day)
    common = (
        "event_id", "source", "grain", "account_id", "service", "start_date", "end_date", "days",
        "detected_date",
        "is_open", "direction", "kind", "actual_usd", "expected_usd", "impact_usd", "score", "drivers",
        "top_driver_dimension", "top_driver_value", "top_driver_impact_usd", "top_driver_share",
    )  # fmt: skip
    casts = {
        "days": pl.Int32,
        "score": pl.Float64,
        "actual_usd": pl.Float64,
        "expected_usd": pl.Float64,
        "impact_usd": pl.Float64,
    }
    mart = pl.concat(
        [ours.select(common).cast(casts), aws.select(common).cast(casts)], how="vertical_relaxed"
    )
    mart = mart.with_columns(
        (pl.col("impact_usd") / pl.col("expected_usd").abs().replace(0.0, None) * 100).alias("impact_pct"),
        _severity(pl.col("impact_usd"), policy).alias("severity"),
    )
    mart = _with_matches(mart)
    names = conn.sql(
        "SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1"
    ).pl()
    mart = mart.join(names, on="account_id", how="left")
    previous = conn.sql(
        "SELECT event_id, min(first_seen_at) AS first_seen_at FROM marts.cost_anomalies GROUP BY 1"
    ).pl()
    stamp = pl.lit(now).cast(pl.Datetime("us", "UTC"))
    previous = previous.with_columns(pl.col("first_seen_at").cast(pl.Datetime("us", "UTC")))
    mart = mart.join(previous, on="event_id", how="left").with_columns(
        pl.col("first_seen_at").fill_null(stamp).alias("first_seen_at"), stamp.alias("computed_at")
    )
    return mart.select(MART_COLUMNS).sort(
        "source", "grain", "start_date", "account_id", "service", nulls_last=True
    )


ALERT_COLUMNS = (
    "event_id", "severity", "grain", "account_id", "account_name", "service", "start_date", "end_date",
    "kind", "actual_usd", "expected_usd", "impact_usd", "impact_pct", "top_driver_dimension",
    "top_driver_value",
)  # fmt: skip


def _alert_rows(events: pl.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows for the alert sensor (dates as ISO strings, money as floats)."""
    columns = [c for c in ALERT_COLUMNS if c in events.columns]
    rows = events.select(columns).to_dicts()

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        return value.isoformat() if hasattr(value, "isoformat") else value

    return [{k: plain(v) for k, v in row.items()} for row in rows]


def _preview(mart: pl.DataFrame) -> str:
    top = (
        mart.filter(pl.col("source") == "finops_pipeline")
        .sort(pl.col("impact_usd").abs(), descending=True)
        .head(10)
    )
    return md_table(
        ("start", "grain", "account", "service", "days", "impact USD", "severity", "top driver", "AWS too"),
        (
            (
                r["start_date"],
                r["grain"],
                r["account_name"] or r["account_id"] or "org",
                r["service"],
                r["days"],
                usd(r["impact_usd"]),
                r["severity"],
                f"{r['top_driver_dimension']}={r['top_driver_value']}"[:60] if r["top_driver_value"] else "",
                "yes" if r["matched"] else "no",
            )
            for r in top.iter_rows(named=True)
        ),
        limit=10,
        empty="no anomalies",
    )


@dg.asset(
    name="cost_anomalies",
    group_name=layers.MARTS_ANOMALIES,
    kinds={"duckdb", "python"},
    owners=["team:finops"],
    pool="duckdb",
    deps=[
        "ce_cost_daily",
        "ce_cost_by_region",
        "ce_cost_by_usage_type",
        "ce_cost_by_account_usage_type",
        "ce_anomalies",
        "aws_accounts",
    ],
    description="Cost anomalies in dollars with their drivers, per account × service, account and "
    "organisation, beside AWS's.",
    metadata={**tables.definition_metadata("cost_anomalies"), **accuracy_metadata()},
)
def cost_anomalies(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, anomaly_policy: AnomalyPolicyResource
) -> dg.MaterializeResult:
    now = utc_now()
    with warehouse.connect() as conn:
        series, drilldown = read_series(conn)
    # Scoring takes ~45 s at 1,000 accounts: the warehouse is not held meanwhile.
    detected = detect_events(series, drilldown, anomaly_policy)
    with warehouse.connect() as conn:
        conn.execute(TABLE_SQL)
        mart = mart_rows(conn, anomaly_policy, now, detected)
        replace_rows(conn, "marts.cost_anomalies", mart.to_arrow(), "true")
        counted = tables.row_count(conn, "cost_anomalies")
        new_ids = {row[0] for row in conn.execute(NEW_HIGH_SQL).fetchall()}
    ours = mart.filter(pl.col("source") == "finops_pipeline")
    aws = mart.filter(pl.col("source") == "aws")
    service_grain = ours.filter(pl.col("grain") == "account_service")
    # The rule of "new high-severity anomaly" is the check's query, so the alert e-mail and the check agree.
    new_high = ours.filter(pl.col("event_id").is_in(list(new_ids)))
    context.log.info("cost_anomalies: %d events of ours, %d of AWS", ours.height, aws.height)
    return dg.MaterializeResult(
        metadata={
            **counted,
            "anomalies": ours.height,
            "anomalies_account_service": service_grain.height,
            "anomalies_high_severity": ours.filter(pl.col("severity") == "high").height,
            "anomalies_new_high_severity": new_high.height,
            "anomalies_open": ours.filter(pl.col("is_open")).height,
            "impact_increases_usd": round(
                float(service_grain.filter(pl.col("impact_usd") > 0)["impact_usd"].sum()), 2
            ),
            "impact_decreases_usd": round(
                float(service_grain.filter(pl.col("impact_usd") < 0)["impact_usd"].sum()), 2
            ),
            "aws_anomalies": aws.height,
            "matched_with_aws": ours.filter(pl.col("matched")).height,
            "aws_matched_by_ours": aws.filter(pl.col("matched")).height,
            "min_impact_usd": anomaly_policy.min_impact_usd,
            "min_score": anomaly_policy.min_score,
            "min_probability": anomaly_policy.min_probability,
            "top_anomalies": dg.MetadataValue.md(_preview(mart)),
            # What the anomaly e-mail sensor sends: it may not read DuckDB, so the rows travel here.
            "new_high_severity_anomalies": dg.MetadataValue.json(_alert_rows(new_high)),
        }
    )
