"""marts.recommendations from a full sandbox ingest: each waste kind with its dollars equals the sandbox's
truth, Cost Explorer's recommendations pass through unchanged, and first-seen dates survive a re-run."""

import datetime as dt
import shutil
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from finops_pipeline.defs.recommendations.marts import (
    STOPPED_INSTANCE_MIN_DAYS,
    load_prices,
    write_recommendations,
)
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_sandbox import catalog
from finops_sandbox.world.idle import LAMBDA_MEMORY_MB, PC_ALIAS

MAX_AGE = 90
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def database(ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("recommendations") / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, target)
    with duckdb.connect(str(target)) as conn:
        write_recommendations(conn, SANDBOX_AS_OF, MAX_AGE)
    return target


def mart(conn: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cursor = conn.execute("SELECT * FROM marts.recommendations")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# The idle rules' windows (days before today) by world resource type, as lib/idle_rules.py documents them.
IDLE_DAYS = {"elasticloadbalancing:loadbalancer": 7, "ec2:natgateway": 14, "rds:db": 7}
IDLE_KIND = {
    "elasticloadbalancing:loadbalancer": "idle_load_balancer",
    "ec2:natgateway": "idle_nat_gateway",
    "rds:db": "idle_rds_instance",
}
PC_KIND = "idle_lambda_provisioned_concurrency"
PC_DAYS = 14  # lib/idle_rules.py: utilization peak under 5% every day of the last 14
SOURCE = {kind: "resource_activity" for kind in (*IDLE_KIND.values(), PC_KIND)}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), dt.UTC)


def _idle_usd(r: dict[str, Any]) -> Decimal:
    """730 hours at the list price of what an idle resource bills by the hour (the world's type, class and
    region; databases: the Single-AZ instance hour, storage left out)."""
    prices = catalog.list_prices()
    hourly = {
        "elasticloadbalancing:loadbalancer": lambda: prices["elb_hourly"][r["instance_type"]][r["region"]],
        "ec2:natgateway": lambda: prices["nat_gateway_hourly"][r["region"]],
        "rds:db": lambda: prices["rds_instance_hourly"][r["instance_type"]][r["region"]],
    }[r["resource_type"]]()
    return Decimal(str(hourly)) * 730  # exact: summed before rounding, as the mart does


def _provisioned_concurrency_usd(r: dict[str, Any]) -> Decimal:
    """Allocated concurrency × memory GB × 730 h of seconds × the list price per GB-second, to the
    micro-dollar the mart's DECIMAL(18, 6) holds (the exact product has 8 decimals)."""
    price = catalog.list_prices()["lambda_provisioned_concurrency_gb_second"]["price"][r["region"]]
    gb = Decimal(LAMBDA_MEMORY_MB) / 1024
    usd = r["provisioned_concurrency"] * gb * 730 * 3600 * Decimal(str(price))
    return usd.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def truth_unused_concurrency(world: Any) -> dict[str, Decimal]:
    """Qualified ARN (``<function ARN>:live``) -> monthly USD of the world's forgotten provisioned
    concurrency configured before the rule's window began."""
    cutoff = _midnight(SANDBOX_AS_OF - dt.timedelta(PC_DAYS))
    return {
        f"{r['arn']}:{PC_ALIAS}": _provisioned_concurrency_usd(r)
        for r in world.resources.to_pylist()
        if r["resource_type"] == "lambda:function"
        and r["provisioned_concurrency"]
        and r["idle"]
        and r["created_at"] < cutoff
    }


def truth_waste(world: Any) -> dict[str, dict[str, Decimal]]:
    """kind -> resource ARN -> monthly USD, straight from the world's resources."""
    resources = world.resources.to_pylist()
    by_key = {r["resource_key"]: r for r in resources}
    cutoff = _midnight(SANDBOX_AS_OF - dt.timedelta(days=MAX_AGE))
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    stopped: dict[str, Decimal] = defaultdict(Decimal)
    ebs = catalog.list_prices()["ebs_gb_month"]
    for r in resources:
        usd = Decimal(str(r["monthly_cost_usd"]))
        if r["resource_type"] == "ec2:volume":  # exact, as the mart sums it: the world rounds to the cent
            usd = Decimal(str(r["size_gb"])) * Decimal(str(ebs[r["volume_type"]][r["region"]]))
        kind = r["resource_type"]
        old_enough = kind in IDLE_DAYS and r["created_at"] < _midnight(
            SANDBOX_AS_OF - dt.timedelta(IDLE_DAYS[kind])
        )
        if r["idle"] and old_enough:
            out[IDLE_KIND[kind]][r["arn"]] = _idle_usd(r)
        if kind == "ec2:volume" and r["state"] == "available":
            out["unattached_ebs_volume"][r["arn"]] = usd
        elif kind == "ec2:elastic-ip" and r["state"] == "unassociated":
            out["unassociated_elastic_ip"][r["arn"]] = usd
        elif kind == "ec2:image" and r["created_at"] < cutoff:
            out["old_ami"][r["arn"]] = usd
        elif kind == "ec2:snapshot" and r["created_at"] < cutoff:
            backs_an_image = r["attached_to"] and by_key[r["attached_to"]]["resource_type"] == "ec2:image"
            if not backs_an_image:  # counted with its AMI: it cannot be deleted while the AMI is registered
                out["old_snapshot"][r["arn"]] = usd
        if r["resource_type"] == "ec2:volume" and r["attached_to"]:
            instance = by_key[r["attached_to"]]
            stopped_days = (
                (SANDBOX_AS_OF - instance["stopped_at"].date()).days if instance["stopped_at"] else 0
            )
            if instance["state"] == "stopped" and stopped_days >= STOPPED_INSTANCE_MIN_DAYS:
                stopped[instance["arn"]] += usd
    out["stopped_instance"] = dict(stopped)
    out[PC_KIND] = truth_unused_concurrency(world)
    return out


