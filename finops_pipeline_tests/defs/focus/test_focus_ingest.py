"""The FinOps Foundation's real FOCUS 1.0 sample through the focus_cost asset, against pandas on the CSV.

The sample (finops_pipeline_tests/data/focus, CC BY 4.0) holds 942 AWS rows of September 2024 and 58 rows
of Azure and Oracle. Every provider's rows are kept in raw.focus_cost, labelled by ProviderName; AWS figures
are the AWS rows only, so the other clouds never mix into them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from finops_pipeline.aws_session import AwsResource
from finops_pipeline.config_resources import FocusExportResource
from finops_pipeline.defs.focus.assets import focus_cost
from finops_pipeline.defs.focus.partitions import register_periods
from finops_pipeline.lib.focus.source import ExportSource
from finops_pipeline.warehouse import WarehouseResource

SAMPLE_DIR = Path(__file__).parents[2] / "data" / "focus"
SAMPLE = SAMPLE_DIR / "focus_sample.csv"
CENT = Decimal("0.01")


def materialize_focus(database: Path, uri: str) -> dg.ExecuteInProcessResult:
    """focus_cost over the folder's billing periods: one, September 2024, read from the rows (the
    sample's folder is not AWS's BILLING_PERIOD= layout)."""
    instance = dg.DagsterInstance.ephemeral()
    assert register_periods(instance, ExportSource(uri)) == ["2024-09"]
    return dg.materialize(
        [focus_cost],
        instance=instance,
        partition_key="2024-09",
        resources={
            "aws": AwsResource(),
            "warehouse": WarehouseResource(database=str(database)),
            "focus_export": FocusExportResource(uri=uri),
        },
    )


def pandas_totals() -> dict[tuple[str, str, str], tuple[Decimal, Decimal]]:
    """Per sub-account, service and charge category, from the CSV alone (exact decimals)."""
    frame = pd.read_csv(
        SAMPLE,
        dtype={"SubAccountId": str, "ServiceName": str, "ChargeCategory": str, "ProviderName": str},
        keep_default_na=False,
        converters={"BilledCost": Decimal, "EffectiveCost": Decimal},
    )
    aws = frame[frame["ProviderName"] == "AWS"]
    grouped = aws.groupby(["SubAccountId", "ServiceName", "ChargeCategory"])[["BilledCost", "EffectiveCost"]]
    return {
        key: (billed.quantize(CENT), effective.quantize(CENT))
        for key, (billed, effective) in grouped.sum().iterrows()
    }


@pytest.fixture(scope="module")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("focus") / "finops.duckdb"
    assert materialize_focus(database, str(SAMPLE_DIR)).success
    return database


def test_aws_totals_per_account_service_and_category_equal_pandas(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as conn:
        rows = conn.execute(
            "SELECT SubAccountId, ServiceName, ChargeCategory, sum(BilledCost), sum(EffectiveCost) "
            "FROM raw.focus_cost WHERE ProviderName = 'AWS' GROUP BY ALL"
        ).fetchall()
    ingested = {(a, s, c): (b.quantize(CENT), e.quantize(CENT)) for a, s, c, b, e in rows}
    expected = pandas_totals()
    assert ingested == expected
    assert len(expected) > 60  # 66 sub-accounts, 24 services: the comparison covers real variety
    assert sum(b for b, _ in expected.values()) == Decimal("17.86")  # groups rounded; 18.006628 in all


def test_every_provider_is_kept_and_labelled(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as conn:
        providers = dict(
            conn.execute("SELECT ProviderName, count(*) FROM raw.focus_cost GROUP BY 1").fetchall()
        )
        aws_accounts = conn.execute(
            "SELECT count(DISTINCT SubAccountId), count(DISTINCT ServiceName) FROM raw.focus_cost "
            "WHERE ProviderName = 'AWS'"
        ).fetchone()
        files = conn.execute("SELECT status, rows, billing_period FROM raw.focus_files").fetchall()
    assert providers == {"AWS": 942, "Microsoft": 51, "Oracle": 7}
    assert aws_accounts == (66, 24)
    assert files == [("ok", 1000, "2024-09")]


def test_a_second_run_reads_nothing_unchanged(sample_warehouse: Path) -> None:
    result = materialize_focus(sample_warehouse, str(SAMPLE_DIR))
    (observed,) = result.asset_observations_for_node("focus_cost")
    assert observed.metadata["files_unchanged"].value == 1
    assert observed.metadata["files_read"].value == 0
    assert observed.metadata["bytes_read"].value == 0  # its period is known: not even peeked again
    (materialized,) = result.asset_materializations_for_node("focus_cost")
    assert materialized.partition == "2024-09"
    assert materialized.metadata["dagster/row_count"].value == 1000
    assert materialized.metadata["aws_billed_cost_usd"].value == 18.01  # 18.006628 (AWS rows only)
