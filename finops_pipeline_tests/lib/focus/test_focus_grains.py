"""Cost Explorer grains from export files on disk: Parquet and CSV, hourly lines, discounts, coverage."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from finops_pipeline.lib.focus.grains import covered_windows, read_grain, uncovered
from finops_pipeline.lib.focus.source import ExportSource

D = dt.date
COLUMNS = ("ProviderName", "SubAccountId", "ServiceName", "x_UsageType", "ChargeCategory", "BillingCurrency")


def _line(start: dt.datetime, account: str, usage: str, category: str, billed: float, discount: float | None):
    return {
        "ProviderName": "AWS", "SubAccountId": account, "ServiceName": "Amazon EC2", "x_UsageType": usage,
        "ChargeCategory": category, "BillingCurrency": "USD", "ChargePeriodStart": start,
        "BilledCost": billed, "EffectiveCost": billed * 0.5,
        "x_Discounts": [("total_discount", discount)] if discount is not None else [],
        "Tags": [("Team", "web")] if category == "Usage" else [],
    }  # fmt: skip


def _export(root: Path) -> ExportSource:
    """October in Parquet (hourly lines on the 31st), November in CSV through the 2nd."""
    october = root / "data" / "BILLING_PERIOD=2026-10"
    november = root / "data" / "BILLING_PERIOD=2026-11"
    october.mkdir(parents=True)
    november.mkdir(parents=True)
    hours = [dt.datetime(2026, 10, 31, h) for h in (0, 13, 23)]
    rows = [_line(h, "111", "BoxUsage", "Usage", 1.25, -0.125) for h in hours]
    rows.append(_line(dt.datetime(2026, 10, 30), "111", "BoxUsage", "Tax", 9.0, None))
    schema = pa.schema(
        [
            *(pa.field(c, pa.string()) for c in COLUMNS),
            pa.field("ChargePeriodStart", pa.timestamp("ms")),
            pa.field("BilledCost", pa.float64()),
            pa.field("EffectiveCost", pa.float64()),
            pa.field("x_Discounts", pa.map_(pa.string(), pa.float64())),
            pa.field("Tags", pa.map_(pa.string(), pa.string())),
        ]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, october / "part-1.parquet")
    with (november / "part-1.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*COLUMNS, "ChargePeriodStart", "BilledCost", "EffectiveCost", "x_Discounts", "Tags"])
        for day, billed in ((1, "2.000000"), (2, "3.500000")):
            discount = json.dumps({"total_discount": -0.5})
            fields = ["AWS", "222", "Amazon EC2", "BoxUsage", "Usage", "USD"]
            tags = json.dumps({"Team": "data"} if day == 1 else {})
            writer.writerow([*fields, f"2026-11-0{day}T00:00:00Z", billed, billed, discount, tags])
    return ExportSource(str(root))


def test_lines_sum_into_utc_days_with_net_cost_and_usage_only(tmp_path: Path) -> None:
    got_rows: list[pa.Table] = []
    read = read_grain(
        _export(tmp_path), ("LINKED_ACCOUNT", "USAGE_TYPE"), ("account_id", "usage_type"),
        (D(2026, 10, 30), D(2026, 11, 10)), True, D(2026, 11, 1), got_rows.append,
    )  # fmt: skip
    assert read.rows == 3 and len(got_rows) == 2  # a chunk a month
    assert read.files == 2
    # October whole to the window's end, November through its newest day (the 2nd): the 3rd on is not held.
    assert read.windows == [(D(2026, 10, 30), D(2026, 11, 3))]
    got = sorted(
        (r["usage_date"], r["account_id"], r["unblended_cost"], r["net_unblended_cost"], r["is_estimated"])
        for r in pa.concat_tables(got_rows).to_pylist()
    )
    assert got == [
        (
            D(2026, 10, 31),
            "111",
            Decimal("3.750000"),
            Decimal("3.375000"),
            False,
        ),  # three hours, tax left out
        (D(2026, 11, 1), "222", Decimal("2.000000"), Decimal("1.500000"), True),
        (D(2026, 11, 2), "222", Decimal("3.500000"), Decimal("3.000000"), True),
    ]


def test_every_charge_category_in_the_account_service_grain(tmp_path: Path) -> None:
    got_rows: list[pa.Table] = []
    read = read_grain(
        _export(tmp_path), ("LINKED_ACCOUNT", "SERVICE"), ("account_id", "service"),
        (D(2026, 10, 1), D(2026, 11, 1)), False, D(2026, 11, 1), got_rows.append,
    )  # fmt: skip
    assert read.windows == [(D(2026, 10, 1), D(2026, 11, 1))]
    totals = {r["usage_date"]: r["unblended_cost"] for r in pa.concat_tables(got_rows).to_pylist()}
    assert totals == {D(2026, 10, 30): Decimal("9.000000"), D(2026, 10, 31): Decimal("3.750000")}


def test_covered_and_uncovered_days() -> None:
    newest = {"2026-01": D(2026, 1, 31), "2026-02": D(2026, 2, 10), "2026-04": D(2026, 4, 30)}
    windows = covered_windows(newest, D(2026, 1, 15), D(2026, 5, 1))
    assert windows == [(D(2026, 1, 15), D(2026, 2, 11)), (D(2026, 4, 1), D(2026, 5, 1))]
    assert uncovered(windows, D(2026, 1, 1), D(2026, 5, 3)) == [
        (D(2026, 1, 1), D(2026, 1, 15)),
        (D(2026, 2, 11), D(2026, 4, 1)),
        (D(2026, 5, 1), D(2026, 5, 3)),
    ]
    assert uncovered([], D(2026, 1, 1), D(2026, 1, 1)) == []


def test_tag_values_per_key_with_untagged_spend_as_empty(tmp_path: Path) -> None:
    got_rows: list[pa.Table] = []
    read_grain(
        _export(tmp_path), ("LINKED_ACCOUNT",), ("account_id", "tag_value"),
        (D(2026, 10, 30), D(2026, 11, 3)), False, D(2026, 11, 1), got_rows.append, ("Team", "Owner"),
    )  # fmt: skip
    got = sorted(
        (r["tag_key"], r["usage_date"], r["tag_value"], r["unblended_cost"])
        for r in pa.concat_tables(got_rows).to_pylist()
    )
    assert got == [
        ("Owner", D(2026, 10, 30), "", Decimal("9.000000")),
        ("Owner", D(2026, 10, 31), "", Decimal("3.750000")),
        ("Owner", D(2026, 11, 1), "", Decimal("2.000000")),
        ("Owner", D(2026, 11, 2), "", Decimal("3.500000")),
        ("Team", D(2026, 10, 30), "", Decimal("9.000000")),  # the tax line carries no tags
        ("Team", D(2026, 10, 31), "web", Decimal("3.750000")),
        ("Team", D(2026, 11, 1), "data", Decimal("2.000000")),  # CSV: Tags as JSON text
        ("Team", D(2026, 11, 2), "", Decimal("3.500000")),
    ]
