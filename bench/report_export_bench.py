"""Benchmark: report exports of 1,000,000 rows (Excel and CSV), against openpyxl's default writer.

The data is a cost_by_account × service × day shaped table of 1,000,000 rows and 9 columns (dates, text
with injection payloads, currency, percent, integers, booleans), built in memory and saved as Parquet
once. Each writer then runs in its own process (so its peak RSS is its own) and reads that file:
  1. our streaming .xlsx writer (``finops_pipeline.lib.reporting.writers.xlsx``) at 1,000,000 rows;
  2. our CSV writer at 1,000,000 rows;
  3. openpyxl's default writer (a Workbook, ``ws.append`` per row, ``save``) on the first
     OPENPYXL_ROWS rows of the same data (at 1,000,000 rows it needs gigabytes and many minutes; pass
     ``--openpyxl-rows 1000000`` to measure that), extrapolated linearly to 1,000,000 rows;
  4. openpyxl's write_only writer on the same rows, for reference.
Prints wall time and peak RSS; the Excel and CSV files are re-opened to check their row counts.
Targets: Excel at 1,000,000 rows in at most 60 s and 1 GB peak RSS; CSV in at most 5 s.
Run: .venv/bin/python bench/report_export_bench.py [--rows N] [--openpyxl-rows N]
"""

# ruff: noqa: E501  (printed tables read better unwrapped)

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROWS = 1_000_000
OPENPYXL_ROWS = 50_000
KINDS = {
    "usage_date": "date",
    "account_id": "text",
    "account_name": "text",
    "service": "text",
    "unblended_usd": "currency",
    "amortized_usd": "currency",
    "share_pct": "percent",
    "resources": "integer",
    "is_estimated": "bool",
}
NAMES = (
    "prod-payments",
    '=HYPERLINK("http://evil.example","x")',
    "-2+3",
    "Zürich-データ",
    "shared-logistics",
)
SERVICES = tuple(f"Amazon Service {i:02d}" for i in range(40))


def build(rows: int, path: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(6)
    idx = np.arange(rows)
    start = np.datetime64("2025-10-01")
    table = pa.table(
        {
            "usage_date": pa.array((start + (idx % 420).astype("timedelta64[D]")).astype("datetime64[D]")),
            "account_id": pa.array([f"{100000000000 + i:012d}" for i in range(1000)]).take(
                pa.array(idx % 1000)
            ),
            "account_name": pa.array(NAMES).take(pa.array(idx % len(NAMES))),
            "service": pa.array(SERVICES).take(pa.array(idx % len(SERVICES))),
            "unblended_usd": rng.gamma(2.0, 40.0, rows) - 5,
            "amortized_usd": rng.gamma(2.0, 40.0, rows),
            "share_pct": rng.random(rows) * 100,
            "resources": rng.integers(0, 500, rows),
            "is_estimated": idx % 7 == 0,
        }
    )
    pq.write_table(table, path)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(kind: str, data: Path, out: Path, rows: int) -> dict:
    import pyarrow.parquet as pq

    table = pq.read_table(data).slice(0, rows)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    if kind == "xlsx":
        from finops_pipeline.lib.reporting.writers.xlsx import XlsxWriter

        with out.open("wb") as handle, XlsxWriter(handle, title="bench") as book:
            info = book.add_table("Cost", table, KINDS, 1_048_575)
        written = info.rows_written
    elif kind == "csv":
        from finops_pipeline.lib.reporting.writers.csv_writer import write_csv

        with out.open("wb") as handle:
            write_csv(table, handle)
        written = rows
    elif kind in ("openpyxl", "openpyxl_write_only"):
        from openpyxl import Workbook

        book = Workbook(write_only=kind == "openpyxl_write_only")
        sheet = book.create_sheet("Cost") if kind == "openpyxl_write_only" else book.active
        sheet.append(table.column_names)
        for batch in table.to_batches(50_000):
            for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                sheet.append(row)
        book.save(out)
        written = rows
    else:
        raise ValueError(kind)
    seconds = time.perf_counter() - t0
    return {
        "kind": kind,
        "rows": written,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "data_rss_mb": base,
        "bytes": out.stat().st_size,
    }


def measure(kind: str, data: Path, out: Path, rows: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--one", kind, "--data", str(data), "--out", str(out), "--rows", str(rows)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_xlsx(path: Path) -> int:
    """Data rows of the sheet, counted by streaming the XML (openpyxl would take minutes at 1M rows)."""
    with zipfile.ZipFile(path) as z, z.open("xl/worksheets/sheet1.xml") as sheet:
        count = 0
        tail = b""
        for chunk in iter(lambda: sheet.read(1 << 20), b""):
            count += (tail + chunk).count(b"<row ") - tail.count(b"<row ")
            tail = chunk[-8:]
    return count - 1


def check_csv(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--openpyxl-rows", type=int, default=OPENPYXL_ROWS)
    parser.add_argument("--one")
    parser.add_argument("--data")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, Path(args.data), Path(args.out), args.rows)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data.parquet"
        t0 = time.perf_counter()
        build(args.rows, data)
        print(f"data: {args.rows:,} rows x {len(KINDS)} columns built in {time.perf_counter() - t0:.1f} s")
        ours = measure("xlsx", data, folder / "ours.xlsx", args.rows)
        assert check_xlsx(folder / "ours.xlsx") == args.rows
        csv = measure("csv", data, folder / "ours.csv", args.rows)
        assert check_csv(folder / "ours.csv") == args.rows
        small = min(args.openpyxl_rows, args.rows)
        default = measure("openpyxl", data, folder / "openpyxl.xlsx", small)
        write_only = measure("openpyxl_write_only", data, folder / "openpyxl_wo.xlsx", small)
        scale = args.rows / small
        print(
            f"\n{'writer':<34} {'rows':>10} {'seconds':>9} {'peak RSS MB':>12} {'(data MB)':>10} {'file MB':>8}"
        )
        for label, r in (
            ("Excel: finops streaming writer", ours),
            ("CSV: finops writer", csv),
            ("Excel: openpyxl default writer", default),
            ("Excel: openpyxl write_only", write_only),
        ):
            print(
                f"{label:<34} {r['rows']:>10,} {r['seconds']:>9.2f} {r['peak_rss_mb']:>12.0f} "
                f"{r['data_rss_mb']:>10.0f} {r['bytes'] / 1e6:>8.1f}"
            )
        est_default = default["seconds"] * scale
        est_wo = write_only["seconds"] * scale
        growth = (default["peak_rss_mb"] - default["data_rss_mb"]) * scale
        print(
            f"\nopenpyxl default writer extrapolated to {args.rows:,} rows: ~{est_default:,.0f} s, "
            f"~{growth:,.0f} MB above the data (it keeps every cell object in memory)"
        )
        print(f"openpyxl write_only extrapolated to {args.rows:,} rows: ~{est_wo:,.0f} s")
        print(
            f"speed-up vs openpyxl default: {est_default / ours['seconds']:.1f}x; vs write_only: {est_wo / ours['seconds']:.1f}x"
        )
        ok_xlsx = ours["seconds"] <= 60 and ours["peak_rss_mb"] <= 1024
        ok_csv = csv["seconds"] <= 5
        print(
            f"targets: Excel <= 60 s and <= 1 GB: {'met' if ok_xlsx else 'MISSED'} "
            f"({ours['seconds']:.1f} s, {ours['peak_rss_mb']:.0f} MB); CSV <= 5 s: {'met' if ok_csv else 'MISSED'} "
            f"({csv['seconds']:.2f} s)"
        )


if __name__ == "__main__":
    main()
