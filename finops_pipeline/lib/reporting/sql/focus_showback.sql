-- marts.focus_showback for the billing periods the report's days fall in: cost per value of the showback tag
-- key, untagged and shared cost as their own rows (the rows of a period add up to its bill).
SELECT billing_period, tag_key, allocation, tag_value, effective_cost AS effective_cost_usd,
       billed_cost AS billed_cost_usd, resources, share_pct
FROM marts.focus_showback
WHERE billing_period BETWEEN strftime(CAST($start AS DATE), '%Y-%m')
                         AND strftime(CAST($end AS DATE) - INTERVAL 1 DAY, '%Y-%m')
ORDER BY billing_period, effective_cost DESC, allocation, tag_value
