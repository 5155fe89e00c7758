-- Cost per service over [$start, $end), with its share of the period's unblended total.
SELECT service,
       CAST(sum(unblended_cost) AS DOUBLE) AS unblended_usd,
       CAST(sum(amortized_cost) AS DOUBLE) AS amortized_usd,
       CAST(sum(net_unblended_cost) AS DOUBLE) AS net_unblended_usd,
       CAST(sum(unblended_cost) * 100 / nullif(sum(sum(unblended_cost)) OVER (), 0) AS DOUBLE) AS share_pct,
       count(DISTINCT account_id) AS accounts
FROM raw.ce_cost_daily
WHERE usage_date >= $start AND usage_date < $end
GROUP BY service
ORDER BY unblended_usd DESC, service
