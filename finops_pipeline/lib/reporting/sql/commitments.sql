-- marts.commitment_kpis, organisation-wide, per day and commitment type of the period: the
-- utilization and coverage trend and the savings they bring.
SELECT usage_date, commitment_type, commitment_usd, used_usd, unused_usd, utilization_pct, coverage_pct,
       on_demand_equivalent_usd, eligible_on_demand_usd, net_savings_usd, effective_savings_rate_pct,
       expiring_30d, expiring_60d, expiring_90d, expiring_30d_hourly_usd, expiring_90d_hourly_usd
FROM marts.commitment_kpis
WHERE scope = 'organization' AND usage_date >= $start AND usage_date < $end
ORDER BY usage_date, commitment_type
