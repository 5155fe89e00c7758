"""The commitments tables (issue #16): Savings Plans and Reserved Instances, raw and mart.

Kept in their own module of the registry so the raw and marts lists only gain one name each.
Money is USD as Cost Explorer answers it; hours are instance hours; dates are UTC days.
"""

from finops_pipeline.tables.model import STALE_COLUMNS, Column, Table
from finops_pipeline.tables.raw import (
    ACCOUNT_ID,
    DAILY_FRESHNESS,
    MONEY,
    RESOURCE_ARN,
    SCANNED_AT,
    USAGE_DATE,
)

COMMITMENT_TYPE = Column(
    "commitment_type",
    "VARCHAR",
    "'Savings Plans: <type>' (e.g. Compute) or 'Reserved Instances: <service>'",
    not_null=True,
)
COMMITMENT_UTILIZATION = Table(
    "raw.commitment_utilization",
    "Daily Savings Plans and RI utilization per account and commitment type (GetSavingsPlansUtilization, "
    "GetReservationUtilization filtered by LINKED_ACCOUNT).",
    (
        USAGE_DATE,
        ACCOUNT_ID,
        COMMITMENT_TYPE,
        Column("total_commitment", MONEY, "amortized commitment of the day", not_null=True),
        Column("used_commitment", MONEY, not_null=True),
        Column("unused_commitment", MONEY, not_null=True),
        Column(
            "on_demand_equivalent", MONEY, "on-demand cost of the usage the commitment covered", not_null=True
        ),
        Column(
            "net_savings", MONEY, "on_demand_equivalent - total_commitment, as AWS answers it", not_null=True
        ),
        Column("purchased_hours", "DOUBLE", "RIs: reserved instance hours; NULL for Savings Plans"),
        Column("used_hours", "DOUBLE", "RIs: reserved hours used; NULL for Savings Plans"),
    ),
    ("usage_date", "account_id", "commitment_type"),
    asset="commitment_usage",
    blocking=True,  # marts.commitment_kpis sums its rows
    freshness=DAILY_FRESHNESS,
)
COMMITMENT_COVERAGE = Table(
    "raw.commitment_coverage",
    "Daily coverage of eligible usage per account: GetSavingsPlansCoverage (cost) and GetReservationCoverage "
    "per RI service (hours and on-demand cost).",
    (
        USAGE_DATE,
        ACCOUNT_ID,
        COMMITMENT_TYPE,
        Column("covered_cost", MONEY, "Savings Plans: on-demand cost of the covered spend", not_null=True),
        Column("on_demand_cost", MONEY, "eligible usage billed on demand", not_null=True),
        Column("covered_hours", "DOUBLE", "RIs: reserved hours; NULL for Savings Plans"),
        Column("on_demand_hours", "DOUBLE", "RIs: reservable hours run on demand; NULL for Savings Plans"),
    ),
    ("usage_date", "account_id", "commitment_type"),
    asset="commitment_usage",
    blocking=True,  # freshness: the asset's one check is on raw.commitment_utilization
)
SP_COVERAGE_ORGANIZATION = Table(
    "raw.sp_coverage_organization",
    "Daily Savings Plans coverage of the whole organisation: GetSavingsPlansCoverage without a filter, one "
    "request per run. Where per_account is false, raw.commitment_coverage holds no Savings Plans row of "
    "that day (FINOPS_SP_COVERAGE_ACCOUNT_DAYS: per account only every N days) and this is its figure.",
    (
        USAGE_DATE,
        COMMITMENT_TYPE,
        Column("covered_cost", MONEY, "on-demand cost of the covered spend", not_null=True),
        Column("on_demand_cost", MONEY, "eligible usage billed on demand", not_null=True),
        Column(
            "per_account",
            "BOOLEAN",
            "raw.commitment_coverage holds this day's Savings Plans coverage per account (read per account)",
            not_null=True,
        ),
    ),
    ("usage_date",),
    asset="commitment_usage",
)
COMMITMENT_INVENTORY = Table(
    "raw.commitment_inventory",
    "Every Savings Plan (savingsplans:DescribeSavingsPlans, per account) and reservation "
    "(ec2:DescribeReservedInstances, rds:DescribeReservedDBInstances, per account × scan region), active "
    "or retired, with its term: the expiry KPIs' source.",
    (
        RESOURCE_ARN,
        ACCOUNT_ID,
        Column("region", "VARCHAR", "the RI's region; 'global' for Savings Plans", not_null=True),
        COMMITMENT_TYPE,
        Column(
            "commitment_id",
            "VARCHAR",
            "savingsPlanId, ReservedInstancesId or ReservedDBInstanceId",
            not_null=True,
        ),
        Column("instance_type", "VARCHAR", "RIs: instance or DB class; Savings Plans: EC2 family if any"),
        Column("instance_count", "BIGINT"),
        Column(
            "hourly_commitment",
            MONEY,
            "USD per hour it costs, used or not (RIs: recurring × count)",
            not_null=True,
        ),
        Column("upfront_usd", MONEY, "fixed price paid upfront", not_null=True),
        Column("start_date", "DATE", not_null=True),
        Column(
            "end_date", "DATE", "the term's end (exclusive): RDS gives StartTime + Duration", not_null=True
        ),
        Column("state", "VARCHAR", "active | retired | ... as the service says", not_null=True),
        SCANNED_AT,
        *STALE_COLUMNS,
    ),
    ("resource_arn",),
    asset="commitment_inventory",
    blocking=True,  # marts.commitment_kpis sums its hourly values
)
COMMITMENT_KPIS = Table(
    "marts.commitment_kpis",
    "Per day, commitment type and scope ('organization' or an account id): commitment spend, used, unused, "
    "coverage, on-demand equivalent, net savings, effective savings rate and upcoming expiries.",
    (
        USAGE_DATE,
        COMMITMENT_TYPE,
        Column("scope", "VARCHAR", "'organization' or the account id", not_null=True),
        Column("commitment_usd", MONEY, "amortized commitment (used + unused)", not_null=True),
        Column("used_usd", MONEY, not_null=True),
        Column("unused_usd", MONEY, not_null=True),
        Column("utilization_pct", "DOUBLE", "used / commitment × 100 (NULL without commitment)"),
        Column("unused_pct", "DOUBLE", "unused / commitment × 100"),
        Column("on_demand_equivalent_usd", MONEY, "on-demand cost of the covered usage", not_null=True),
        Column("net_savings_usd", MONEY, "on-demand equivalent - commitment", not_null=True),
        Column("eligible_on_demand_usd", MONEY, "eligible usage still billed on demand", not_null=True),
        Column(
            "coverage_pct",
            "DOUBLE",
            "covered / (covered + eligible on demand) × 100, cost (SP) or hours (RI)",
        ),
        Column(
            "effective_savings_rate_pct",
            "DOUBLE",
            "net savings / on-demand equivalent of all eligible usage (covered + on demand) × 100",
        ),
        Column(
            "expiring_30d", "BIGINT", "commitments whose term ends within 30 days of the day", not_null=True
        ),
        Column("expiring_60d", "BIGINT", not_null=True),
        Column("expiring_90d", "BIGINT", not_null=True),
        Column(
            "expiring_30d_hourly_usd",
            MONEY,
            "hourly commitment of those ending within 30 days",
            not_null=True,
        ),
        Column("expiring_60d_hourly_usd", MONEY, not_null=True),
        Column("expiring_90d_hourly_usd", MONEY, not_null=True),
        Column(
            "coverage_known",
            "BOOLEAN",
            "false: an account's Savings Plans coverage of the day is not read yet (read organisation-wide "
            "only, FINOPS_SP_COVERAGE_ACCOUNT_DAYS): its coverage and savings rate are NULL, not zero",
            added=True,
        ),
    ),
    ("usage_date", "commitment_type", "scope"),
    asset="commitment_kpis",
)
RAW_COMMITMENT_TABLES = (
    COMMITMENT_UTILIZATION,
    COMMITMENT_COVERAGE,
    SP_COVERAGE_ORGANIZATION,
    COMMITMENT_INVENTORY,
)
MART_COMMITMENT_TABLES = (COMMITMENT_KPIS,)
