-- Daily unblended cost at the three grains the detector scores, from raw.ce_cost_daily.
-- series_id: 'as|<account>|<service>', 'a|<account>', 'o|organisation'; group: the account.
SELECT 'as|' || account_id || '|' || service AS series_id, account_id AS "group", usage_date AS date,
       CAST(sum(unblended_cost) AS DOUBLE) AS cost
FROM raw.ce_cost_daily GROUP BY ALL
UNION ALL
SELECT 'a|' || account_id, account_id, usage_date, CAST(sum(unblended_cost) AS DOUBLE)
FROM raw.ce_cost_daily GROUP BY ALL
UNION ALL
SELECT 'o|organisation', 'organisation', usage_date, CAST(sum(unblended_cost) AS DOUBLE)
FROM raw.ce_cost_daily GROUP BY ALL