def test_each_waste_kind_with_its_dollars_equals_truth(database: Path, sandbox: Any) -> None:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = mart(conn)
    truth = truth_waste(sandbox.world)
    for kind, expected in truth.items():
        got = {r["resource_arn"]: r for r in rows if r["kind"] == kind}
        assert expected, kind  # the sandbox has every kind
        assert set(got) == set(expected), kind
        for arn_, usd in expected.items():
            saving = got[arn_]["estimated_monthly_savings_usd"]
            assert saving.quantize(CENT) == usd.quantize(CENT), (kind, arn_)
            assert got[arn_]["source"] == SOURCE.get(kind, "ec2_inventory")
            assert got[arn_]["first_seen_date"] == SANDBOX_AS_OF
            assert "2025-06-01" in got[arn_]["estimation_method"]
        total = sum(r["estimated_monthly_savings_usd"] for r in got.values())
        assert total.quantize(CENT) == sum(expected.values()).quantize(CENT), kind
    eip = next(r for r in rows if r["kind"] == "unassociated_elastic_ip")
    price = load_prices()["public_ipv4_hourly"]["idle"][eip["region"]]
    assert eip["estimated_monthly_savings_usd"] == Decimal(str(price)) * 730


def test_per_account_waste_dollars_equal_truth(database: Path, sandbox: Any) -> None:
    with duckdb.connect(str(database), read_only=True) as conn:
        got = dict(
            conn.execute(
                "SELECT account_id, round(sum(estimated_monthly_savings_usd), 2) FROM marts.recommendations "
                "WHERE source <> 'cost_explorer' GROUP BY 1"
            ).fetchall()
        )
    expected: dict[str, Decimal] = defaultdict(Decimal)
    account_of = {r["arn"]: r["account_id"] for r in sandbox.world.resources.to_pylist()}
    account_of |= {arn_: arn_.split(":")[4] for arn_ in truth_unused_concurrency(sandbox.world)}
    for by_arn in truth_waste(sandbox.world).values():
        for arn_, usd in by_arn.items():
            expected[account_of[arn_]] += usd
    # DuckDB's round() takes halves away from zero (0.0225 $/h × 730 h = $16.425 exactly).
    assert got == {account: usd.quantize(CENT, rounding=ROUND_HALF_UP) for account, usd in expected.items()}


def test_unused_provisioned_concurrency_is_priced_and_busy_ones_are_not(database: Path, sandbox: Any) -> None:
    """Every forgotten config is found at allocated × 0.125 GB × 2,628,000 s × $0.0000041667; a config whose
    utilization peaks at 30% or more is listed and measured, and not flagged."""
    with duckdb.connect(str(database), read_only=True) as conn:
        flagged = {r["resource_arn"]: r for r in mart(conn) if r["kind"] == PC_KIND}
        listed = dict(
            conn.execute("SELECT resource_arn, allocated FROM raw.lambda_provisioned_concurrency").fetchall()
        )
        peaks = dict(
            conn.execute(
                "SELECT resource_arn, list_max(list_transform(daily, lambda d: d.value)) "
                "FROM raw.cloudwatch_daily_activity WHERE subject = 'lambda_provisioned_concurrency'"
            ).fetchall()
        )
    functions = [
        r
        for r in sandbox.world.resources.to_pylist()
        if r["resource_type"] == "lambda:function" and r["provisioned_concurrency"]
    ]
    assert listed == {f"{r['arn']}:{PC_ALIAS}": r["provisioned_concurrency"] for r in functions}
    busy = [f"{r['arn']}:{PC_ALIAS}" for r in functions if not r["idle"]]
    assert busy and not set(busy) & set(flagged)
    assert all(peaks[arn_] >= 0.3 for arn_ in busy)
    expected = truth_unused_concurrency(sandbox.world)
    assert expected and set(flagged) == set(expected)
    for arn_, usd in expected.items():
        assert flagged[arn_]["estimated_monthly_savings_usd"].quantize(CENT) == usd.quantize(CENT)
        assert flagged[arn_]["action"] == "remove_provisioned_concurrency"
        assert "× 0.125 GB × 2628000 s (730 h) × $4.1667e-06/GB-s" in flagged[arn_]["estimation_method"]


