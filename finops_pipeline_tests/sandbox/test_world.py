"""The synthetic World: determinism, restatement, CE identities, anomalies, tag dirt, scale."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from finops_sandbox import catalog as cat
from finops_sandbox.world import (
    ANOMALY_KINDS,
    HOSTILE_TAG_VALUES,
    MANAGEMENT_ACCOUNT_ID,
    World,
    WorldConfig,
    build_baseline_world,
    build_world,
    tag_facts,
)

AS_OF = dt.date(2026, 3, 17)
CONTRACT_LEDGER = [
    "usage_date",
    "account_id",
    "service",
    "region",
    "usage_type",
    "operation",
    "record_type",
    "workload_id",
    "unblended_cost",
    "amortized_cost",
    "net_unblended_cost",
    "blended_cost",
    "usage_quantity",
]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(WorldConfig(as_of=AS_OF))


def _sql(query: str, **tables: pa.Table) -> list[tuple]:
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    return con.execute(query).fetchall()


def _digest(table: pa.Table) -> tuple[int, int, int]:
    """An order-independent fingerprint of every cell of the ledger (row count plus two hash folds)."""
    columns = ", ".join(table.column_names)
    return _sql(f"SELECT count(*), bit_xor(hash({columns})), sum(hash({columns}) % 1000003) FROM t", t=table)[
        0
    ]


def _older_rows(world: World, before: dt.date) -> pa.Table:
    return world.ledger.filter(pc.less(world.ledger["usage_date"], pa.scalar(before, pa.date32())))


def test_contract_shape(world: World) -> None:
    assert world.ledger.column_names == CONTRACT_LEDGER
    assert world.ledger.schema.field("unblended_cost").type == pa.decimal128(18, 6)
    assert world.ledger.schema.field("usage_date").type == pa.date32()
    assert world.history_start == dt.date(2025, 2, 1)
    assert world.data_end == AS_OF
    assert world.estimated_start == dt.date(2026, 3, 14)
    lo, hi = _sql("SELECT min(usage_date), max(usage_date) FROM l", l=world.ledger)[0]
    assert (lo, hi) == (dt.date(2025, 2, 1), dt.date(2026, 3, 16))
    accounts = world.accounts.to_pylist()
    assert accounts[0]["account_id"] == MANAGEMENT_ACCOUNT_ID and accounts[0]["ou_name"] is None
    assert len(accounts) == 13
    assert all(len(a["account_id"]) == 12 and a["account_id"].isdigit() for a in accounts)
    assert {a["ou_name"] for a in accounts[1:]} <= set(world.ous["name"].to_pylist())
    assert set(world.ous["name"].to_pylist()) == {
        "Production",
        "Non-Production",
        "Sandbox",
        "Shared Services",
    }
    services = set(world.ledger["service"].unique().to_pylist())
    assert {cat.SVC_EC2, cat.SVC_EC2_OTHER, cat.SVC_S3, cat.SVC_TAX, cat.SVC_SUPPORT} <= services
    usage_types = set(world.ledger["usage_type"].unique().to_pylist())
    assert any(u.startswith("USE1-BoxUsage:") for u in usage_types)
    assert any(u.startswith("EU-EBS:VolumeUsage.") for u in usage_types)
    assert set(world.ledger["record_type"].unique().to_pylist()) == set(cat.RECORD_TYPES)


def test_same_config_same_world_and_seed_matters() -> None:
    config = WorldConfig(accounts=4, as_of=AS_OF, seed=7)
    first, second = build_world(config), build_world(config)
    for name in ("accounts", "ledger", "workload_tags", "anomalies", "resources", "budgets"):
        assert getattr(first, name).equals(getattr(second, name)), name
    assert _digest(first.ledger) == _digest(second.ledger)
    other = build_world(WorldConfig(accounts=4, as_of=AS_OF, seed=8))
    assert _digest(other.ledger) != _digest(first.ledger)
    assert other.accounts["account_id"].to_pylist() != first.accounts["account_id"].to_pylist()


def test_moving_as_of_restates_only_the_trailing_three_days() -> None:
    day = dt.date(2026, 3, 17)
    today = build_world(WorldConfig(accounts=4, as_of=day))
    tomorrow = build_world(WorldConfig(accounts=4, as_of=day + dt.timedelta(days=1)))
    cutoff = day - dt.timedelta(days=3)
    assert _digest(_older_rows(today, cutoff)) == _digest(_older_rows(tomorrow, cutoff))
    query = (
        "SELECT usage_date, sum(unblended_cost) FROM l WHERE usage_date >= DATE '2026-03-14' "
        "GROUP BY 1 ORDER BY 1"
    )
    a = dict(_sql(query, l=today.ledger))
    b = dict(_sql(query, l=tomorrow.ledger))
    assert sorted(a) == [dt.date(2026, 3, d) for d in (14, 15, 16)]
    assert sorted(b) == [dt.date(2026, 3, d) for d in (14, 15, 16, 17)]
    for d in a:  # the same day, restated by a different (+-3%) factor
        assert a[d] != b[d]
        assert abs(a[d] / b[d] - 1) < Decimal("0.07")


def test_no_older_day_moves_over_two_weeks_of_as_of_dates() -> None:
    """Ongoing anomalies (a drift still ramping) must not reshape the days already observed, nor a
    workload that starts on a later day raise the support fee of every earlier month (11-27 to 11-28)."""
    days = [dt.date(2026, 11, 14) + dt.timedelta(days=i) for i in range(15)]
    worlds = [build_world(WorldConfig(accounts=12, as_of=day)) for day in days]
    for before, after in itertools.pairwise(worlds):
        cutoff = before.config.as_of - dt.timedelta(days=3)
        assert _digest(_older_rows(before, cutoff)) == _digest(_older_rows(after, cutoff)), after.config.as_of
    assert any(label["kind"] == "drift" for w in worlds for label in w.anomalies.to_pylist())


def test_month_close_credit_appears_on_the_fourth() -> None:
    before = build_world(WorldConfig(accounts=12, as_of=dt.date(2026, 3, 3)))
    after = build_world(WorldConfig(accounts=12, as_of=dt.date(2026, 3, 4)))
    query = (
        "SELECT count(*), sum(unblended_cost) FROM l "
        "WHERE record_type = 'Credit' AND usage_date = DATE '2026-02-28'"
    )
    assert _sql(query, l=before.ledger)[0] == (0, None)
    count, total = _sql(query, l=after.ledger)[0]
    assert count > 0 and total < 0
    # January's credit existed in both; everything before the restated window is otherwise identical.
    jan = "SELECT sum(unblended_cost) FROM l WHERE record_type = 'Credit' AND usage_date = DATE '2026-01-31'"
    assert _sql(jan, l=before.ledger)[0][0] == _sql(jan, l=after.ledger)[0][0] < 0
    cutoff = dt.date(2026, 2, 28)
    assert _digest(_older_rows(before, cutoff)) == _digest(_older_rows(after, cutoff))
    # The credit is the account's rate times its February usage, spread over the services used.
    per_account = _sql(
        "SELECT account_id, sum(unblended_cost) FILTER (record_type = 'Credit') / "
        "sum(unblended_cost) FILTER (record_type = 'Usage') FROM l "
        "WHERE usage_date BETWEEN DATE '2026-02-01' AND DATE '2026-02-28' GROUP BY 1 "
        "HAVING count(*) FILTER (record_type = 'Credit') > 0",
        l=after.ledger,
    )
    assert per_account and all(Decimal("-0.13") < ratio < Decimal("-0.019") for _, ratio in per_account)


def test_savings_plans_amortize_and_discounts_lower_net(world: World) -> None:
    rows = _sql(
        "SELECT account_id, sum(unblended_cost), sum(amortized_cost) FROM l "
        "WHERE usage_date >= DATE '2026-02-01' "
        "AND usage_date < DATE '2026-03-01' AND account_id IN (SELECT account_id FROM l WHERE record_type = "
        "'SavingsPlanCoveredUsage') GROUP BY 1",
        l=world.ledger,
    )
    assert rows
    for _, unblended, amortized in rows:  # a fully used commitment: the month matches to rounding
        assert abs(unblended - amortized) < Decimal("0.0001")
    covered = _sql(
        "SELECT sum(unblended_cost), sum(amortized_cost) FROM l "
        "WHERE record_type = 'SavingsPlanCoveredUsage'",
        l=world.ledger,
    )[0]
    assert covered[1] == pytest.approx(covered[0] * Decimal(str(cat.COMPUTE_SP_RATE)), rel=Decimal("1e-6"))
    negation = _sql(
        "SELECT sum(unblended_cost), sum(amortized_cost) FROM l WHERE record_type = 'SavingsPlanNegation'",
        l=world.ledger,
    )[0]
    assert negation == (-covered[0], 0)
    fees = _sql(
        "SELECT extract(day FROM usage_date), sum(unblended_cost) FROM l "
        "WHERE record_type IN ('SavingsPlanRecurringFee', 'RIFee') GROUP BY 1",
        l=world.ledger,
    )
    assert {int(day) for day, total in fees if total} == {1}
    ri = _sql(
        "SELECT sum(unblended_cost), sum(amortized_cost), sum(blended_cost) FROM l "
        "WHERE record_type = 'DiscountedUsage'",
        l=world.ledger,
    )[0]
    assert ri[0] == 0 and ri[1] > 0 and ri[2] == ri[1]
    discounted = _sql(
        "SELECT account_id, sum(unblended_cost), sum(net_unblended_cost) FROM l WHERE record_type = 'Usage' "
        "GROUP BY 1 HAVING sum(net_unblended_cost) < sum(unblended_cost)",
        l=world.ledger,
    )
    assert discounted
    for _, unblended, net in discounted:
        assert Decimal("0.89") < net / unblended < Decimal("0.98")
    plain = _sql(
        "SELECT count(*) FROM l WHERE record_type = 'Usage' AND blended_cost <> unblended_cost",
        l=world.ledger,
    )
    assert plain == [(0,)]


def test_anomaly_labels_match_the_injected_delta(world: World) -> None:
    labels = world.anomalies.to_pylist()
    counts = {kind: sum(1 for a in labels if a["kind"] == kind) for kind in ANOMALY_KINDS}
    assert all(2 <= n <= 8 for n in counts.values()), counts
    assert any(a["end_date"] >= AS_OF - dt.timedelta(days=90) for a in labels)
    assert len({a["start_date"].month for a in labels}) >= 6  # spread in time
    baseline = build_baseline_world(WorldConfig(as_of=AS_OF))
    query = (
        "SELECT coalesce(sum(unblended_cost), 0) FROM l WHERE account_id = ? AND service = ? AND region = ? "
        "AND usage_type = ? AND usage_date BETWEEN ? AND ?"
    )
    con = duckdb.connect()
    con.register("w", world.ledger)
    con.register("b", baseline.ledger)
    con.register("a", world.anomalies)
    for a in labels:
        params = [a["account_id"], a["service"], a["region"], a["usage_type"], a["start_date"], a["end_date"]]
        actual = con.execute(query.replace(" l ", " w "), params).fetchone()[0]
        base = con.execute(query.replace(" l ", " b "), params).fetchone()[0]
        assert actual - base == a["impact_usd"], a
        if a["kind"] == "drop":
            assert a["impact_usd"] < 0
        else:
            assert a["impact_usd"] > 0
        if a["kind"] == "new_service":
            assert base == 0 and a["service"] == cat.SVC_SAGEMAKER
        if a["kind"] == "spike":
            assert a["start_date"] == a["end_date"]
    # No two labels overlap on the same series.
    by_series: dict[tuple, list[tuple[dt.date, dt.date]]] = {}
    for a in labels:
        by_series.setdefault((a["account_id"], a["service"], a["region"], a["usage_type"]), []).append(
            (a["start_date"], a["end_date"])
        )
    for spans in by_series.values():
        spans.sort()
        assert all(prev[1] < nxt[0] for prev, nxt in itertools.pairwise(spans))
    # Outside the labelled series the two worlds bill the same usage.
    rest = (
        "SELECT sum(unblended_cost) FROM {t} WHERE record_type = 'Usage' "
        "AND (account_id, service, region, usage_type) "
        "NOT IN (SELECT (account_id, service, region, usage_type) FROM a)"
    )
    assert con.execute(rest.format(t="w")).fetchone() == con.execute(rest.format(t="b")).fetchone()


def test_organisation_suspended_and_late_joiners(world: World) -> None:
    accounts = world.accounts.to_pylist()
    suspended = [a for a in accounts if a["status"] == "SUSPENDED"]
    assert len(suspended) == 1 and suspended[0]["suspended_at"] is not None
    gone = suspended[0]
    con = duckdb.connect()
    con.register("l", world.ledger)
    before, after = con.execute(
        "SELECT count(*) FILTER (usage_date < $1), count(*) FILTER (usage_date >= $1) "
        "FROM l WHERE account_id = $2",
        [gone["suspended_at"], gone["account_id"]],
    ).fetchone()
    assert before > 0 and after == 0
    assert gone["account_id"] not in set(world.resources["account_id"].to_pylist())
    late = [a for a in accounts if a["joined_at"].date() > world.history_start]
    assert late
    for a in late:
        first = _sql(f"SELECT min(usage_date) FROM l WHERE account_id = '{a['account_id']}'", l=world.ledger)[
            0
        ][0]
        assert first == a["joined_at"].date()
    assert all(a["status"] == "ACTIVE" for a in accounts if a is not gone)
    assert all(json.loads(a["tags"]) for a in accounts)


def test_tag_dirt_of_every_kind(world: World) -> None:
    resources = world.resources.to_pylist()
    tags = [json.loads(r["tags"]) for r in resources]
    assert any(r["never_tagged"] for r in resources)
    assert any(r["missing_keys"] and not r["never_tagged"] for r in resources)
    assert any(r["case_variant_keys"] for r in resources)
    assert any(r["invalid_values"] for r in resources)
    assert any(r["hostile"] for r in resources)
    all_values = {v for t in tags for v in t.values()}
    assert {" prod", "PROD", "Prod"} & all_values
    spend_values = set(world.workload_tags["value"].to_pylist())
    assert set(HOSTILE_TAG_VALUES) <= spend_values
    for r, t in zip(resources, tags, strict=True):
        facts = tag_facts(t)
        assert (
            r["never_tagged"],
            r["missing_keys"],
            r["case_variant_keys"],
            r["invalid_values"],
            r["hostile"],
        ) == (
            facts["never_tagged"],
            facts["missing_keys"],
            facts["case_variant_keys"],
            facts["invalid_values"],
            facts["hostile"],
        )
        assert len(t) <= cat.MAX_TAGS_PER_RESOURCE
        assert all(len(k) <= cat.MAX_TAG_KEY_LEN and not k.lower().startswith("aws:") for k in t)
        assert all(len(v) <= cat.MAX_TAG_VALUE_LEN for v in t.values())
    assert max(len(v) for v in all_values | spend_values) == 256
    # Coverage by resource count and by spend differ (spend is tied to workloads, not to resource count).
    by_count = sum(1 for t in tags if "Environment" in t) / len(tags)
    totals = world.truth_totals("MONTHLY", ["TAG:Environment"]).to_pylist()
    tagged = sum(r["amount"] for r in totals if r["TAG:Environment"] != "")
    by_spend = float(tagged / sum(r["amount"] for r in totals))
    assert 0.3 < by_count < 0.98 and 0.3 < by_spend < 0.98
    assert abs(by_count - by_spend) > 0.005


def test_resources_are_consistent_with_spend(world: World) -> None:
    r = world.resources.to_pylist()
    kinds = {x["resource_type"] for x in r}
    assert kinds == {
        "ec2:instance",
        "ec2:volume",
        "ec2:snapshot",
        "ec2:elastic-ip",
        "s3:bucket",
        "rds:db",
        "lambda:function",
        "dynamodb:table",
        # Priced from the list-price file, not billed by the synthetic ledger (world/idle.py).
        "elasticloadbalancing:loadbalancer",
        "ec2:natgateway",
        "ec2:image",
    }
    states = {(x["resource_type"], x["state"]) for x in r}
    assert {
        ("ec2:instance", "stopped"),
        ("ec2:volume", "available"),
        ("ec2:elastic-ip", "unassociated"),
    } <= states
    ages = [(AS_OF - x["created_at"].date()).days for x in r if x["resource_type"] == "ec2:snapshot"]
    assert any(a > 365 for a in ages) and any(90 < a <= 365 for a in ages) and any(a <= 90 for a in ages)
    running = [x for x in r if x["resource_type"] == "ec2:instance" and x["state"] == "running"]
    over = sum(1 for x in running if x["cpu_utilization_p95"] < 25) / len(running)
    assert 0.08 < over < 0.35
    assert all(x["cpu_utilization_p95"] is None for x in r if x["state"] == "stopped")
    keys = {x["resource_key"] for x in r}
    assert len(keys) == len(r)
    assert all(x["attached_to"] in keys for x in r if x["attached_to"])
    buckets = [x["name"] for x in r if x["resource_type"] == "s3:bucket"]
    assert len(set(buckets)) == len(buckets)
    assert all(
        len(b) <= 63 and b == b.lower() and x["account_id"] in b
        for b, x in zip(buckets, [y for y in r if y["resource_type"] == "s3:bucket"], strict=True)
    )
    for x in r:
        if x["resource_type"].startswith(("ec2:", "elasticloadbalancing:")):  # ids: moto's, at seeding
            assert x["resource_id"] is None and x["arn"] is None
        else:
            assert x["resource_id"] and x["arn"].startswith("arn:aws:")
    # EC2 compute spend of a workload without Savings Plans = running instances x their price x 24h (+-noise);
    # an instance's usage type says its tenancy, its price its platform (Linux list price, or more).
    con = duckdb.connect()
    con.register("l", world.ledger)
    day = dt.date(2026, 3, 11)  # a Wednesday, before the restated window
    anomalous = {(a["account_id"], a["usage_type"]) for a in world.anomalies.to_pylist()}
    checked = 0
    expected: dict[tuple[str, str], float] = {}
    for x in running:
        assert x["monthly_cost_usd"] >= round(cat.ec2_hourly(x["instance_type"], x["region"]) * 730, 2)
        key = (x["workload_id"], x["usage_type"])
        expected[key] = expected.get(key, 0.0) + x["monthly_cost_usd"] / 730 * 24
    for (wl, ut), want in expected.items():
        got = con.execute(
            "SELECT sum(unblended_cost) FILTER (record_type IN ('Usage', 'SavingsPlanCoveredUsage')) FROM l "
            "WHERE workload_id = ? AND usage_type = ? AND usage_date = ?",
            [wl, ut, day],
        ).fetchone()[0]
        if (wl[3:15], ut) in anomalous:
            continue
        assert float(got) == pytest.approx(want, rel=0.06)
        checked += 1
    assert checked >= 10


def test_weekly_seasonality_on_compute(world: World) -> None:
    weekday, weekend = _sql(
        "SELECT avg(c) FILTER (isodow(d) <= 5), avg(c) FILTER (isodow(d) >= 6) FROM (SELECT usage_date d, "
        "sum(unblended_cost) c FROM l WHERE service = 'Amazon Elastic Compute Cloud - Compute' "
        "AND record_type IN ('Usage', 'SavingsPlanCoveredUsage') "
        "AND usage_date BETWEEN DATE '2025-09-01' AND DATE '2026-02-28' GROUP BY 1)",
        l=world.ledger,
    )[0]
    assert weekend < weekday * 0.95


def test_month_start_fees_and_tax(world: World) -> None:
    rows = _sql(
        "SELECT record_type, service, region, count(DISTINCT extract(day FROM usage_date)) FROM l "
        "WHERE record_type IN ('Tax', 'Recurring') GROUP BY ALL",
        l=world.ledger,
    )
    assert ("Tax", "Tax", "global", 1) in rows
    assert ("Recurring", "AWS Support (Business)", "global", 1) in rows
    refunds = _sql(
        "SELECT count(*), max(unblended_cost) FROM l WHERE record_type = 'Refund'", l=world.ledger
    )[0]
    assert refunds[0] > 0 and refunds[1] < 0


def test_truth_totals(world: World) -> None:
    total = _sql("SELECT sum(amortized_cost) FROM l", l=world.ledger)[0][0]
    monthly = world.truth_totals("MONTHLY", [], "AmortizedCost")
    assert monthly.column_names == ["period_start", "amount"]
    assert monthly.num_rows == 14 and sum(monthly["amount"].to_pylist()) == total
    daily = world.truth_totals("DAILY", ["LINKED_ACCOUNT", "SERVICE"])
    assert daily.column_names == ["period_start", "LINKED_ACCOUNT", "SERVICE", "amount"]
    assert sum(daily["amount"].to_pylist()) == _sql("SELECT sum(unblended_cost) FROM l", l=world.ledger)[0][0]
    tagged = world.truth_totals("MONTHLY", ["TAG:Environment", "RECORD_TYPE"]).to_pylist()
    untagged = {r["RECORD_TYPE"] for r in tagged if r["TAG:Environment"] == ""}
    assert {"Tax", "Credit", "Usage"} <= untagged  # account-level charges carry no workload tags
    assert any(r["TAG:Environment"] == "prod" for r in tagged)
    with pytest.raises(ValueError):
        world.truth_totals("HOURLY")
    with pytest.raises(ValueError):
        world.truth_totals("DAILY", ["AZ"])


def test_with_resource_ids_returns_a_new_world(world: World) -> None:
    instance = next(r for r in world.resources.to_pylist() if r["resource_type"] == "ec2:instance")
    arn = f"arn:aws:ec2:{instance['region']}:{instance['account_id']}:instance/i-0123456789abcdef0"
    seeded = world.with_resource_ids({instance["resource_key"]: ("i-0123456789abcdef0", arn)})
    row = next(r for r in seeded.resources.to_pylist() if r["resource_key"] == instance["resource_key"])
    assert (row["resource_id"], row["arn"]) == ("i-0123456789abcdef0", arn)
    assert instance["resource_id"] is None  # the original World is untouched
    assert seeded.ledger is world.ledger
    assert seeded.resources.schema == world.resources.schema
    assert pc.count(seeded.resources["arn"]).as_py() == pc.count(world.resources["arn"]).as_py() + 1


def test_budgets_some_below_actual(world: World) -> None:
    budgets = world.budgets.to_pylist()
    assert len(budgets) >= 2
    spend = dict(
        _sql(
            "SELECT account_id, sum(unblended_cost) FROM l WHERE usage_date >= DATE '2026-02-01' "
            "AND usage_date < DATE '2026-03-01' GROUP BY 1",
            l=world.ledger,
        )
    )
    assert any(b["limit_usd"] < spend[b["account_id"]] for b in budgets)
    assert any(b["limit_usd"] > spend[b["account_id"]] for b in budgets)


def test_resources_scale_with_accounts() -> None:
    small = build_world(WorldConfig(accounts=6, as_of=AS_OF))
    large = build_world(WorldConfig(accounts=24, as_of=AS_OF))
    ratio = large.resources.num_rows / small.resources.num_rows
    assert 2.5 < ratio < 6
    active = sum(1 for s in large.accounts["status"].to_pylist() if s == "ACTIVE") - 1
    per_account_region = large.resources.num_rows / (active * 3)
    assert 8 < per_account_region < 20  # with load balancers, NAT gateways and AMIs
    # The first accounts are the same whatever the account count.
    assert large.accounts["account_id"].to_pylist()[:7] == small.accounts["account_id"].to_pylist()


def test_list_prices_cover_the_catalogue() -> None:
    prices = cat.list_prices()
    assert prices["as_of"] and "list prices" in prices["source"]
    for spec in prices["ec2_instance_hourly"].values():
        assert set(spec["price"]) == {"us-east-1", "us-west-2", "eu-west-1"}
    assert cat.ec2_hourly("m5.large", "us-east-1") == 0.096
    assert cat.ebs_gb_month("gp3", "us-east-1") == 0.08
    assert cat.rds_hourly("db.t3.medium", "eu-west-1") == 0.072


@pytest.mark.slow
def test_thousand_accounts_smoke() -> None:
    """The 1,000-account world builds whole (its build time is bench/scale_bench.py's to measure)."""
    big = build_world(WorldConfig(accounts=1000, as_of=AS_OF))
    assert big.accounts.num_rows == 1001
    assert pc.sum(pc.equal(big.accounts["status"], "SUSPENDED")).as_py() == 1
    assert 25_000 < big.resources.num_rows < 60_000
    assert big.anomalies.num_rows > 500
    assert len(set(big.accounts["account_id"].to_pylist())) == 1001


def test_stopped_instances_were_stopped_before_they_could_bill(world: World) -> None:
    """A stopped instance bills no compute on any observed day: stopped before the history, or at creation."""
    start = dt.datetime.combine(world.history_start, dt.time(0), dt.UTC)
    rows = world.resources.to_pylist()
    stopped = [x for x in rows if x["resource_type"] == "ec2:instance" and x["state"] == "stopped"]
    assert stopped and all(x["stopped_at"] is not None for x in stopped)
    assert all(x["stopped_at"] is None for x in rows if x not in stopped)
    for x in stopped:
        assert x["created_at"] <= x["stopped_at"]
        assert x["stopped_at"] < start or x["stopped_at"] == x["created_at"]
    assert len({x["stopped_at"] for x in stopped}) == len(stopped)  # keyed per resource, not one date
    assert all(x["monthly_cost_usd"] == 0.0 for x in stopped)
