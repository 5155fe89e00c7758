"""commitment_usage and commitment_kpis against the session sandbox, checked against its ledger.

The expected figures are computed here straight from the world's ledger (its Savings Plans covered lines
and fees, its RI fees and discounted hours), not through the Cost Explorer emulator's code.
"""

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import duckdb
import pytest

from finops_pipeline_tests.conftest import SANDBOX_AS_OF, set_aws_env
from finops_pipeline_tests.pipeline_fixtures import materialized_copy, pipeline_env, run_pipeline
from finops_sandbox import catalog as cat
from finops_sandbox.cost_explorer.commitment_inventory import commitments_table
from finops_sandbox.faults import Faults

CENT = Decimal("0.01")
SP_TYPE = "Savings Plans: Compute"
RI_TYPE = "Reserved Instances: Amazon Relational Database Service"
# Per account and day, from the ledger alone (see the README's Commitments formulas).
TRUTH_SQL = f"""
WITH sp AS (
    SELECT usage_date, account_id, '{SP_TYPE}' AS commitment_type,
           sum(amortized_cost) AS commitment,
           coalesce(sum(amortized_cost) FILTER (WHERE record_type = 'SavingsPlanRecurringFee'), 0) AS unused,
           sum(unblended_cost) FILTER (WHERE record_type = 'SavingsPlanCoveredUsage') AS od
    FROM ledger WHERE record_type IN ('SavingsPlanCoveredUsage', 'SavingsPlanRecurringFee') GROUP BY ALL
), ri_fee AS (
    SELECT account_id, region, regexp_extract(usage_type, ':(.*)$', 1) AS cls, coalesce(operation, '') AS op,
           date_trunc('month', usage_date) AS month, usage_quantity / day(last_day(usage_date)) AS hours,
           unblended_cost / day(last_day(usage_date)) AS fee
    FROM ledger WHERE record_type = 'RIFee' AND unblended_cost > 0
), ri_days AS (  -- a reservation bills every day of its month, used or not
    SELECT f.*, CAST(unnest(range(month, month + INTERVAL 1 MONTH, INTERVAL 1 DAY)) AS DATE) AS usage_date
    FROM ri_fee f
), ri_used AS (
    SELECT usage_date, account_id, region, regexp_extract(usage_type, ':(.*)$', 1) AS cls,
           coalesce(operation, '') AS op, sum(usage_quantity) AS hours
    FROM ledger WHERE record_type = 'DiscountedUsage' GROUP BY ALL
), ri AS (
    SELECT f.usage_date, f.account_id, '{RI_TYPE}' AS commitment_type, sum(f.fee) AS commitment,
           sum(f.fee * (1 - least(coalesce(u.hours, 0), f.hours) / f.hours)) AS unused,
           sum(f.fee * least(coalesce(u.hours, 0), f.hours) / f.hours) / {cat.RDS_RI_RATE} AS od
    FROM ri_days f LEFT JOIN ri_used u ON f.account_id = u.account_id AND f.region = u.region
        AND f.cls = u.cls AND f.op = u.op AND f.usage_date = u.usage_date
    WHERE f.usage_date <= (SELECT max(usage_date) FROM ledger)
    GROUP BY ALL
)
SELECT * FROM sp UNION ALL SELECT * FROM ri
"""


