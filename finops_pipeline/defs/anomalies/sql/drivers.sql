-- Root-cause drivers of each detected event (table `events`): how much each usage type of the account
-- and region of the service (account × service events), service (account events) or account and
-- service (organisation events) changed over the event against its own average day of the 28 days
-- before. Credits and refunds (rows below zero) are left out: they are not what drove usage.
-- The region grain holds every account's spend on the service: its change is the service's, so a
-- share can exceed 1 when other accounts moved too. Usage types are the account's own, those whose
-- service is the event's (the usage_service view, usage_services.sql). Ranked in the event's
-- direction, the account's own usage types first (their changes add up to the event's; a region's
-- may hold other accounts' too); top 3 kept.
WITH ev AS (
    SELECT event_id, grain, account_id, service, start_date, end_date, impact_usd,
           date_diff('day', start_date, end_date) + 1 AS days
    FROM events
),
cand AS (
    SELECT e.event_id, 'region' AS dimension, r.region AS value, e.days, e.start_date, e.end_date,
           r.usage_date, r.unblended_cost
    FROM ev e JOIN raw.ce_cost_by_region r
      ON e.grain = 'account_service' AND r.service = e.service
     AND r.usage_date BETWEEN e.start_date - 28 AND e.end_date
    UNION ALL
    SELECT e.event_id, 'usage_type', u.usage_type, e.days, e.start_date, e.end_date, u.usage_date, u.unblended_cost
    FROM ev e JOIN usage_service s ON e.grain = 'account_service' AND s.service = e.service
    JOIN raw.ce_cost_by_account_usage_type u
      ON u.usage_type = s.usage_type AND u.account_id = e.account_id
     AND u.usage_date BETWEEN e.start_date - 28 AND e.end_date
    UNION ALL
    -- Account and organisation events apart: an OR across them leaves no key to hash-join on (3 s of
    -- a nested-loop join at 1,000 accounts, against 0.1 s).
    SELECT e.event_id, 'service', d.service, e.days, e.start_date, e.end_date, d.usage_date, d.unblended_cost
    FROM ev e JOIN raw.ce_cost_daily d
      ON e.grain = 'account' AND d.account_id = e.account_id
     AND d.usage_date BETWEEN e.start_date - 28 AND e.end_date
    UNION ALL
    SELECT e.event_id, 'service', d.service, e.days, e.start_date, e.end_date, d.usage_date, d.unblended_cost
    FROM ev e JOIN raw.ce_cost_daily d
      ON e.grain = 'organisation' AND d.usage_date BETWEEN e.start_date - 28 AND e.end_date
    UNION ALL
    SELECT e.event_id, 'account', d.account_id, e.days, e.start_date, e.end_date, d.usage_date, d.unblended_cost
    FROM ev e JOIN raw.ce_cost_daily d
      ON e.grain = 'organisation' AND d.usage_date BETWEEN e.start_date - 28 AND e.end_date
),
changes AS (
    SELECT event_id, dimension, value,
           CAST(coalesce(sum(unblended_cost) FILTER (WHERE usage_date >= start_date), 0) AS DOUBLE)
         - CAST(coalesce(sum(unblended_cost) FILTER (WHERE usage_date < start_date), 0) AS DOUBLE) / 28.0 * any_value(days)
           AS change_usd
    FROM cand WHERE unblended_cost > 0 GROUP BY ALL
)
SELECT c.event_id, c.dimension, c.value, c.change_usd,
       c.change_usd / nullif(e.impact_usd, 0) AS share,
       row_number() OVER (
           PARTITION BY c.event_id
           ORDER BY (c.dimension = 'usage_type' AND sign(e.impact_usd) * c.change_usd > 0) DESC,
                    sign(e.impact_usd) * c.change_usd DESC, c.value
       ) AS rank
FROM changes c JOIN ev e USING (event_id)
QUALIFY rank <= 3
ORDER BY c.event_id, rank
