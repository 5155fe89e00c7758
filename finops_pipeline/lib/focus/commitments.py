"""Savings Plans and RI utilization and coverage per account and day, read from an AWS Data Export.

Why: read from Cost Explorer, these figures cost per run a request per day and kind, or per account
(Savings Plans coverage has no per-account grouping, ``lib/commitments.py``): at 1,000 accounts most of
a daily refresh's bill. The organisation's FOCUS export holds the same line items for an S3 read.

The FOCUS 1.0 commitment columns (https://focus.finops.org/focus-specification/v1-0/, and AWS's table
dictionary, https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-focus-1-0-aws-columns.html):
a line a commitment covered carries its ARN in ``CommitmentDiscountId`` and ``CommitmentDiscountStatus``
'Used'; the part of a commitment no usage consumed is a line of status 'Unused'. So, per commitment and
day, the figures Cost Explorer answers are:

- used commitment: ``EffectiveCost`` of its Used lines; unused: ``EffectiveCost`` of its Unused lines;
  total: their sum; on-demand equivalent: ``ListCost`` of its Used lines; net savings: on-demand
  equivalent minus total (GetSavingsPlansUtilization, GetReservationUtilization);
- an RI's used hours: ``ConsumedQuantity`` of its Used lines, at most its purchased hours, which are
  its instance count × 24 on each day of its term, from ``raw.commitment_inventory`` (FOCUS 1.0 has no
  commitment quantity column); its fee those hours at its hourly rate, the used part its used hours
  at that rate, the on-demand equivalent the Used lines' ``ListCost`` for those hours (as AWS defines
  RI utilization: a reservation covers at most its hours). A reservation the inventory does not hold
  keeps its lines' own dollars and NULL hours, and is counted (``unknown_terms``);
- the owner is the ARN's account; a Savings Plan's type (Compute, EC2 Instance) is not on the line
  (``CommitmentDiscountType`` says 'Savings Plan'), so it is the inventory's, Compute when unknown.

Coverage is of the usage account (``SubAccountId``): covered spend is the ``ListCost`` of Savings Plans
Used lines; on demand is the eligible usage no commitment covered (``ChargeCategory`` 'Usage', no
``CommitmentDiscountId``): its ``BilledCost``, and for RIs its hours. Eligible, as AWS documents it:
Compute Savings Plans apply to EC2 instance usage, Lambda duration and Fargate
(https://aws.amazon.com/savingsplans/compute-pricing/); reservations to EC2 instance hours and RDS
instance hours (``GetReservationCoverage`` per SERVICE). Plain Python, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from finops_pipeline.lib import commitments as cm
from finops_pipeline.lib.focus.grains import open_export
from finops_pipeline.lib.focus.source import ExportSource

EC2, RDS = cm.RI_SERVICES
_SP_ELIGIBLE = f"""(
    (ServiceName = '{EC2}' AND regexp_matches(x_UsageType, '(BoxUsage|DedicatedUsage|HostUsage):'))
    OR (ServiceName = 'AWS Lambda' AND contains(x_UsageType, 'Lambda-GB-Second'))
    OR contains(x_UsageType, 'Fargate-'))"""
_RI_ELIGIBLE = f"""(
    (ServiceName = '{RDS}' AND regexp_matches(x_UsageType, '(InstanceUsage|Multi-AZUsage):'))
    OR (ServiceName = '{EC2}' AND regexp_matches(x_UsageType, '(BoxUsage|DedicatedUsage|HostUsage):')))"""
_WINDOW = "ProviderName = 'AWS' AND ChargePeriodStart >= $start AND ChargePeriodStart < $end"
_UTILIZATION_SQL = f"""
WITH per_commitment AS (
    SELECT CAST(ChargePeriodStart AS DATE) AS usage_date, CommitmentDiscountId AS arn,
           min(CommitmentDiscountType) AS discount_type, min(ServiceName) AS service,
           coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS used,
           coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0) AS unused,
           coalesce(sum(ListCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS on_demand,
           coalesce(sum(ConsumedQuantity) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS hours
    FROM lines WHERE {_WINDOW} AND CommitmentDiscountId IS NOT NULL
    GROUP BY 1, 2
), typed AS (
    SELECT p.*, split_part(p.arn, ':', 5) AS account_id,
           CASE WHEN p.discount_type = 'Reserved Instance' THEN '{cm.RI_PREFIX}' || p.service
                ELSE coalesce(i.commitment_type, '{cm.SP_PREFIX}Compute') END AS commitment_type,
           p.discount_type = 'Reserved Instance' AS reservation,
           i.instance_count * 24.0 AS purchased, i.hourly_commitment / i.instance_count AS rate
    FROM per_commitment p
    LEFT JOIN inventory i ON i.resource_arn = p.arn
        AND p.usage_date >= i.start_date AND p.usage_date < i.end_date
), figures AS (
    -- A reservation with a known term: its fee is its purchased hours at its rate, the used part its
    -- used hours (at most the purchased ones) at that rate, as AWS defines RI utilization; otherwise the
    -- lines' own amortized dollars.
    SELECT *, reservation AND purchased IS NOT NULL AS hourly, least(hours, purchased) AS used_hours
    FROM typed
), costed AS (
    SELECT *,
           CASE WHEN hourly THEN purchased * rate ELSE used + unused END AS total,
           CASE WHEN hourly THEN used_hours * rate ELSE used END AS used_cost,
           CASE WHEN hourly AND hours > 0 THEN on_demand * used_hours / hours
                WHEN hourly THEN 0 ELSE on_demand END AS on_demand_cost
    FROM figures
)
SELECT usage_date, account_id, commitment_type,
       round(sum(total), 6)::DECIMAL(38, 6) AS total_commitment,
       round(sum(used_cost), 6)::DECIMAL(38, 6) AS used_commitment,
       round(sum(total - used_cost), 6)::DECIMAL(38, 6) AS unused_commitment,
       round(sum(on_demand_cost), 6)::DECIMAL(38, 6) AS on_demand_equivalent,
       round(sum(on_demand_cost - total), 6)::DECIMAL(38, 6) AS net_savings,
       CASE WHEN bool_and(hourly) THEN sum(purchased) END AS purchased_hours,
       CASE WHEN bool_and(hourly) THEN sum(used_hours) END AS used_hours,
       count(*) FILTER (WHERE reservation AND NOT hourly) AS unknown_terms
FROM costed GROUP BY ALL
"""
_COVERAGE_SQL = f"""
SELECT CAST(ChargePeriodStart AS DATE) AS usage_date, SubAccountId AS account_id, ServiceName AS service,
       coalesce(sum(ListCost) FILTER (WHERE sp_used), 0) AS sp_covered,
       coalesce(sum(BilledCost) FILTER (WHERE free AND {_SP_ELIGIBLE}), 0) AS sp_on_demand,
       bool_or(sp_used OR (free AND {_SP_ELIGIBLE})) AS sp_eligible,
       coalesce(sum(ConsumedQuantity) FILTER (WHERE ri_used), 0) AS ri_hours,
       coalesce(sum(ConsumedQuantity) FILTER (WHERE free AND {_RI_ELIGIBLE}), 0) AS ri_on_demand_hours,
       coalesce(sum(BilledCost) FILTER (WHERE free AND {_RI_ELIGIBLE}), 0) AS ri_on_demand,
       bool_or(ri_used OR (free AND {_RI_ELIGIBLE})) AS ri_eligible
FROM (
    SELECT *, CommitmentDiscountId IS NULL AS free,
           CommitmentDiscountType = 'Savings Plan' AND CommitmentDiscountStatus = 'Used' AS sp_used,
           CommitmentDiscountType = 'Reserved Instance' AND CommitmentDiscountStatus = 'Used' AS ri_used
    FROM lines WHERE {_WINDOW} AND ChargeCategory = 'Usage'
)
GROUP BY ALL
"""
# Each account's Savings Plans coverage is filed under the first Savings Plans type it owns, Compute when
# it owns none (as ``defs/commitments/usage.py``'s ``_sp_label``); the organisation's under the first of all.
_LABEL = f"""coalesce(min(commitment_type) FILTER (WHERE commitment_type LIKE '{cm.SP_PREFIX}%'),
                      '{cm.SP_PREFIX}Compute')"""
_SP_COVERAGE_SQL = f"""
WITH labels AS (SELECT account_id, {_LABEL} AS label FROM utilization GROUP BY 1)
SELECT c.usage_date, c.account_id, coalesce(l.label, '{cm.SP_PREFIX}Compute') AS commitment_type,
       round(sum(sp_covered), 6) AS covered_cost, round(sum(sp_on_demand), 6) AS on_demand_cost,
       NULL::DOUBLE AS covered_hours, NULL::DOUBLE AS on_demand_hours
FROM coverage c LEFT JOIN labels l USING (account_id)
WHERE sp_eligible GROUP BY ALL
"""
_RI_COVERAGE_SQL = f"""
SELECT usage_date, account_id, '{cm.RI_PREFIX}' || service AS commitment_type,
       0::DECIMAL(38, 6) AS covered_cost, round(sum(ri_on_demand), 6) AS on_demand_cost,
       sum(ri_hours)::DOUBLE AS covered_hours, sum(ri_on_demand_hours)::DOUBLE AS on_demand_hours
FROM coverage WHERE ri_eligible AND service IN ('{EC2}', '{RDS}') GROUP BY ALL
"""
_ORGANIZATION_SQL = f"""
SELECT d::DATE AS usage_date, (SELECT {_LABEL} FROM utilization) AS commitment_type,
       coalesce(sum(covered_cost), 0) AS covered_cost, coalesce(sum(on_demand_cost), 0) AS on_demand_cost,
       TRUE AS per_account
FROM range($start::DATE, $end::DATE, INTERVAL 1 DAY) t(d) LEFT JOIN sp_coverage s ON s.usage_date = d::DATE
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class ExportCommitments:
    """What the export answered for its days of a window: the windows (``[start, end)``) it covers whole,
    the three tables' rows, the files and bytes read, and the reservation-days whose term the inventory
    did not hold (their hours unknown)."""

    windows: list[tuple[dt.date, dt.date]]
    utilization: pa.Table
    coverage: pa.Table
    organization: pa.Table
    files: int
    bytes_read: int
    unknown_terms: int


def read_commitments(
    source: ExportSource, window: tuple[dt.date, dt.date], inventory: pa.Table
) -> ExportCommitments | None:
    """The window's utilization, coverage and organisation rows for the days the export holds (None when
    it holds no file of the window). ``inventory``: ``raw.commitment_inventory``'s resource_arn,
    commitment_type, instance_count, start_date and end_date. Raises ``duckdb.Error`` on an unreadable
    file and botocore's errors on an S3 refusal, as ``read_grain``."""
    before = source.bytes_read
    with open_export(source, window) as export:
        if export is None:
            return None
        conn = export.conn
        conn.register("inventory", inventory)
        utilization, coverage, organization, unknown = [], [], [], 0
        for lo, hi in export.windows:
            span = {"start": lo, "end": hi}
            used = conn.sql(_UTILIZATION_SQL, params=span).to_arrow_table()
            unknown += sum(used["unknown_terms"].to_pylist())
            used = used.drop_columns(["unknown_terms"])
            conn.register("utilization", used)
            conn.execute(f"CREATE OR REPLACE TEMP TABLE coverage AS {_COVERAGE_SQL}", span)
            sp = conn.sql(_SP_COVERAGE_SQL).to_arrow_table()
            conn.register("sp_coverage", sp)
            organization.append(conn.sql(_ORGANIZATION_SQL, params=span).to_arrow_table())
            coverage += [sp, conn.sql(_RI_COVERAGE_SQL).to_arrow_table()]
            utilization.append(used)
            conn.unregister("sp_coverage")
            conn.unregister("utilization")
        return ExportCommitments(
            export.windows,
            _concat(utilization),
            _concat(coverage),
            _concat(organization),
            export.files,
            source.bytes_read - before,
            unknown,
        )


def _concat(tables: list[pa.Table]) -> pa.Table:
    """The parts as one table (the caller casts to the registry's schema); empty without parts."""
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
