"""The warehouse's FOCUS export against the FOCUS 1.0 column requirements, read back with pyarrow.

The requirement table below is written from the specification (FOCUS_Spec tag v1.0,
``specification/columns/*.md``: feature level, "Allows nulls", data type, allowed values;
``attributes/datetime_format.md``: UTC). Every Mandatory column must be present; the Conditional columns
the file carries are checked too.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finops_pipeline.lib.focus.export import focus_export_table, write_focus
from finops_pipeline.warehouse import ensure_schema

SERVICE_CATEGORIES = {
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security", "Storage", "Web",
    "Other",
}  # fmt: skip
# column: (feature level, allows nulls, data type, allowed values or None)
FOCUS_1_0 = {
    "BilledCost": ("Mandatory", False, "Decimal", None),
    "BillingAccountId": ("Mandatory", False, "String", None),
    "BillingAccountName": ("Mandatory", True, "String", None),
    "BillingCurrency": ("Mandatory", False, "String", None),
    "BillingPeriodEnd": ("Mandatory", False, "Date/Time", None),
    "BillingPeriodStart": ("Mandatory", False, "Date/Time", None),
    "ChargeCategory": ("Mandatory", False, "String", {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}),
    "ChargeClass": ("Mandatory", True, "String", {"Correction"}),
    "ChargeDescription": ("Mandatory", True, "String", None),
    "ChargePeriodEnd": ("Mandatory", False, "Date/Time", None),
    "ChargePeriodStart": ("Mandatory", False, "Date/Time", None),
    "ContractedCost": ("Mandatory", False, "Decimal", None),
    "EffectiveCost": ("Mandatory", False, "Decimal", None),
    "InvoiceIssuerName": ("Mandatory", False, "String", None),
    "ListCost": ("Mandatory", False, "Decimal", None),
    "PricingQuantity": ("Mandatory", True, "Decimal", None),
    "PricingUnit": ("Mandatory", True, "String", None),
    "ProviderName": ("Mandatory", False, "String", None),
    "PublisherName": ("Mandatory", False, "String", None),
    "ServiceCategory": ("Mandatory", False, "String", SERVICE_CATEGORIES),
    "ServiceName": ("Mandatory", False, "String", None),
    "ChargeFrequency": ("Recommended", False, "String", {"One-Time", "Recurring", "Usage-Based"}),
    "SubAccountId": ("Conditional", True, "String", None),
    "SubAccountName": ("Conditional", True, "String", None),
}
PAYER = "123456789012"
MEMBER = "210987654321"
HOSTILE = '=HYPERLINK("http://evil.example","x")'


def violations(table: pa.Table) -> list[str]:
    """Every FOCUS 1.0 requirement the table breaks, in words."""
    found = []
    for name, (level, nullable, kind, allowed) in FOCUS_1_0.items():
        if name not in table.column_names:
            if level == "Mandatory":
                found.append(f"{name} missing")
            continue
        column = table.column(name)
        if not nullable and column.null_count:
            found.append(f"{name} has {column.null_count} nulls")
        expected_type = {
            "Decimal": pa.types.is_decimal,
            "String": pa.types.is_string,
            "Date/Time": lambda t: pa.types.is_timestamp(t) and t.tz == "UTC",
        }[kind]
        if not expected_type(column.type):
            found.append(f"{name} is {column.type}, not {kind}")
        if allowed is not None and (bad := set(column.drop_null().to_pylist()) - allowed):
            found.append(f"{name} has values outside the allowed ones: {sorted(bad)}")
    rows = table.to_pylist()
    for row in rows:  # cross-column rules of PricingQuantity / PricingUnit and the periods
        usage_or_purchase = row["ChargeCategory"] in ("Usage", "Purchase") and row["ChargeClass"] is None
        if usage_or_purchase and (row["PricingQuantity"] is None or row["PricingUnit"] is None):
            found.append(f"PricingQuantity/Unit null on a {row['ChargeCategory']} row")
        if row["ChargeCategory"] == "Tax" and (row["PricingQuantity"] is not None or row["PricingUnit"]):
            found.append("PricingQuantity/Unit not null on a Tax row")
        if not row["ChargePeriodStart"] < row["ChargePeriodEnd"]:
            found.append("ChargePeriodStart not before ChargePeriodEnd")
        if not row["BillingPeriodStart"] <= row["ChargePeriodStart"] < row["BillingPeriodEnd"]:
            found.append("charge period outside its billing period")
    return found


@pytest.fixture
def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "finops.duckdb"))
    ensure_schema(conn)
    conn.execute(
        "INSERT INTO raw.aws_accounts (account_id, account_name, is_management, ingested_at) VALUES "
        "(?, 'Payer', true, now()), (?, ?, false, now())",
        [PAYER, MEMBER, HOSTILE],
    )
    rows = [
        (dt.date(2026, 10, 31), MEMBER, "Amazon Elastic Compute Cloud - Compute", "12.345678", "10.000001"),
        (dt.date(2026, 11, 1), MEMBER, "Amazon Elastic Compute Cloud - Compute", "11.000000", "9.500000"),
        (dt.date(2026, 11, 1), MEMBER, "Tax", "1.230000", "1.230000"),
        (dt.date(2026, 11, 1), PAYER, "Savings Plans for AWS Compute usage", "5.000000", "0.000000"),
        (dt.date(2026, 11, 2), PAYER, "Some New Service", "-0.500000", "-0.500000"),
        (dt.date(2026, 11, 3), PAYER, "Amazon Simple Storage Service", "99.000000", "99.000000"),  # outside
    ]
    conn.executemany(
        "INSERT INTO raw.ce_cost_daily VALUES (?, ?, ?, ?, ?, ?, false, 'USD')",
        [(d, a, s, u, m, u) for d, a, s, u, m in rows],
    )
    return conn


def test_the_export_meets_the_focus_1_0_column_requirements(warehouse: duckdb.DuckDBPyConnection) -> None:
    handle = io.BytesIO()
    write_focus(focus_export_table(warehouse, dt.date(2026, 10, 31), dt.date(2026, 11, 3)), handle)
    handle.seek(0)
    table = pq.read_table(handle)
    assert violations(table) == []
    assert table.num_rows == 5
    assert pq.read_metadata(io.BytesIO(handle.getvalue())).metadata[b"focus_version"] == b"1.0"
    by_service = {r["ServiceName"]: r for r in table.to_pylist()}
    assert by_service["Tax"]["ChargeCategory"] == "Tax"
    assert by_service["Savings Plans for AWS Compute usage"]["ChargeCategory"] == "Purchase"
    assert by_service["Some New Service"]["ServiceCategory"] == "Other"
    assert {r["BillingAccountId"] for r in table.to_pylist()} == {PAYER}
    assert by_service["Tax"]["SubAccountName"] == HOSTILE  # data stays data in Parquet, not a formula
    october = next(r for r in table.to_pylist() if r["ChargePeriodStart"].month == 10)
    assert october["BillingPeriodStart"] == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert october["BillingPeriodEnd"] == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_export_totals_equal_the_warehouse_to_the_cent(warehouse: duckdb.DuckDBPyConnection) -> None:
    table = focus_export_table(warehouse, dt.date(2026, 10, 31), dt.date(2026, 11, 3))
    billed = sum(table.column("BilledCost").to_pylist(), Decimal(0))
    effective = sum(table.column("EffectiveCost").to_pylist(), Decimal(0))
    assert billed == Decimal("29.075678")
    assert effective == Decimal("20.230001")


def test_the_checker_catches_a_broken_file(warehouse: duckdb.DuckDBPyConnection) -> None:
    table = focus_export_table(warehouse, dt.date(2026, 10, 31), dt.date(2026, 11, 3))
    categories = ["Fee" if c == "Purchase" else c for c in table.column("ChargeCategory").to_pylist()]
    broken = table.set_column(
        table.schema.get_field_index("ChargeCategory"), "ChargeCategory", pa.array(categories)
    ).drop_columns(["ListCost"])
    assert violations(broken) == [
        "ChargeCategory has values outside the allowed ones: ['Fee']",
        "ListCost missing",
    ]


def test_focus_is_a_report_format(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from finops_pipeline.lib.reporting.report import generate_report
    from finops_pipeline.settings import load_settings

    database = tmp_path / "finops.duckdb"
    warehouse.close()
    settings = load_settings({"FINOPS_PROJECT_ROOT": str(tmp_path), "FINOPS_DUCKDB_PATH": str(database)})
    report = generate_report(
        "focus", start="2026-10-31", end="2026-11-03", settings=settings, today=dt.date(2026, 11, 27)
    )
    (path,) = report["files"]
    assert str(path).endswith("-focus.parquet")
    table = pq.read_table(path)
    assert violations(table) == [] and table.num_rows == 5