def test_cost_explorer_recommendations_pass_through(database: Path) -> None:
    with duckdb.connect(str(database), read_only=True) as conn:
        raw = conn.execute(
            "SELECT source, count(*), sum(estimated_monthly_savings) FROM raw.ce_recommendations "
            "WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_recommendations) "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
        got = conn.execute(
            "SELECT kind, count(*), sum(estimated_monthly_savings_usd) FROM marts.recommendations "
            "WHERE source = 'cost_explorer' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert {kind for kind, _, _ in raw} == {"reserved_instances", "rightsizing", "savings_plans"}
    assert got == raw


def test_first_seen_survives_a_rerun_and_gone_resources_leave(database: Path, tmp_path: Path) -> None:
    copy = tmp_path / "finops.duckdb"
    shutil.copyfile(database, copy)
    later = SANDBOX_AS_OF + dt.timedelta(days=3)
    with duckdb.connect(str(copy)) as conn:
        gone = conn.execute(
            "SELECT resource_arn FROM marts.recommendations WHERE kind = 'unattached_ebs_volume' LIMIT 1"
        ).fetchall()[0][0]
        conn.execute("DELETE FROM raw.ec2_volumes WHERE resource_arn = ?", [gone])
        before = [r for r in mart(conn) if r["kind"] != "old_snapshot"]
        write_recommendations(conn, later, MAX_AGE)
        rows = mart(conn)
    assert gone not in {r["resource_arn"] for r in rows}
    assert all(r["snapshot_date"] == later for r in rows)
    kept = [r for r in rows if r["kind"] != "old_snapshot"]
    assert len(kept) == len(before) - 1
    assert {r["first_seen_date"] for r in kept} == {SANDBOX_AS_OF}
    # The age cut-off moved three days: snapshots that just crossed it are new today, the others are not.
    snapshots = [r for r in rows if r["kind"] == "old_snapshot"]
    assert {r["first_seen_date"] for r in snapshots} <= {SANDBOX_AS_OF, later}
    assert any(r["first_seen_date"] == SANDBOX_AS_OF for r in snapshots)


def test_stopped_instances_say_since_when_and_wait_the_minimum(
    database: Path, tmp_path: Path, sandbox: Any
) -> None:
    """Says "stopped N days" from the stop time; a recent stop is not waste yet, unknown is reviewed."""
    stopped_at = {r["arn"]: r["stopped_at"] for r in sandbox.world.resources.to_pylist() if r["stopped_at"]}
    copy = tmp_path / "finops.duckdb"
    shutil.copyfile(database, copy)
    with duckdb.connect(str(copy)) as conn:
        rows = [r for r in mart(conn) if r["kind"] == "stopped_instance"]
        assert rows and all(r["action"] == "snapshot_and_terminate_instance" for r in rows)
        for r in rows:
            since = stopped_at[r["resource_arn"]].date()
            assert f"stopped {(SANDBOX_AS_OF - since).days} days (since {since})" in r["detail"]
        recent, unknown, edge = (r["resource_arn"] for r in rows[:3])
        for arn_, days in ((recent, STOPPED_INSTANCE_MIN_DAYS - 1), (edge, STOPPED_INSTANCE_MIN_DAYS)):
            conn.execute(
                "UPDATE raw.ec2_instances SET stopped_since = ? WHERE resource_arn = ?",
                [dt.datetime.combine(SANDBOX_AS_OF - dt.timedelta(days=days), dt.time(23), dt.UTC), arn_],
            )
        conn.execute("UPDATE raw.ec2_instances SET stopped_since = NULL WHERE resource_arn = ?", [unknown])
        write_recommendations(conn, SANDBOX_AS_OF, MAX_AGE)
        after = {r["resource_arn"]: r for r in mart(conn) if r["kind"] == "stopped_instance"}
    assert recent not in after  # 13 days: not waste yet
    assert after[edge]["action"] == "snapshot_and_terminate_instance"
    assert f"stopped {STOPPED_INSTANCE_MIN_DAYS} days" in after[edge]["detail"]
    assert after[unknown]["action"] == "review_stopped_instance"
    assert after[unknown]["detail"].startswith("instance stopped since an unknown time")
    assert after[unknown]["estimated_monthly_savings_usd"] > 0
    assert set(after) == {r["resource_arn"] for r in rows} - {recent}
