"""The FOCUS marts on the FinOps Foundation sample, against pandas on the CSV (AWS rows, EffectiveCost).

The sample tags with lower-case keys (``application``, ``environment``, ``business_unit``); rows without a
``ResourceId`` are shared cost in showback.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finops_pipeline.config_resources import FocusExportResource, TagPolicyResource
from finops_pipeline.defs.focus.marts import focus_showback, focus_spend_coverage
from finops_pipeline.warehouse import WarehouseResource
from finops_pipeline_tests.defs.focus.test_focus_ingest import SAMPLE, sample_warehouse  # noqa: F401

CENT = Decimal("0.01")
KEYS = ["environment", "business_unit"]


def _aws_rows() -> pd.DataFrame:
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False, na_values=["NULL"])
    frame = frame[frame["ProviderName"] == "AWS"].copy()
    frame["cost"] = frame["EffectiveCost"].map(Decimal)
    frame["tags"] = frame["Tags"].map(lambda t: json.loads(t) if isinstance(t, str) else {})
    return frame


def _total(costs: pd.Series) -> Decimal:
    return sum(costs, Decimal(0)).quantize(CENT)


@pytest.fixture(scope="module")
def marts(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    database = tmp_path_factory.mktemp("focus-marts") / "finops.duckdb"
    shutil.copyfile(sample_warehouse, database)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("focus_billing_period", ["2024-09"])
    result = dg.materialize(
        [focus_spend_coverage, focus_showback],
        instance=instance,
        partition_key="2024-09",
        resources={
            "warehouse": WarehouseResource(database=str(database)),
            "tag_policy": TagPolicyResource(required_keys=KEYS),
            "focus_export": FocusExportResource(showback_tag_key="business_unit"),
        },
    )
    assert result.success
    (coverage,) = result.asset_materializations_for_node("focus_spend_coverage")
    (showback,) = result.asset_materializations_for_node("focus_showback")
    assert coverage.partition == showback.partition == "2024-09"
    # The period's own figures on its partition: EffectiveCost of the AWS rows, split three ways.
    split = sum(showback.metadata[f"{k}_cost_usd"].value for k in ("tagged", "untagged", "shared"))
    assert (
        round(split, 2) == coverage.metadata["effective_cost_usd"].value == float(_total(_aws_rows()["cost"]))
    )
    return database


def test_service_coverage_equals_pandas(marts: Path) -> None:
    rows = _aws_rows()
    rows["tagged"] = rows["tags"].map(lambda t: all(str(t.get(k, "")).strip() for k in KEYS))
    expected = {
        service: (_total(group["cost"]), _total(group[group["tagged"]]["cost"]))
        for service, group in rows.groupby("ServiceName")
    }
    with duckdb.connect(str(marts), read_only=True) as conn:
        got = conn.execute(
            "SELECT dimension_value, effective_cost, tagged_cost FROM marts.focus_spend_coverage "
            "WHERE dimension = 'service'"
        ).fetchall()
        per_resource = conn.execute(
            "SELECT count(*), sum(effective_cost) FROM marts.focus_spend_coverage "
            "WHERE dimension = 'resource'"
        ).fetchone()
    assert {s: (Decimal(e).quantize(CENT), Decimal(t).quantize(CENT)) for s, e, t in got} == expected
    assert per_resource[0] == rows["ResourceId"].nunique() + 1  # every resource, plus '(no resource)'
    assert Decimal(per_resource[1]).quantize(CENT) == _total(rows["cost"])


def test_showback_splits_the_whole_bill(marts: Path) -> None:
    rows = _aws_rows()
    values = [str(t.get("business_unit", "")).strip() for t in rows["tags"]]
    has_resource = rows["ResourceId"].notna().tolist()
    expected: dict[tuple[str, str], Decimal] = {}
    for v, resource, cost in zip(values, has_resource, rows["cost"], strict=True):
        key = ("tagged", v) if v else (("untagged", "") if resource else ("shared", ""))
        expected[key] = expected.get(key, Decimal(0)) + cost
    with duckdb.connect(str(marts), read_only=True) as conn:
        got = conn.execute(
            "SELECT allocation, tag_value, effective_cost, share_pct FROM marts.focus_showback"
        ).fetchall()
    assert {(a, v): Decimal(c).quantize(CENT) for a, v, c, _ in got} == {
        k: c.quantize(CENT) for k, c in expected.items()
    }
    assert {a for a, *_ in got} == {"tagged", "untagged", "shared"}
    assert round(sum(s for *_, s in got), 6) == 100.0


def test_the_report_reads_both_marts(marts: Path) -> None:
    from finops_pipeline.lib.reporting.datasets import SPEC_BY_NAME, load_dataset
    from finops_pipeline.lib.reporting.periods import Period

    september = Period(dt.date(2024, 9, 1), dt.date(2024, 10, 1), "previous_full_month")
    with duckdb.connect(str(marts), read_only=True) as conn:
        showback = load_dataset(conn, SPEC_BY_NAME["focus_showback"], september, tuple(KEYS))
        coverage = load_dataset(conn, SPEC_BY_NAME["focus_spend_coverage"], september, tuple(KEYS))
        total = conn.execute(
            "SELECT sum(EffectiveCost) FROM raw.focus_cost WHERE ProviderName = 'AWS'"
        ).fetchone()
    assert showback.source == "marts.focus_showback" and coverage.source == "marts.focus_spend_coverage"
    shown = sum(Decimal(str(v)) for v in showback.table.column("effective_cost_usd").to_pylist())
    assert shown.quantize(CENT) == Decimal(total[0]).quantize(CENT)
    assert set(coverage.table.column("dimension").to_pylist()) == {"service", "resource_type", "resource"}
