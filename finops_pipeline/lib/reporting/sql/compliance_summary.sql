-- marts.tag_compliance_summary at the newest snapshot taken before the period ends (else the newest).
WITH snap AS (
    SELECT coalesce(
        (SELECT max(snapshot_date) FROM marts.tag_compliance_summary WHERE snapshot_date < $end),
        (SELECT max(snapshot_date) FROM marts.tag_compliance_summary)) AS day
),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT s.snapshot_date, s.dimension, s.dimension_value,
       CASE WHEN s.dimension = 'account' THEN n.account_name END AS account_name, s.resources_total, s.resources_evaluated,
       s.resources_compliant, s.resources_exempt, s.resources_unknown, s.compliance_pct, s.key_coverage_pct,
       CAST(s.spend_usd AS DOUBLE) AS spend_usd, CAST(s.spend_tagged_usd AS DOUBLE) AS spend_tagged_usd,
       s.spend_coverage_pct, CAST(s.spend_unknown_usd AS DOUBLE) AS spend_unknown_usd,
       s.spend_coverage_status, array_to_string(s.keys_not_active, ', ') AS keys_not_active, s.status
FROM marts.tag_compliance_summary s JOIN snap ON s.snapshot_date = snap.day
LEFT JOIN names n ON n.account_id = s.dimension_value
ORDER BY CASE s.dimension WHEN 'overall' THEN 0 WHEN 'tag_key' THEN 1 WHEN 'account' THEN 2
                          WHEN 'service' THEN 3 ELSE 4 END, s.dimension_value
