-- marts.focus_spend_coverage for the billing periods the report's days fall in: spend-weighted tag coverage
-- per service, resource type and resource from the FOCUS export, the most untagged cost first.
SELECT billing_period, dimension, dimension_value, resources, effective_cost AS effective_cost_usd,
       tagged_cost AS tagged_cost_usd, untagged_cost AS untagged_cost_usd, coverage_pct
FROM marts.focus_spend_coverage
WHERE billing_period BETWEEN strftime(CAST($start AS DATE), '%Y-%m')
                         AND strftime(CAST($end AS DATE) - INTERVAL 1 DAY, '%Y-%m')
ORDER BY billing_period, dimension, untagged_cost DESC, dimension_value
LIMIT $limit