@pytest.fixture(scope="module")
def kpi_warehouse(ingested_warehouse: Path, sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialized_copy(
        ingested_warehouse, sandbox, tmp_path_factory.mktemp("kpis"), ("commitment_kpis",)
    )


def _truth(sandbox: Any) -> dict[tuple[dt.date, str, str], tuple[Decimal, Decimal, Decimal]]:
    con = duckdb.connect()
    con.register("ledger", sandbox.world.ledger)
    rows = con.execute(TRUTH_SQL).fetchall()
    return {(d, t, a): (Decimal(c), Decimal(u), Decimal(o)) for d, a, t, c, u, o in rows}


def _cents(value: Any) -> Decimal:
    return Decimal(value).quantize(CENT)


def test_kpis_equal_the_ledger_per_account_and_overall(kpi_warehouse: Path, sandbox: Any) -> None:
    truth = _truth(sandbox)
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        mart = conn.execute(
            "SELECT usage_date, commitment_type, scope, commitment_usd, unused_usd, "
            "on_demand_equivalent_usd, utilization_pct, net_savings_usd FROM marts.commitment_kpis "
            "WHERE commitment_usd > 0"
        ).fetchall()
    per_account = {(d, t, s): r for d, t, s, *r in mart if s != "organization"}
    assert set(per_account) == set(truth)
    for key, (commitment, unused, od) in truth.items():
        got = per_account[key]
        assert (_cents(got[0]), _cents(got[1]), _cents(got[2])) == (
            _cents(commitment),
            _cents(unused),
            _cents(od),
        ), key
        assert round(got[3], 2) == round(float(100 * (commitment - unused) / commitment), 2), key
        assert _cents(got[4]) == _cents(od - commitment), key
    org = {(d, t): r for d, t, s, *r in mart if s == "organization"}
    for (day, kind), got in org.items():
        parts = [v for (d, t, _), v in truth.items() if (d, t) == (day, kind)]
        assert _cents(got[0]) == _cents(sum(p[0] for p in parts))
        assert _cents(got[1]) == _cents(sum(p[1] for p in parts))
    # The demo world's figures for the report (README): every SP day fully used, the RIs under by the
    # orphaned reservation (0% used every day) and the estimated trailing days.
    assert {t for _, t, _ in truth} == {SP_TYPE, RI_TYPE}
    ri_days = [v for (_, t, _), v in truth.items() if t == RI_TYPE]
    assert round(sum(u for _, u, _ in ri_days) / sum(c for c, _, _ in ri_days) * 100, 2) == Decimal("12.99")


def test_an_unused_reservation_is_amortized_day_by_day(sandbox: Any) -> None:
    """The RI fee line's amortized cost is the day's unused fee, so amortized and unblended totals agree."""
    truth = _truth(sandbox)
    con = duckdb.connect()
    con.register("ledger", sandbox.world.ledger)
    lines = con.execute(
        "SELECT usage_date, account_id, sum(amortized_cost), sum(unblended_cost) FROM ledger "
        "WHERE record_type = 'RIFee' GROUP BY ALL"
    ).fetchall()
    amortized = {(d, a): Decimal(v) for d, a, v, _ in lines}
    unused = {(d, a): u for (d, t, a), (_, u, _) in truth.items() if t == RI_TYPE}
    assert {k for k, v in amortized.items() if v} == {k for k, v in unused.items() if _cents(v)}
    for key, value in unused.items():
        assert abs(amortized.get(key, Decimal(0)) - value) <= Decimal("0.000002"), key


def test_coverage_and_esr_equal_the_ledger(kpi_warehouse: Path, sandbox: Any) -> None:
    con = duckdb.connect()
    con.register("ledger", sandbox.world.ledger)
    covered, on_demand = (
        Decimal(v)
        for v in con.execute(
            "SELECT sum(unblended_cost) FILTER (WHERE record_type = 'SavingsPlanCoveredUsage'), "
            "sum(unblended_cost) FILTER (WHERE record_type = 'Usage' AND ((service = ? AND "
            "regexp_matches(usage_type, '(BoxUsage|DedicatedUsage|HostUsage):')) OR usage_type LIKE "
            "'%Lambda-GB-Second%')) FROM ledger WHERE usage_date >= ? AND usage_date < ?",
            [cat.SVC_EC2, sandbox.world.history_start, SANDBOX_AS_OF],
        ).fetchone()
    )
    truth = _truth(sandbox)
    sp_net = sum(o - c for (_, t, _), (c, _, o) in truth.items() if t == SP_TYPE)
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        got = conn.execute(
            "SELECT sum(on_demand_equivalent_usd), sum(eligible_on_demand_usd), sum(net_savings_usd) "
            "FROM marts.commitment_kpis WHERE scope = 'organization' AND commitment_type = ?",
            [SP_TYPE],
        ).fetchone()
    assert (_cents(got[0]), _cents(got[1]), _cents(got[2])) == (
        _cents(covered),
        _cents(on_demand),
        _cents(sp_net),
    )
    esr = float(sp_net / (covered + on_demand) * 100)
    assert esr == pytest.approx(float(got[2] / (got[0] + got[1]) * 100), abs=0.005)


def test_cost_explorer_utilization_agrees_with_the_mart(
    kpi_warehouse: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    set_aws_env(monkeypatch, sandbox.env(), tmp_path)
    ce = boto3.client("ce", region_name="us-east-1")
    start = sandbox.world.history_start
    period = {"Start": start.isoformat(), "End": SANDBOX_AS_OF.isoformat()}
    sp = ce.get_savings_plans_utilization(TimePeriod=period, Granularity="MONTHLY")["Total"]
    ri = ce.get_reservation_utilization(
        TimePeriod=period, Granularity="MONTHLY",
        Filter={"Dimensions": {"Key": "SERVICE", "Values": [cat.SVC_RDS]}},
    )["Total"]  # fmt: skip
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        mart = dict(
            (t, (c, u, n))
            for t, c, u, n in conn.execute(
                "SELECT commitment_type, sum(commitment_usd), sum(used_usd), sum(net_savings_usd) "
                "FROM marts.commitment_kpis WHERE scope = 'organization' GROUP BY 1"
            ).fetchall()
        )
    assert _cents(sp["Utilization"]["TotalCommitment"]) == _cents(mart[SP_TYPE][0])
    assert _cents(sp["Utilization"]["UsedCommitment"]) == _cents(mart[SP_TYPE][1])
    assert _cents(sp["Savings"]["NetSavings"]) == _cents(mart[SP_TYPE][2])
    assert _cents(ri["TotalAmortizedFee"]) == _cents(mart[RI_TYPE][0])
    assert _cents(ri["NetRISavings"]) == _cents(mart[RI_TYPE][2])


def test_expiry_check_fires_for_a_term_ending_within_30_days(kpi_warehouse: Path) -> None:
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        ends = sorted(
            r[0]
            for r in conn.execute(
                "SELECT end_date FROM raw.commitment_inventory WHERE state = 'active'"
            ).fetchall()
        )
        latest = conn.execute(
            "SELECT expiring_30d, expiring_30d_hourly_usd FROM marts.commitment_kpis "
            "WHERE scope = 'organization' AND commitment_type = ? AND usage_date = ?",
            [SP_TYPE, SANDBOX_AS_OF - dt.timedelta(days=1)],
        ).fetchone()
    soon = [e for e in ends if SANDBOX_AS_OF < e <= SANDBOX_AS_OF + dt.timedelta(days=30)]
    assert soon == [SANDBOX_AS_OF + dt.timedelta(days=12), SANDBOX_AS_OF + dt.timedelta(days=27)]
    assert latest[0] == 2


def test_checks_warn_with_the_pinned_clock(ingested_warehouse: Path, sandbox: Any, tmp_path: Path) -> None:
    database = tmp_path / "finops.duckdb"
    database.write_bytes(ingested_warehouse.read_bytes())
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database), tmp_path)
        result = run_pipeline(assets=["commitment_kpis"])
    finally:
        monkeypatch.undo()
    assert result.success
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    expiry = checks["no_commitment_expires_soon"]
    assert not expiry.passed and expiry.metadata["expiring"].value == 2
    assert not checks["coverage_at_target"].passed  # coverage of the demo world is far below 70%
    # Savings Plans fully used; the RIs at 85.24% on the latest day: the orphaned db.r5.large bills
    # $3.80 a day and covers nothing (world/ledger.py `_ri_groups`).
    utilization = checks["utilization_at_target"]
    assert not utilization.passed and utilization.metadata["below_target"].value == 1
    assert f"| {RI_TYPE} | 85.24" in utilization.metadata["details"].value


