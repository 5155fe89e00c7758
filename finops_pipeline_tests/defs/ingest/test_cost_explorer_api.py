"""A grain's pages go to the stage as they arrive, one page per write, and reach the warehouse whole."""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa

from finops_pipeline.defs.ingest.cost_explorer_api import COST_GRAINS, pages_ahead, stream_grain
from finops_pipeline.warehouse import Stage, ensure_schema, replace_windows, staged
from finops_pipeline_tests.conftest import SESSION_CE_PAGE_SIZE

BY_TAG = next(g for g in COST_GRAINS if g.per_tag_key)
DAILY = next(g for g in COST_GRAINS if g.asset_name == "ce_cost_daily")


def _truth(sandbox: Any, start: dt.date, end: dt.date) -> Decimal:
    rows = sandbox.world.truth_totals("DAILY", ["LINKED_ACCOUNT"], "UnblendedCost").to_pylist()
    return sum((r["amount"] for r in rows if start <= r["period_start"] < end), Decimal(0))


def test_each_page_is_one_write_to_the_stage_and_no_row_is_lost(
    aws_env: dict[str, str], sandbox: Any
) -> None:
    """Two tag keys over 60 days: every write holds at most one page; each key's stream sums to the truth."""
    ce = boto3.client("ce", region_name="us-east-1")
    end = sandbox.world.data_end
    start = end - dt.timedelta(days=60)
    writes: list[int] = []
    with staged() as stage:
        real_append = stage.append
        stage.append = lambda stream, rows: (writes.append(rows.num_rows), real_append(stream, rows))[1]
        keys = ("Environment", "Team")
        for key in keys:
            assert stream_grain(ce, BY_TAG, (start, end), key, stage) == end  # read to the end
        rows, total = stage.totals("unblended_cost")
    assert len(writes) >= 3 and max(writes) == SESSION_CE_PAGE_SIZE  # paged, and one page per write
    assert rows == sum(writes)
    assert round(total / len(keys), 2) == round(_truth(sandbox, start, end), 2)


def _page(days: list[str], cost: str) -> pa.Table:
    return pa.table(
        {
            "usage_date": pa.array([dt.date.fromisoformat(d) for d in days], pa.date32()),
            "account_id": pa.array(["111111111111"] * len(days)),
            "service": pa.array(["Amazon EC2"] * len(days)),
            **{
                metric: pa.array([Decimal(cost)] * len(days), pa.decimal128(18, 6))
                for metric in ("unblended_cost", "amortized_cost", "net_unblended_cost")
            },
            "is_estimated": pa.array([False] * len(days)),
            "currency": pa.array(["USD"] * len(days)),
        }
    )


def test_a_stream_read_again_drops_only_its_own_pages(tmp_path: Path) -> None:
    stage = Stage(tmp_path)
    first, second = stage.new_stream(), stage.new_stream()
    stage.append(first, _page(["2026-11-01", "2026-11-02"], "1.50"))
    stage.append(second, _page(["2026-11-01"], "7.00"))
    stage.drop(second)  # Cost Explorer asked for the second stream again from its first page
    stage.append(second, _page(["2026-11-01", "2026-11-02", "2026-11-03"], "2.00"))
    assert stage.totals("unblended_cost") == (5, Decimal("9.000000"))
    stage.drop(from_day=dt.date(2026, 11, 2))  # a budget cut: every stream keeps the same days
    assert stage.totals("unblended_cost") == (2, Decimal("3.500000"))
    stage.close()


def test_replace_windows_keeps_the_days_between_and_everything_outside(tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    with duckdb.connect(str(database)) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO raw.ce_cost_daily (usage_date, account_id, service, unblended_cost, amortized_cost, "
            "net_unblended_cost, is_estimated, currency) "
            "SELECT DATE '2026-11-01' + INTERVAL (d) DAY, '111111111111', 'Amazon EC2', 10, 10, 10, true, "
            "'USD' FROM range(6) t(d)"
        )
        with staged() as stage:
            stream = stage.new_stream()
            stage.append(stream, _page(["2026-11-02", "2026-11-05"], "1.25"))
            windows = [
                (dt.date(2026, 11, 2), dt.date(2026, 11, 3)),
                (dt.date(2026, 11, 5), dt.date(2026, 11, 6)),
            ]
            replace_windows(conn, DAILY.table, stage, windows)
        by_day = conn.execute(
            "SELECT day(usage_date), sum(unblended_cost) FROM raw.ce_cost_daily GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert by_day == [
        (1, Decimal("10")), (2, Decimal("1.25")), (3, Decimal("10")), (4, Decimal("10")),
        (5, Decimal("1.25")), (6, Decimal("10")),
    ]  # fmt: skip


def _first_page(groups_per_day: list[int]) -> pa.Table:
    days = [
        dt.date(2026, 1, 1) + dt.timedelta(days=i) for i, n in enumerate(groups_per_day) for _ in range(n)
    ]
    return pa.table({"usage_date": pa.array(days, pa.date32())})


def test_the_pages_ahead_are_extrapolated_from_the_first_pages_complete_days() -> None:
    # 1,000 groups: four complete days of 200 and 200 of a fifth day that may go on.
    first = _first_page([200, 200, 200, 200, 200])
    assert pages_ahead(first, 400) == 79  # 400 days x 200 groups / 1,000 a page = 80 pages, 1 read
    assert pages_ahead(first, 400, max_pages=4) == 3  # the restatement budget cuts the stream at 4
    assert pages_ahead(_first_page([1000]), 30) == 29  # one day fills a page: at least a page a day
    assert pages_ahead(_first_page([]), 30) == 0
