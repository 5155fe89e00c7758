"""The warehouse's daily cost as a FOCUS 1.0 file, so other FOCUS tools read what Cost Explorer gave.

One row per UTC day, linked account and service of ``raw.ce_cost_daily``, with every column FOCUS 1.0
marks Mandatory (specification v1.0, ``specification/columns/*.md``) and the Conditional ones this grain
has (SubAccountId, SubAccountName). What Cost Explorer's daily grain does not carry is stated, not
invented:

- ``ListCost`` and ``ContractedCost`` equal ``BilledCost``: FOCUS says a cost with no unit price behind it
  matches BilledCost, and the grain has no price list.
- ``ChargeCategory`` comes from the service, as Cost Explorer names it (``Tax``; Savings Plans and support
  fees are ``Purchase``; everything else ``Usage``): ``raw.ce_cost_daily`` is not split by record type, so
  a service's credits and refunds stay in its Usage row, as in Cost Explorer's own service view.
- ``PricingQuantity`` is 1 ``Days`` for Usage and Purchase rows (one day of the service's aggregate cost;
  FOCUS forbids null there) and null for Tax (FOCUS requires null there).

Written as Parquet (typed: Date/Time as UTC timestamps, amounts as decimals), which FOCUS tools read and
which keeps account names as data, never as spreadsheet formulas.
"""

from __future__ import annotations

import datetime as dt
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

# FOCUS 1.0 ServiceCategory of the services Cost Explorer names; any other service is "Other".
SERVICE_CATEGORIES = {
    "Amazon Elastic Compute Cloud - Compute": "Compute",
    "EC2 - Other": "Compute",
    "AWS Lambda": "Compute",
    "Amazon Elastic Container Service": "Compute",
    "Amazon Relational Database Service": "Databases",
    "Amazon DynamoDB": "Databases",
    "Amazon ElastiCache": "Databases",
    "Amazon Simple Storage Service": "Storage",
    "Amazon Elastic File System": "Storage",
    "Amazon Virtual Private Cloud": "Networking",
    "Amazon CloudFront": "Networking",
    "Amazon Route 53": "Networking",
    "AmazonCloudWatch": "Management and Governance",
    "AWS CloudTrail": "Management and Governance",
    "Amazon SageMaker": "AI and Machine Learning",
    "Amazon Athena": "Analytics",
    "AWS Key Management Service": "Security",
}
PURCHASE_PREFIXES = ("Savings Plans for", "AWS Support")
ISSUER = "Amazon Web Services, Inc."

EXPORT_SQL = """
WITH payer AS (
    SELECT coalesce(
        (SELECT management_account_id FROM raw.caller_scope ORDER BY detected_at DESC LIMIT 1),
        (SELECT account_id FROM raw.aws_accounts WHERE is_management LIMIT 1)) AS id
), rows AS (
    SELECT *, CASE WHEN service = 'Tax' THEN 'Tax'
                   WHEN list_contains($purchase, service) THEN 'Purchase' ELSE 'Usage' END AS category
    FROM raw.ce_cost_daily WHERE usage_date >= $start AND usage_date < $end
)
SELECT
    CAST(r.unblended_cost AS DECIMAL(18, 6)) AS BilledCost,
    coalesce(payer.id, r.account_id) AS BillingAccountId,
    pa.account_name AS BillingAccountName,
    r.currency AS BillingCurrency,
    CAST(date_trunc('month', r.usage_date) + INTERVAL 1 MONTH AS TIMESTAMP) AS BillingPeriodEnd,
    CAST(date_trunc('month', r.usage_date) AS TIMESTAMP) AS BillingPeriodStart,
    r.category AS ChargeCategory,
    CAST(NULL AS VARCHAR) AS ChargeClass,
    r.service || ' (Cost Explorer daily cost, ' || CASE WHEN r.is_estimated THEN 'estimated' ELSE 'final' END
        || ')' AS ChargeDescription,
    CASE r.category WHEN 'Usage' THEN 'Usage-Based' WHEN 'Purchase' THEN 'Recurring' ELSE 'One-Time' END
        AS ChargeFrequency,
    CAST(r.usage_date + 1 AS TIMESTAMP) AS ChargePeriodEnd,
    CAST(r.usage_date AS TIMESTAMP) AS ChargePeriodStart,
    CAST(r.unblended_cost AS DECIMAL(18, 6)) AS ContractedCost,
    CAST(r.amortized_cost AS DECIMAL(18, 6)) AS EffectiveCost,
    $issuer AS InvoiceIssuerName,
    CAST(r.unblended_cost AS DECIMAL(18, 6)) AS ListCost,
    CASE WHEN r.category = 'Tax' THEN NULL ELSE CAST(1 AS DECIMAL(18, 6)) END AS PricingQuantity,
    CASE WHEN r.category = 'Tax' THEN NULL ELSE 'Days' END AS PricingUnit,
    'AWS' AS ProviderName,
    $issuer AS PublisherName,
    coalesce(sc.category, 'Other') AS ServiceCategory,
    r.service AS ServiceName,
    r.account_id AS SubAccountId,
    a.account_name AS SubAccountName
FROM rows r CROSS JOIN payer
LEFT JOIN raw.aws_accounts a ON a.account_id = r.account_id
LEFT JOIN raw.aws_accounts pa ON pa.account_id = payer.id
LEFT JOIN focus_service_categories sc ON sc.service = r.service
ORDER BY r.usage_date, r.account_id, r.service
"""


def focus_export_table(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> pa.Table:
    """FOCUS 1.0 rows of the days ``[start, end)``; Date/Time columns as UTC timestamps."""
    services = [s for (s,) in conn.execute("SELECT DISTINCT service FROM raw.ce_cost_daily").fetchall()]
    params = {
        "start": start,
        "end": end,
        "issuer": ISSUER,
        "purchase": [s for s in services if s.startswith(PURCHASE_PREFIXES)],
    }
    categories = pa.table(
        {"service": list(SERVICE_CATEGORIES), "category": list(SERVICE_CATEGORIES.values())}
    )
    conn.register("focus_service_categories", categories)
    try:
        table = conn.sql(EXPORT_SQL, params=params).to_arrow_table()
    finally:
        conn.unregister("focus_service_categories")
    for name in ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(pa.timestamp("s", tz="UTC")))
    return table


def write_focus(table: pa.Table, handle: IO[bytes]) -> None:
    """The FOCUS file: Parquet with the FOCUS version in its key-value metadata."""
    pq.write_table(table.replace_schema_metadata({b"focus_version": b"1.0"}), handle, compression="zstd")
