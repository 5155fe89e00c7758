"""A recommendation's identity is every field that tells an offer apart, so near-duplicate offers stay apart
and re-running ``ce_recommendations`` and ``recommendations`` never multiplies rows (issue #13, item 2)."""

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.defs.ingest.recommendations import recommendation_identity
from finops_pipeline.defs.recommendations.marts import write_recommendations
from finops_pipeline.defs.tables.checks import build_table_checks
from finops_pipeline.warehouse import WarehouseResource
from finops_pipeline_tests.conftest import SANDBOX_AS_OF
from finops_pipeline_tests.pipeline_fixtures import run_pipeline
from finops_pipeline_tests.sandbox.offer_truth import EC2, OFFER_FIELDS, RDS, ledger_truth

RUNS = 4
MART_SQL = """
SELECT count(*), count(DISTINCT recommendation_id), sum(estimated_monthly_savings_usd)
FROM marts.recommendations
"""
RDS_OFFER = {
    "DatabaseEngine": "MySQL",
    "DeploymentOption": "Single-AZ",
    "LicenseModel": "No license required",
}
EC2_OFFER = {"Platform": "Linux/UNIX", "Tenancy": "shared"}
VALUES = {
    "service": RDS,
    "account_id": "123456789012",
    "region": "us-east-1",
    "instance_type": "db.t3.medium",
}


def rid(offer: dict[str, Any], **values: Any) -> str:
    return recommendation_identity(
        "reserved_instances", "purchase_reserved_instances", offer, **VALUES | values
    )[0]


@pytest.mark.parametrize(
    ("base", "change"),
    [
        (RDS_OFFER, {"DatabaseEngine": "PostgreSQL"}),
        (RDS_OFFER, {"DeploymentOption": "Multi-AZ"}),
        (RDS_OFFER, {"LicenseModel": "Bring your own license"}),
        (RDS_OFFER, {"DatabaseEdition": "Standard Two"}),
        (EC2_OFFER, {"Platform": "Windows"}),
        (EC2_OFFER, {"Tenancy": "dedicated"}),
        (EC2_OFFER, {"AvailabilityZone": "us-east-1a"}),
    ],
)
def test_ids_differ_when_only_one_offer_attribute_differs(
    base: dict[str, Any], change: dict[str, Any]
) -> None:
    assert rid(base) == rid(dict(base))  # stable: the same offer always has the same id
    assert rid(base) != rid(base | change)


@pytest.mark.parametrize(
    "change",
    [
        {"region": "us-west-2"},
        {"term": "THREE_YEARS"},
        {"payment_option": "ALL_UPFRONT"},
        {"lookback_days": 60},
    ],
)
def test_ids_differ_per_region_term_payment_and_lookback(change: dict[str, Any]) -> None:
    assert rid(RDS_OFFER) != rid(RDS_OFFER, **change)


def test_savings_plan_ids_differ_per_type() -> None:
    def sp(offer: dict[str, Any]) -> str:
        return recommendation_identity("savings_plans", "purchase_savings_plan", offer, account_id="1")[0]

    assert sp({"SavingsPlansType": "COMPUTE_SP"}) != sp({"SavingsPlansType": "EC2_INSTANCE_SP"})
    ec2_sp = {"SavingsPlansType": "EC2_INSTANCE_SP", "Region": "us-east-1"}
    assert sp(ec2_sp | {"InstanceFamily": "m5"}) != sp(ec2_sp | {"InstanceFamily": "c5"})


@pytest.fixture(scope="module")
def reruns(
    ingested_warehouse: Path, tmp_path_factory: pytest.TempPathFactory, sandbox: Any
) -> tuple[Path, list[tuple[int, int, Decimal, bool]]]:
    """The ingested warehouse, then ``ce_recommendations`` + ``recommendations`` run RUNS times: after each
    run (rows, distinct ids, total savings, every check passed)."""
    from finops_pipeline_tests.conftest import set_aws_env
    from finops_pipeline_tests.pipeline_fixtures import pipeline_env

    database = tmp_path_factory.mktemp("reruns") / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    monkeypatch = pytest.MonkeyPatch()
    after = []
    try:
        set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database), database.parent)
        for _ in range(RUNS):
            result = run_pipeline(assets=["ce_recommendations", "recommendations"])
            assert result.success
            checks = result.get_asset_check_evaluations()
            with duckdb.connect(str(database), read_only=True) as conn:
                rows, ids, savings = conn.execute(MART_SQL).fetchall()[0]
            after.append((rows, ids, savings, bool(checks) and all(c.passed for c in checks)))
    finally:
        monkeypatch.undo()
    return database, after


