-- marts.tag_compliance_summary: one row set per snapshot date; dimensions overall, account, service,
-- resource_type and tag_key. Inputs: marts.tag_compliance_resources rows of $snapshot_date, temp table
-- rule_keys(tag_key, ...), raw.ce_cost_by_tag, raw.ce_cost_allocation_tags and raw.scan_status; parameters $snapshot_date, $window_days,
-- $scan_sources (the raw.scan_status sources of the resource scans).
-- Spend window: the $window_days complete days ending with the newest day of raw.ce_cost_by_tag before
-- the snapshot date (end exclusive).
WITH res AS (
    SELECT * FROM marts.tag_compliance_resources WHERE snapshot_date = $snapshot_date::DATE
),
n_keys AS (SELECT count(*) AS n FROM rule_keys),
res_counts AS (
    SELECT
        CASE WHEN grouping(account_id) = 0 THEN 'account' WHEN grouping(service) = 0 THEN 'service'
             WHEN grouping(resource_type) = 0 THEN 'resource_type' ELSE 'overall' END AS dimension,
        CASE WHEN grouping(account_id) = 0 THEN account_id WHEN grouping(service) = 0 THEN service
             WHEN grouping(resource_type) = 0 THEN resource_type ELSE 'all' END AS dimension_value,
        count(*) AS resources_total,
        count(*) FILTER (WHERE compliance_status = 'exempt') AS resources_exempt,
        count(*) FILTER (WHERE compliance_status = 'unknown') AS resources_unknown,
        count(*) FILTER (WHERE compliance_status IN ('compliant', 'non_compliant')) AS resources_evaluated,
        count(*) FILTER (WHERE compliance_status = 'compliant') AS resources_compliant,
        count(*) FILTER (WHERE stale_since IS NOT NULL) AS resources_stale,
        coalesce(sum(keys_satisfied) FILTER (WHERE compliance_status IN ('compliant', 'non_compliant')), 0)
            AS pairs_satisfied
    FROM res
    GROUP BY GROUPING SETS ((), (account_id), (service), (resource_type))
),
key_counts AS (
    SELECT 'tag_key' AS dimension, k.tag_key AS dimension_value,
        o.resources_total, o.resources_exempt, o.resources_unknown, o.resources_evaluated, o.resources_stale,
        (SELECT count(*) FROM res r
         WHERE r.compliance_status IN ('compliant', 'non_compliant')
           AND NOT list_contains(r.missing_keys, k.tag_key)
           AND NOT list_contains(list_transform(r.invalid_values, lambda x: lower(x.key)), lower(k.tag_key))
        ) AS resources_compliant
    FROM rule_keys k, (SELECT * FROM res_counts WHERE dimension = 'overall') o
),
counts AS (
    SELECT *, resources_compliant AS pairs_satisfied, 1 AS pair_keys FROM key_counts
    UNION ALL BY NAME
    SELECT *, (SELECT n FROM n_keys) AS pair_keys FROM res_counts
),
failures AS (
    SELECT
        CASE WHEN grouping(account_id) = 0 THEN 'account' ELSE 'overall' END AS dimension,
        coalesce(account_id, 'all') AS dimension_value,
        count(*) AS scans_failed
    FROM raw.scan_status
    WHERE list_contains($scan_sources, source) AND status <> 'ok'
    GROUP BY GROUPING SETS ((), (account_id))
),
-- Coverage: each account × region is complete (every scan ok), missing (a failed scan that never answered
-- ok: nothing of it is known) or stale (failed, its last good rows kept).
target_state AS (
    SELECT account_id, region,
        CASE WHEN bool_and(status = 'ok') THEN 'complete'
             WHEN bool_or(status <> 'ok' AND last_ok_at IS NULL) THEN 'missing'
             ELSE 'stale' END AS state
    FROM raw.scan_status
    WHERE list_contains($scan_sources, source)
    GROUP BY ALL
),
coverage AS (
    SELECT
        CASE WHEN grouping(account_id) = 0 THEN 'account' ELSE 'overall' END AS dimension,
        coalesce(account_id, 'all') AS dimension_value,
        count(*) FILTER (WHERE state = 'complete') AS targets_complete,
        count(*) FILTER (WHERE state = 'stale') AS targets_stale,
        count(*) FILTER (WHERE state = 'missing') AS targets_missing
    FROM target_state
    GROUP BY GROUPING SETS ((), (account_id))
),
rolled AS (  -- accounts and regions: complete when all their targets are, missing when all are, else stale
    SELECT 'account' AS what,
        CASE WHEN bool_and(state = 'complete') THEN 'complete' WHEN bool_and(state = 'missing') THEN 'missing'
             ELSE 'stale' END AS state
    FROM target_state GROUP BY account_id
    UNION ALL
    SELECT 'region',
        CASE WHEN bool_and(state = 'complete') THEN 'complete' WHEN bool_and(state = 'missing') THEN 'missing'
             ELSE 'stale' END
    FROM target_state GROUP BY region
),
rolled_counts AS (
    SELECT 'overall' AS dimension, 'all' AS dimension_value,
        count(*) FILTER (WHERE what = 'account' AND state = 'complete') AS accounts_complete,
        count(*) FILTER (WHERE what = 'account' AND state = 'stale') AS accounts_stale,
        count(*) FILTER (WHERE what = 'account' AND state = 'missing') AS accounts_missing,
        count(*) FILTER (WHERE what = 'region' AND state = 'complete') AS regions_complete,
        count(*) FILTER (WHERE what = 'region' AND state = 'stale') AS regions_stale,
        count(*) FILTER (WHERE what = 'region' AND state = 'missing') AS regions_missing
    FROM rolled
),
bounds AS (
    SELECT max(usage_date) + 1 - $window_days::INTEGER AS w_start, max(usage_date) + 1 AS w_end
    FROM raw.ce_cost_by_tag
    WHERE usage_date < $snapshot_date::DATE
),
-- Cost allocation tag activation, newest snapshot up to the snapshot date: Cost Explorer groups spend
-- by a key only from its activation on (an inactive key's spend is all `Key$`), so only those days
-- count for coverage; the rest is unknown. No snapshot at all (never ingested): every day counts.
activation AS (
    SELECT tag_key, status, active_from FROM raw.ce_cost_allocation_tags
    WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_cost_allocation_tags
                           WHERE snapshot_date <= $snapshot_date::DATE)
),
spend_key AS (
    SELECT c.account_id, c.tag_key,
        sum(c.unblended_cost) AS spend,
        coalesce(sum(c.unblended_cost) FILTER (WHERE known), 0) AS known,
        coalesce(sum(c.unblended_cost) FILTER (WHERE known AND c.tag_value <> ''), 0) AS tagged
    FROM (
        SELECT c.*, (a.tag_key IS NULL OR a.status = 'NotListed'
                     OR (a.status = 'Active' AND c.usage_date >= coalesce(a.active_from, DATE '0001-01-01')))
                    AS known
        FROM raw.ce_cost_by_tag c LEFT JOIN activation a USING (tag_key)
    ) c, bounds b
    WHERE c.usage_date >= b.w_start AND c.usage_date < b.w_end
      AND c.tag_key IN (SELECT tag_key FROM rule_keys)
    GROUP BY ALL
),
spend AS (
    SELECT
        CASE WHEN grouping(account_id) = 0 THEN 'account' WHEN grouping(tag_key) = 0 THEN 'tag_key'
             ELSE 'overall' END AS dimension,
        CASE WHEN grouping(account_id) = 0 THEN account_id WHEN grouping(tag_key) = 0 THEN tag_key
             ELSE 'all' END AS dimension_value,
        -- Every key's grouping adds up to the same total, so per account and overall: mean over keys.
        CAST(sum(spend) / count(DISTINCT tag_key) AS DECIMAL(18, 6)) AS spend_usd,
        CAST(sum(tagged) / count(DISTINCT tag_key) AS DECIMAL(18, 6)) AS spend_tagged_usd,
        CAST(sum(spend - known) / count(DISTINCT tag_key) AS DECIMAL(18, 6)) AS spend_unknown_usd,
        -- Over the spend whose tag grouping is known: unknown spend is neither tagged nor untagged.
        CASE WHEN sum(known) > 0 THEN 100.0 * sum(tagged) / sum(known) END AS spend_coverage_pct,
        CASE WHEN sum(spend) = sum(known) THEN 'known' WHEN sum(known) = 0 THEN 'unknown'
             ELSE 'partial' END AS spend_coverage_status,
        list_sort(list(DISTINCT tag_key) FILTER (WHERE spend <> known)) AS keys_not_active
    FROM spend_key
    GROUP BY GROUPING SETS ((), (account_id), (tag_key))
),
keys AS (
    SELECT dimension, dimension_value FROM counts
    UNION SELECT dimension, dimension_value FROM failures
    UNION SELECT dimension, dimension_value FROM spend
    UNION SELECT 'overall', 'all'
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    k.dimension,
    k.dimension_value,
    coalesce(c.resources_total, 0) AS resources_total,
    coalesce(c.resources_exempt, 0) AS resources_exempt,
    coalesce(c.resources_unknown, 0) AS resources_unknown,
    coalesce(c.resources_evaluated, 0) AS resources_evaluated,
    coalesce(c.resources_compliant, 0) AS resources_compliant,
    CASE WHEN c.resources_evaluated > 0 THEN 100.0 * c.resources_compliant / c.resources_evaluated END
        AS compliance_pct,
    CASE WHEN c.resources_evaluated > 0 AND c.pair_keys > 0
         THEN 100.0 * c.pairs_satisfied / (c.resources_evaluated * c.pair_keys) END AS key_coverage_pct,
    coalesce(f.scans_failed, 0) AS scans_failed,
    CASE WHEN coalesce(f.scans_failed, 0) = 0 THEN 'complete'
         WHEN coalesce(c.resources_evaluated, 0) = 0 THEN 'unknown'
         ELSE 'partial' END AS status,
    CASE WHEN s.spend_usd IS NOT NULL THEN (SELECT w_start FROM bounds) END AS spend_window_start,
    CASE WHEN s.spend_usd IS NOT NULL THEN (SELECT w_end FROM bounds) END AS spend_window_end,
    s.spend_usd,
    s.spend_tagged_usd,
    s.spend_coverage_pct,
    s.spend_unknown_usd,
    s.spend_coverage_status,
    coalesce(s.keys_not_active, []) AS keys_not_active,
    coalesce(c.resources_stale, 0) AS resources_stale,
    v.targets_complete, v.targets_stale, v.targets_missing,
    r.accounts_complete, r.accounts_stale, r.accounts_missing,
    r.regions_complete, r.regions_stale, r.regions_missing
FROM keys k
LEFT JOIN counts c USING (dimension, dimension_value)
LEFT JOIN failures f USING (dimension, dimension_value)
LEFT JOIN spend s USING (dimension, dimension_value)
LEFT JOIN coverage v USING (dimension, dimension_value)
LEFT JOIN rolled_counts r USING (dimension, dimension_value)
ORDER BY
    list_position(['overall', 'account', 'service', 'resource_type', 'tag_key'], k.dimension),
    k.dimension_value
