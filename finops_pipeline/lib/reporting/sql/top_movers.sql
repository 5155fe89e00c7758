-- Account × service whose unblended cost moved most between the period [$start, $end) and its
-- like-for-like comparison period [$prev_start, $prev_end) (reporting.periods.Period.previous).
WITH cur AS (
    SELECT account_id, service, sum(unblended_cost) AS cost FROM raw.ce_cost_daily
    WHERE usage_date >= $start AND usage_date < $end GROUP BY ALL
),
prev AS (
    SELECT account_id, service, sum(unblended_cost) AS cost FROM raw.ce_cost_daily
    WHERE usage_date >= $prev_start AND usage_date < $prev_end GROUP BY ALL
),
joined AS (
    SELECT coalesce(cur.account_id, prev.account_id) AS account_id,
           coalesce(cur.service, prev.service) AS service,
           coalesce(prev.cost, 0) AS previous, coalesce(cur.cost, 0) AS current
    FROM cur FULL OUTER JOIN prev ON cur.account_id = prev.account_id AND cur.service = prev.service
),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT j.account_id, n.account_name, j.service,
       CAST(j.previous AS DOUBLE) AS previous_usd,
       CAST(j.current AS DOUBLE) AS current_usd,
       CAST(j.current - j.previous AS DOUBLE) AS change_usd,
       CASE WHEN j.previous <> 0 THEN round(CAST((j.current - j.previous) * 100 / abs(j.previous) AS DOUBLE), 4) END
           AS change_pct
FROM joined j LEFT JOIN names n ON n.account_id = j.account_id
WHERE j.current <> j.previous
ORDER BY abs(j.current - j.previous) DESC, j.account_id, j.service
LIMIT $limit