def _inventory_truth(sandbox: Any) -> set[tuple[str, str, dt.date, Decimal]]:
    world = sandbox.world
    table = commitments_table(world.ledger, world.config.seed, world.data_end, world.history_start)
    return {
        (r["account_id"], r["state"], r["end_date"], r["hourly_commitment"] * r["instance_count"])
        for r in table.to_pylist()
    }


def test_inventory_holds_every_commitment_of_the_world(kpi_warehouse: Path, sandbox: Any) -> None:
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        seen = set(
            conn.execute(
                "SELECT account_id, state, end_date, hourly_commitment FROM raw.commitment_inventory"
            ).fetchall()
        )
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM raw.scan_status WHERE source = 'commitments' GROUP BY 1"
            ).fetchall()
        )
    assert seen == _inventory_truth(sandbox)
    assert set(statuses) == {"ok"}


def test_a_denied_account_is_labelled_and_keeps_its_commitments(
    kpi_warehouse: Path, sandbox: Any, sandbox_factory: Any, tmp_path: Path
) -> None:
    owner = next(iter(sorted({a for a, *_ in _inventory_truth(sandbox)})))
    faulted = sandbox_factory(
        faults=Faults(
            deny_accounts=frozenset({owner}),
            deny_operations=frozenset({"DescribeSavingsPlans", "DescribeReservedDBInstances"}),
        )
    )
    database = tmp_path / "finops.duckdb"
    database.write_bytes(kpi_warehouse.read_bytes())
    with duckdb.connect(str(database), read_only=True) as conn:
        before = conn.execute(
            "SELECT usage_date, commitment_type, scope, expiring_30d, expiring_90d_hourly_usd "
            "FROM marts.commitment_kpis ORDER BY ALL"
        ).fetchall()
    monkeypatch = pytest.MonkeyPatch()
    try:
        set_aws_env(monkeypatch, pipeline_env(faulted.env(), database), tmp_path)
        result = run_pipeline(assets=["commitment_inventory", "commitment_kpis"])
    finally:
        monkeypatch.undo()
    assert result.success
    with duckdb.connect(str(database), read_only=True) as conn:
        denied = conn.execute(
            "SELECT region, status FROM raw.scan_status WHERE source = 'commitments' AND account_id = ? "
            "AND status <> 'ok' ORDER BY region",
            [owner],
        ).fetchall()
        kept = conn.execute(
            "SELECT count(*), count(stale_since) FROM raw.commitment_inventory WHERE account_id = ?", [owner]
        ).fetchone()
        after = conn.execute(
            "SELECT usage_date, commitment_type, scope, expiring_30d, expiring_90d_hourly_usd "
            "FROM marts.commitment_kpis ORDER BY ALL"
        ).fetchall()
    assert denied and {status for _, status in denied} == {"access_denied"}
    assert "global" in {region for region, _ in denied}
    owned = sum(1 for a, *_ in _inventory_truth(sandbox) if a == owner)
    assert kept == (owned, owned)  # every commitment of the denied account is still there, marked stale
    assert after == before  # the expiry KPIs do not shrink


