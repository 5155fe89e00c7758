"""The FOCUS import file by file: a bad file is refused and named, its neighbours load, its old rows stay.

Files are written the ways exports come: CSV (text, the sample's NULL spelling), gzip CSV, and Parquet
with Tags as a map (AWS's Parquet); a manifest naming the current files of a period, as AWS delivers it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from finops_pipeline.lib.focus.ingest import ingest_export
from finops_pipeline.lib.focus.source import ExportSource
from finops_pipeline.warehouse import ensure_schema

NOW = dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC)
HEADER = (
    "ProviderName,SubAccountId,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
    "BilledCost,EffectiveCost,BillingCurrency,ServiceName,Tags"
)


def _csv(rows: list[str]) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


GOOD = (
    '"AWS",111,2026-10-01 00:00:00,2026-10-05 00:00:00,2026-10-06 00:00:00,Usage,1.25,1.00,USD,S3,'
    '"{""team"": ""a""}"'
)
MALFORMED = [
    '"AWS",111,2026-10-01,2026-10-05,2026-10-06,Usage,abc,1.00,USD,S3,NULL',
    '"AWS",111,2026-10-01,2026-10-05,2026-10-06,Fee,1.00,1.00,USD,S3,NULL',
    '"AWS",111,2026-10-01,yesterday,2026-10-06,Usage,1.00,1.00,USD,S3,"[1]"',
]


def _ingest(folder: Path, database: Path) -> tuple[object, duckdb.DuckDBPyConnection]:
    conn = duckdb.connect(str(database))
    ensure_schema(conn)
    return ingest_export(conn, ExportSource(str(folder)), NOW), conn


def test_a_bad_file_is_refused_and_named_while_the_others_load(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "good.csv").write_text(_csv([GOOD, GOOD.replace("1.25", "2.50")]))
    (export / "bad.csv").write_text(_csv(MALFORMED))
    (export / "short.csv").write_text("ProviderName,BilledCost\nAWS,1\n")
    with gzip.open(export / "zipped.csv.gz", "wt") as handle:
        handle.write(_csv([GOOD]))
    summary, conn = _ingest(export, tmp_path / "w.duckdb")
    status = {Path(f).name: (s, d) for f, s, d in conn.execute(
        "SELECT source_file, status, detail FROM raw.focus_files").fetchall()}  # fmt: skip
    total = conn.execute("SELECT sum(BilledCost), count(*) FROM raw.focus_cost").fetchone()
    assert total == (Decimal("5.000000000000"), 3)
    assert status["good.csv"] == ("ok", None) and status["zipped.csv.gz"] == ("ok", None)
    bad_status, bad_detail = status["bad.csv"]
    assert bad_status == "malformed"
    assert "1 rows BilledCost not a valid decimal (rows 1)" in bad_detail
    assert "1 rows ChargePeriodStart not a valid timestamp (rows 3)" in bad_detail
    assert "1 rows Tags not a valid json (rows 3)" in bad_detail
    assert "1 rows ChargeCategory not one of Usage/Purchase/Tax/Credit/Adjustment (rows 2)" in bad_detail
    short_status, short_detail = status["short.csv"]
    assert short_status == "missing_columns" and "SubAccountId" in short_detail
    assert len(summary.refused) == 2


def test_a_rewritten_file_replaces_its_rows_and_a_refused_rewrite_keeps_them(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    path = export / "part.csv"
    path.write_text(_csv([GOOD]))
    _, conn = _ingest(export, tmp_path / "w.duckdb")
    conn.close()
    path.write_text(_csv([GOOD.replace("1.25", "9.75")]))
    os.utime(path, ns=(1, 2))  # a new fingerprint even within the same clock tick
    summary, conn = _ingest(export, tmp_path / "w.duckdb")
    assert summary.files_read == 1
    assert conn.execute("SELECT sum(BilledCost) FROM raw.focus_cost").fetchone()[0] == Decimal("9.75")
    conn.close()
    path.write_text(_csv(MALFORMED[:1]))
    os.utime(path, ns=(3, 4))
    summary, conn = _ingest(export, tmp_path / "w.duckdb")
    assert conn.execute("SELECT sum(BilledCost) FROM raw.focus_cost").fetchone()[0] == Decimal("9.75")
    status, last_ok = conn.execute("SELECT status, last_ok_at FROM raw.focus_files").fetchone()
    assert status == "malformed" and last_ok is not None


def test_parquet_with_map_tags_and_the_manifest_decides_the_files(tmp_path: Path) -> None:
    export = tmp_path / "export"
    data = export / "data" / "BILLING_PERIOD=2026-10"
    data.mkdir(parents=True)
    table = pa.table(
        {
            "ProviderName": ["AWS"], "SubAccountId": ["111"],
            "BillingPeriodStart": pa.array([dt.datetime(2026, 10, 1)], pa.timestamp("ms")),
            "ChargePeriodStart": pa.array([dt.datetime(2026, 10, 5)], pa.timestamp("ms")),
            "ChargePeriodEnd": pa.array([dt.datetime(2026, 10, 6)], pa.timestamp("ms")),
            "ChargeCategory": ["Usage"], "BilledCost": [0.1], "EffectiveCost": [0.1],
            "BillingCurrency": ["USD"], "ServiceName": ["S3"],
            "Tags": pa.array([[("team", "a")]], pa.map_(pa.string(), pa.string())),
        }
    )  # fmt: skip
    pq.write_table(table, data / "x-00001.snappy.parquet")
    pq.write_table(table, data / "x-00002.snappy.parquet")  # a stale part the newest manifest dropped
    manifest = export / "metadata" / "BILLING_PERIOD=2026-10" / "x-Manifest.json"
    manifest.parent.mkdir(parents=True)
    uri = "s3://bucket/focus/x/data/BILLING_PERIOD=2026-10/x-00001.snappy.parquet"
    manifest.write_text(json.dumps({"dataFiles": [uri]}))
    summary, conn = _ingest(export, tmp_path / "w.duckdb")
    rows = conn.execute("SELECT billing_period, BilledCost, Tags FROM raw.focus_cost").fetchall()
    assert summary.files_current == 1
    assert rows == [("2026-10", Decimal("0.100000000000"), '{"team":"a"}')]


def test_each_file_has_one_billing_period_and_a_run_of_one_period_leaves_the_others(tmp_path: Path) -> None:
    """The partition of a file: its BILLING_PERIOD= folder, else its rows' first BillingPeriodStart, else
    'unknown' (still read, and refused with the reason). A run of one period reads and drops only its own."""
    export = tmp_path / "export"
    (export / "data" / "BILLING_PERIOD=2026-11").mkdir(parents=True)
    (export / "data" / "BILLING_PERIOD=2026-11" / "a.csv").write_text(_csv([GOOD]))  # rows say 2026-10
    (export / "loose.csv").write_text(_csv([GOOD, GOOD]))
    (export / "short.csv").write_text("ProviderName,BilledCost\nAWS,1\n")
    grouped = ExportSource(str(export)).files_by_period()
    assert {period: [Path(f.uri).name for f in files] for period, files in grouped.items()} == {
        "2026-10": ["loose.csv"],
        "2026-11": ["a.csv"],
        "unknown": ["short.csv"],
    }
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(conn)
    first = ingest_export(conn, ExportSource(str(export)), NOW, ["2026-10"])
    assert (first.files_current, first.files_read, first.refused) == (1, 1, [])
    (export / "data" / "BILLING_PERIOD=2026-11" / "a.csv").unlink()  # the other period's file goes
    ingest_export(conn, ExportSource(str(export)), NOW, ["2026-11", "unknown"])
    (export / "loose.csv").unlink()  # gone, but its period is not this run's: its rows stay
    ingest_export(conn, ExportSource(str(export)), NOW, ["unknown"])
    files = conn.execute("SELECT billing_period, status, rows FROM raw.focus_files ORDER BY 1").fetchall()
    assert files == [("2026-10", "ok", 2), ("unknown", "missing_columns", None)]
    assert conn.execute("SELECT billing_period, count(*) FROM raw.focus_cost GROUP BY 1").fetchall() == [
        ("2026-10", 2)
    ]


def test_a_hand_copy_of_two_months_is_one_partition_and_its_marts_hold_both(tmp_path: Path) -> None:
    """A file outside AWS's layout belongs to its first month's partition; its run rebuilds the marts of
    every month its rows hold, so the second month is not left out."""
    from finops_pipeline.lib.focus.marts import write_showback

    export = tmp_path / "export"
    export.mkdir()
    november = GOOD.replace("2026-10-01", "2026-11-01").replace("2026-10-0", "2026-11-0")
    (export / "copy.csv").write_text(_csv([GOOD, november]))
    assert list(ExportSource(str(export)).files_by_period()) == ["2026-10"]
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(conn)
    ingest_export(conn, ExportSource(str(export)), NOW, ["2026-10"])
    write_showback(conn, "team", "strict", ["2026-10"])
    rows = conn.execute(
        "SELECT billing_period, allocation, tag_value, effective_cost FROM marts.focus_showback ORDER BY 1"
    ).fetchall()
    assert rows == [("2026-10", "tagged", "a", Decimal("1")), ("2026-11", "tagged", "a", Decimal("1"))]
