-- Cost per linked account over [$start, $end), named from Organizations.
WITH names AS (
    SELECT account_id, any_value(account_name) AS account_name, any_value(ou_path) AS ou_path
    FROM raw.aws_accounts GROUP BY account_id
)
SELECT c.account_id, n.account_name, n.ou_path,
       CAST(sum(c.unblended_cost) AS DOUBLE) AS unblended_usd,
       CAST(sum(c.amortized_cost) AS DOUBLE) AS amortized_usd,
       CAST(sum(c.net_unblended_cost) AS DOUBLE) AS net_unblended_usd,
       CAST(sum(c.unblended_cost) * 100 / nullif(sum(sum(c.unblended_cost)) OVER (), 0) AS DOUBLE) AS share_pct,
       count(DISTINCT c.service) AS services
FROM raw.ce_cost_daily c
LEFT JOIN names n ON n.account_id = c.account_id
WHERE c.usage_date >= $start AND c.usage_date < $end
GROUP BY c.account_id, n.account_name, n.ou_path
ORDER BY unblended_usd DESC, c.account_id