def test_report_carries_the_commitments_and_their_expiries(
    kpi_warehouse: Path, project: Path, pipeline_env_for: Any
) -> None:
    import csv

    import openpyxl

    from finops_pipeline.lib.reporting import generate_report

    pipeline_env_for(kpi_warehouse)
    result = generate_report(["csv", "xlsx", "html"], preset="previous_full_month")
    start, end = dt.date.fromisoformat(result["period"]["start"]), SANDBOX_AS_OF.replace(day=1)
    with duckdb.connect(str(kpi_warehouse), read_only=True) as conn:
        mart = conn.execute(
            "SELECT commitment_type, sum(unused_usd), sum(net_savings_usd), count(*) "
            "FROM marts.commitment_kpis WHERE scope = 'organization' AND usage_date >= ? "
            "AND usage_date < ? GROUP BY 1 ORDER BY 1",
            [start, end],
        ).fetchall()
    files = [Path(f) for f in result["files"]]
    (kpi_csv,) = [f for f in files if f.name.endswith("-commitments.csv")]
    with kpi_csv.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    got: dict[str, list[float]] = {}
    for r in rows:
        sums = got.setdefault(r["commitment_type"], [0.0, 0.0, 0])
        sums[0] += float(r["unused_usd"])
        sums[1] += float(r["net_savings_usd"])
        sums[2] += 1
    assert sorted(got) == [t for t, *_ in mart]
    for kind, unused, net, days in mart:
        assert got[kind][0] == pytest.approx(float(unused), abs=0.01)
        assert got[kind][1] == pytest.approx(float(net), abs=0.01)
        assert got[kind][2] == days
    (expiries_csv,) = [f for f in files if f.name.endswith("-commitment_expiries.csv")]
    with expiries_csv.open(newline="", encoding="utf-8-sig") as handle:
        ending = sorted(dt.date.fromisoformat(r["end_date"]) for r in csv.DictReader(handle))
    assert ending and all(end <= e < end + dt.timedelta(days=90) for e in ending)
    book = openpyxl.load_workbook(next(f for f in files if f.suffix == ".xlsx"))
    assert {"Commitments", "Commitment expiries"} <= set(book.sheetnames)
    html = next(f for f in files if f.suffix == ".html").read_text(encoding="utf-8")
    assert "Savings Plans coverage (daily %)" in html and 'aria-label="Savings Plans coverage"' in html


