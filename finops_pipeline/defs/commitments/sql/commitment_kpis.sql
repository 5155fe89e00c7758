-- marts.commitment_kpis: per day, commitment type and scope (every account, and 'organization').
-- Utilization and coverage come from Cost Explorer's own answers (raw.commitment_*); the percentages
-- and rates are computed once here from the summed dollars and hours, never averaged.
-- Days whose Savings Plans coverage was read organisation-wide only (FINOPS_SP_COVERAGE_ACCOUNT_DAYS): no
-- account row holds it, so the organisation takes raw.sp_coverage_organization's figure and each account's
-- coverage of the day is unknown (NULL), not zero.
WITH organization_only AS (
    SELECT usage_date, commitment_type, covered_cost, on_demand_cost
    FROM raw.sp_coverage_organization WHERE NOT per_account
),
per_account AS (
    SELECT
        coalesce(u.usage_date, c.usage_date) AS usage_date,
        coalesce(u.commitment_type, c.commitment_type) AS commitment_type,
        coalesce(u.account_id, c.account_id) AS scope,
        coalesce(u.total_commitment, 0) AS commitment_usd,
        coalesce(u.used_commitment, 0) AS used_usd,
        coalesce(u.unused_commitment, 0) AS unused_usd,
        coalesce(u.on_demand_equivalent, 0) AS on_demand_equivalent_usd,
        coalesce(u.net_savings, 0) AS net_savings_usd,
        coalesce(c.covered_cost, 0) AS covered_cost,
        coalesce(c.on_demand_cost, 0) AS eligible_on_demand_usd,
        c.covered_hours,
        c.on_demand_hours,
        NOT (coalesce(u.commitment_type, c.commitment_type) LIKE 'Savings Plans: %'
             AND coalesce(u.usage_date, c.usage_date) IN (SELECT usage_date FROM organization_only))
            AS coverage_known
    FROM raw.commitment_utilization u
    FULL JOIN raw.commitment_coverage c USING (usage_date, account_id, commitment_type)
),
scoped AS (
    SELECT * FROM per_account
    UNION ALL
    SELECT usage_date, commitment_type, 'organization', sum(commitment_usd), sum(used_usd), sum(unused_usd),
           sum(on_demand_equivalent_usd), sum(net_savings_usd), sum(covered_cost), sum(eligible_on_demand_usd),
           sum(covered_hours), sum(on_demand_hours), true
    FROM (
        SELECT * EXCLUDE (coverage_known) FROM per_account
        UNION ALL BY NAME
        SELECT usage_date, commitment_type, covered_cost, on_demand_cost AS eligible_on_demand_usd,
               0 AS commitment_usd, 0 AS used_usd, 0 AS unused_usd, 0 AS on_demand_equivalent_usd,
               0 AS net_savings_usd
        FROM organization_only
    )
    GROUP BY usage_date, commitment_type
),
expiries AS (
    SELECT s.usage_date, s.commitment_type, s.scope,
           count(*) FILTER (WHERE k.end_date <= s.usage_date + 30) AS expiring_30d,
           count(*) FILTER (WHERE k.end_date <= s.usage_date + 60) AS expiring_60d,
           count(*) FILTER (WHERE k.end_date <= s.usage_date + 90) AS expiring_90d,
           coalesce(sum(k.hourly_commitment) FILTER (WHERE k.end_date <= s.usage_date + 30), 0) AS h30,
           coalesce(sum(k.hourly_commitment) FILTER (WHERE k.end_date <= s.usage_date + 60), 0) AS h60,
           coalesce(sum(k.hourly_commitment) FILTER (WHERE k.end_date <= s.usage_date + 90), 0) AS h90
    FROM scoped s
    JOIN raw.commitment_inventory k ON k.commitment_type = s.commitment_type
        AND (s.scope = 'organization' OR k.account_id = s.scope)
        AND k.start_date <= s.usage_date AND k.end_date > s.usage_date
    GROUP BY ALL
)
SELECT
    s.usage_date, s.commitment_type, s.scope,
    s.commitment_usd, s.used_usd, s.unused_usd,
    CASE WHEN s.commitment_usd > 0 THEN round(100 * s.used_usd / s.commitment_usd, 4) END AS utilization_pct,
    CASE WHEN s.commitment_usd > 0 THEN round(100 * s.unused_usd / s.commitment_usd, 4) END AS unused_pct,
    s.on_demand_equivalent_usd, s.net_savings_usd, s.eligible_on_demand_usd,
    CASE
        WHEN NOT s.coverage_known THEN NULL
        WHEN s.covered_hours IS NOT NULL AND s.covered_hours + s.on_demand_hours > 0
            THEN round(100 * s.covered_hours / (s.covered_hours + s.on_demand_hours), 4)
        WHEN s.covered_hours IS NULL AND s.covered_cost + s.eligible_on_demand_usd > 0
            THEN round(100 * s.covered_cost / (s.covered_cost + s.eligible_on_demand_usd), 4)
    END AS coverage_pct,
    CASE WHEN s.coverage_known AND s.on_demand_equivalent_usd + s.eligible_on_demand_usd > 0
        THEN round(100 * s.net_savings_usd / (s.on_demand_equivalent_usd + s.eligible_on_demand_usd), 4)
    END AS effective_savings_rate_pct,
    coalesce(e.expiring_30d, 0) AS expiring_30d,
    coalesce(e.expiring_60d, 0) AS expiring_60d,
    coalesce(e.expiring_90d, 0) AS expiring_90d,
    coalesce(e.h30, 0) AS expiring_30d_hourly_usd,
    coalesce(e.h60, 0) AS expiring_60d_hourly_usd,
    coalesce(e.h90, 0) AS expiring_90d_hourly_usd,
    s.coverage_known
FROM scoped s
LEFT JOIN expiries e USING (usage_date, commitment_type, scope)
WHERE s.commitment_usd <> 0 OR s.covered_cost <> 0 OR s.eligible_on_demand_usd <> 0
   OR coalesce(s.covered_hours, 0) <> 0 OR coalesce(s.on_demand_hours, 0) <> 0
ORDER BY s.usage_date, s.commitment_type, s.scope
