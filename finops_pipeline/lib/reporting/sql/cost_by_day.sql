-- Cost per UTC day of the report period [$start, $end).
SELECT usage_date,
       CAST(sum(unblended_cost) AS DOUBLE) AS unblended_usd,
       CAST(sum(amortized_cost) AS DOUBLE) AS amortized_usd,
       CAST(sum(net_unblended_cost) AS DOUBLE) AS net_unblended_usd,
       bool_or(is_estimated) AS is_estimated
FROM raw.ce_cost_daily
WHERE usage_date >= $start AND usage_date < $end
GROUP BY usage_date
ORDER BY usage_date
