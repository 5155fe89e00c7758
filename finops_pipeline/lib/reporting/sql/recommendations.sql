-- The newest snapshot of marts.recommendations, biggest monthly saving first.
WITH snap AS (SELECT max(snapshot_date) AS day FROM marts.recommendations),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT r.kind, r.action, r.account_id, n.account_name, r.region, r.resource_id, r.detail,
       CAST(r.estimated_monthly_savings_usd AS DOUBLE) AS monthly_savings_usd,
       r.estimation_method, r.source, r.first_seen_date, r.snapshot_date, r.recommendation_id
FROM marts.recommendations r JOIN snap ON r.snapshot_date = snap.day
LEFT JOIN names n ON n.account_id = r.account_id
ORDER BY monthly_savings_usd DESC NULLS LAST, r.recommendation_id
LIMIT $limit
