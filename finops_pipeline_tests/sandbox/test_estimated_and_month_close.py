"""The sandbox's `Estimated` flag as AWS sets it, late restatements, and month-close record types."""

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from finops_sandbox import catalog as cat
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.world import World, WorldConfig, build_world


def _world(as_of: dt.date, **options: object) -> World:
    return build_world(WorldConfig(accounts=3, as_of=as_of, **options))  # type: ignore[arg-type]


def _flags(world: World, start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    ce = CostExplorerEmulator(world)
    status, answer = ce.handle(
        "GetCostAndUsage",
        {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
        },
    )
    assert status == 200, answer
    return {dt.date.fromisoformat(r["TimePeriod"]["Start"]): r["Estimated"] for r in answer["ResultsByTime"]}


@pytest.mark.parametrize(
    ("as_of", "first_estimated"),
    [
        (dt.date(2026, 11, 1), dt.date(2026, 10, 1)),  # October's bill is not final on the 1st
        (dt.date(2026, 11, 3), dt.date(2026, 10, 1)),  # nor on the 3rd
        (dt.date(2026, 11, 6), dt.date(2026, 11, 1)),  # final from the 5th: only November estimated
    ],
)
def test_estimated_is_this_month_and_last_month_until_its_bill_is_final(
    as_of: dt.date, first_estimated: dt.date
) -> None:
    world = _world(as_of)
    assert world.estimated_from == first_estimated
    flags = _flags(world, dt.date(2026, 9, 25), as_of)
    assert flags == {day: day >= first_estimated for day in flags}
    assert len(flags) == (as_of - dt.date(2026, 9, 25)).days


def test_the_final_day_is_configurable() -> None:
    assert _world(dt.date(2026, 11, 6), bill_final_day=8).estimated_from == dt.date(2026, 10, 1)
    assert _world(dt.date(2026, 11, 2), bill_final_day=2).estimated_from == dt.date(2026, 11, 1)
    with pytest.raises(ValueError, match="bill_final_day"):
        _world(dt.date(2026, 11, 2), bill_final_day=29)


def _daily(world: World) -> dict[dt.date, Decimal]:
    con = duckdb.connect()
    con.register("l", world.ledger)
    return dict(con.execute("SELECT usage_date, sum(unblended_cost) FROM l GROUP BY 1").fetchall())


def test_late_restatement_moves_older_estimated_days_and_nothing_final() -> None:
    """With N late days, the N estimated days before the trailing three differ from one as_of to the next."""
    today = dt.date(2026, 11, 20)
    before = _daily(_world(today - dt.timedelta(days=1), late_restatement_days=5))
    after = _daily(_world(today, late_restatement_days=5))
    plain = _daily(_world(today - dt.timedelta(days=1)))
    moved = {d for d in before if before[d] != after[d]}
    # As of the 20th: the trailing 17..19 and the late 12..16; as of the 19th: 16..18 and 11..15.
    assert moved == {dt.date(2026, 11, d) for d in range(11, 19)}
    assert {d for d in before if before[d] != plain[d]} == {dt.date(2026, 11, d) for d in range(11, 16)}


def test_late_restatement_stops_at_a_final_month() -> None:
    today = dt.date(2026, 11, 8)  # October is final: only November days move
    before = _daily(_world(today - dt.timedelta(days=1), late_restatement_days=20))
    after = _daily(_world(today, late_restatement_days=20))
    assert {d for d in before if before[d] != after[d]} == {dt.date(2026, 11, d) for d in range(1, 7)}


def test_month_close_record_types_are_grouped_and_filtered_by_record_type() -> None:
    world = _world(dt.date(2026, 11, 4), month_close_extras=True)
    ce = CostExplorerEmulator(world)
    body = {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-11-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "RECORD_TYPE"}],
    }
    status, answer = ce.handle("GetCostAndUsage", body)
    assert status == 200
    got = {
        g["Keys"][0]: Decimal(g["Metrics"]["UnblendedCost"]["Amount"])
        for g in answer["ResultsByTime"][0]["Groups"]
    }
    truth = {
        r["RECORD_TYPE"]: r["amount"]
        for r in world.truth_totals("MONTHLY", ["RECORD_TYPE"]).to_pylist()
        if r["period_start"] == dt.date(2026, 10, 1)
    }
    assert set(cat.EXTRA_RECORD_TYPES) | {cat.RT_RI_FEE, cat.RT_SP_FEE, cat.RT_RECURRING} <= set(got)
    assert all(abs(got[k] - truth[k]) < Decimal("0.01") for k in truth)
    assert got[cat.RT_FEE] > 0 > got[cat.RT_DISCOUNT] and got[cat.RT_BUNDLED_DISCOUNT] < 0
    fees = {**body, "Filter": {"Dimensions": {"Key": "RECORD_TYPE", "Values": [cat.RT_FEE]}}}
    status, answer = ce.handle("GetCostAndUsage", fees)
    assert [g["Keys"][0] for g in answer["ResultsByTime"][0]["Groups"]] == [cat.RT_FEE]
    # Posted on the 3rd: the world observed on the 2nd has none of October's yet (September's, yes).
    earlier = _world(dt.date(2026, 11, 2), month_close_extras=True)
    con = duckdb.connect()
    con.register("l", earlier.ledger)
    dated = dict(
        con.execute(
            "SELECT usage_date, count(*) FROM l WHERE record_type IN ('Fee', 'Discount', 'BundledDiscount') "
            "AND usage_date >= DATE '2026-09-30' GROUP BY 1"
        ).fetchall()
    )
    assert list(dated) == [dt.date(2026, 9, 30)]
