-- Fallback while marts.recommendations is not built: Cost Explorer's newest recommendation snapshot.
WITH snap AS (SELECT max(snapshot_date) AS day FROM raw.ce_recommendations),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT r.source AS kind, r.action, r.account_id, n.account_name, r.region, r.resource_id,
       concat_ws(' ', r.service, r.instance_type, r.term, r.payment_option) AS detail,
       CAST(r.estimated_monthly_savings AS DOUBLE) AS monthly_savings_usd,
       'cost_explorer' AS estimation_method, 'cost_explorer' AS source, r.snapshot_date AS first_seen_date,
       r.snapshot_date, r.recommendation_id
FROM raw.ce_recommendations r JOIN snap ON r.snapshot_date = snap.day
LEFT JOIN names n ON n.account_id = r.account_id
ORDER BY monthly_savings_usd DESC NULLS LAST, r.recommendation_id
LIMIT $limit