def test_purchase_recommendations_show_the_coverage_they_would_reach(
    kpi_warehouse: Path, sandbox: Any, tmp_path: Path
) -> None:
    database = materialized_copy(kpi_warehouse, sandbox, tmp_path, ("recommendations",))
    with duckdb.connect(str(database), read_only=True) as conn:
        recs = conn.execute(
            "SELECT r.kind, r.account_id, r.coverage_now_pct, r.coverage_after_pct, c.lookback_days, "
            "c.details->>'EstimatedOnDemandCost' FROM marts.recommendations r "
            "JOIN raw.ce_recommendations c USING (recommendation_id) "
            "WHERE r.kind IN ('savings_plans', 'reserved_instances')"
        ).fetchall()
        sp = [r for r in recs if r[0] == "savings_plans"]
        assert sp
        _, _, now, after, lookback, added = sp[0]
        covered, on_demand = conn.execute(  # PAYER-scoped purchases: the organisation's coverage
            "SELECT sum(covered_cost), sum(on_demand_cost) FROM raw.commitment_coverage "
            "WHERE commitment_type = ? AND usage_date >= ? AND usage_date < ?",
            [SP_TYPE, SANDBOX_AS_OF - dt.timedelta(days=lookback), SANDBOX_AS_OF],
        ).fetchone()
    assert now == pytest.approx(float(100 * covered / (covered + on_demand)), abs=1e-3)
    expected = min(float(covered) + float(added), float(covered + on_demand))
    assert after == pytest.approx(100 * expected / float(covered + on_demand), abs=1e-3)
    assert all(r[2] is not None and r[3] is not None and r[3] >= r[2] for r in recs)


def test_the_largest_commitment_leads_the_metadata() -> None:
    """The progress line shows the first dollar and percent entries: a type held, not a $0 one."""
    from finops_pipeline.defs.commitments.kpis import kpi_metadata

    ec2 = ("Reserved Instances: Amazon Elastic Compute Cloud - Compute", 0, 0, 0, None, 0.0, 0, 0, None)
    rds = (RI_TYPE, 31.6, 26.9, 4.7, 85.24, 8.6, 40.8, 9.2, 4.8)
    sp = (SP_TYPE, 46.4, 46.4, 0, 100.0, 16.4, 64.5, 18.1, 4.6)
    keys = list(kpi_metadata([ec2, rds, sp]))
    assert keys[0] == "savings_plans_compute_commitment_usd"
    assert next(k for k in keys if k.endswith("_pct")) == "savings_plans_compute_utilization_pct"
    assert keys.index("reserved_instances_amazon_relational_database_service_commitment_usd") < keys.index(
        "reserved_instances_amazon_elastic_compute_cloud_compute_commitment_usd"
    )
