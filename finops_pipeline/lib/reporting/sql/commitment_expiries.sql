-- Active Savings Plans and reservations whose term ends within 90 days after the period: what to renew.
SELECT i.end_date, CAST(i.end_date - CAST($end AS DATE) AS BIGINT) AS days_left, i.commitment_type,
       i.account_id, a.account_name, i.region, i.commitment_id, i.instance_type, i.instance_count,
       i.hourly_commitment AS hourly_commitment_usd, i.stale_since IS NOT NULL AS stale
FROM raw.commitment_inventory i
LEFT JOIN raw.aws_accounts a USING (account_id)
WHERE i.state = 'active' AND i.end_date >= CAST($end AS DATE) AND i.end_date < CAST($end AS DATE) + 90
ORDER BY i.end_date, i.account_id, i.commitment_id