def test_reruns_leave_the_same_rows_and_savings(reruns: tuple[Path, list]) -> None:
    _, after = reruns
    rows, ids, savings, passed = after[0]
    assert rows == ids > 0 and passed
    assert after == [(rows, ids, savings, True)] * RUNS


def test_near_duplicate_offers_are_rows_with_the_worlds_savings(
    reruns: tuple[Path, list], sandbox: Any
) -> None:
    database, _ = reruns
    with duckdb.connect(str(database), read_only=True) as conn:
        raw = conn.execute(
            "SELECT r.recommendation_id, r.service, r.account_id, r.region, r.instance_type, r.offer, "
            "m.estimated_monthly_savings_usd, m.detail FROM raw.ce_recommendations r "
            "JOIN marts.recommendations m USING (recommendation_id) "
            "WHERE r.source = 'reserved_instances' AND r.snapshot_date = ?",
            [SANDBOX_AS_OF],
        ).fetchall()
    for service in (EC2, RDS):
        got = {}
        for _id, svc, account, region, itype, offer, savings, _detail in raw:
            if svc == service:
                attributes = json.loads(offer)
                got[(account, region, itype, *(attributes.get(f) for f in OFFER_FIELDS))] = f"{savings:.2f}"
        assert got == ledger_truth(sandbox.world, service)
    by_offer: dict[tuple, set[str]] = {}
    for _id, svc, account, region, itype, _offer, _savings, _detail in raw:
        by_offer.setdefault((svc, account, region, itype), set()).add(_id)
    assert (
        max(len(ids) for ids in by_offer.values()) >= 3
    )  # one class, several engines / deployments / licences
    details = {d for *_, d in raw}
    assert any("PostgreSQL, Single-AZ" in d for d in details) and any("Windows, shared" in d for d in details)


def test_the_mart_cannot_multiply_rows_even_from_duplicated_inputs(
    reruns: tuple[Path, list], tmp_path: Path
) -> None:
    """A raw snapshot holding an id twice, and a previous mart already doubled (the bug's leftovers), still
    give one row per id; the blocking raw key check reports the raw duplicate."""
    database, after = reruns
    copy = tmp_path / "finops.duckdb"
    shutil.copyfile(database, copy)
    rows, ids, savings, _ = after[-1]
    with duckdb.connect(str(copy)) as conn:
        conn.execute(
            "INSERT INTO raw.ce_recommendations SELECT * FROM raw.ce_recommendations "
            "WHERE snapshot_date = ? AND source = 'reserved_instances' LIMIT 3",
            [SANDBOX_AS_OF],
        )
        conn.execute("INSERT INTO marts.recommendations SELECT * FROM marts.recommendations")
        for _ in range(2):
            write_recommendations(conn, SANDBOX_AS_OF, 90)
            assert conn.execute(MART_SQL).fetchall()[0] == (rows, ids, savings)
    check = next(
        c
        for c in build_table_checks()
        if dg.AssetCheckKey(dg.AssetKey("ce_recommendations"), "no_duplicate_keys") in c.check_keys
    )
    result = check(warehouse=WarehouseResource(database=str(copy)))
    assert not result.passed and result.metadata["duplicate_keys"].value == 3


def test_key_checks_on_recommendations_block() -> None:
    from finops_pipeline.definitions import defs

    graph = defs().resolve_asset_graph()
    blocking = {
        (key.asset_key.to_user_string(), key.name)
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).blocking
    }
    assert {("ce_recommendations", "no_duplicate_keys"), ("recommendations", "no_duplicate_keys")} <= blocking
    assert isinstance(next(iter(graph.asset_check_keys)), dg.AssetCheckKey)
