-- Fallback while marts.tag_compliance_summary is not built: the same columns from the raw tables.
-- Resource side: raw.tagged_resources (the Tagging API sees only resources that have or had tags).
-- Spend side: raw.ce_cost_by_tag over [$start, $end); tag_value '' is spend without the key.
WITH keys AS (SELECT unnest(CAST($required_keys AS VARCHAR[])) AS tag_key),
pairs AS (
    SELECT r.resource_arn, r.account_id, k.tag_key,
           coalesce(trim(r.tags ->> k.tag_key), '') <> '' AS ok
    FROM raw.tagged_resources r CROSS JOIN keys k
),
per_resource AS (
    SELECT resource_arn, account_id, bool_and(ok) AS compliant, count(*) FILTER (WHERE ok) AS satisfied,
           count(*) AS pairs
    FROM pairs GROUP BY ALL
),
res AS (
    SELECT 'overall' AS dimension, 'all' AS dimension_value, count(*) AS resources_total,
           count(*) FILTER (WHERE compliant) AS resources_compliant,
           sum(satisfied) * 100.0 / nullif(sum(pairs), 0) AS key_coverage_pct
    FROM per_resource
    UNION ALL
    SELECT 'account', account_id, count(*), count(*) FILTER (WHERE compliant),
           sum(satisfied) * 100.0 / nullif(sum(pairs), 0)
    FROM per_resource GROUP BY account_id
    UNION ALL
    SELECT 'tag_key', tag_key, count(*), count(*) FILTER (WHERE ok), count(*) FILTER (WHERE ok) * 100.0 / nullif(count(*), 0)
    FROM pairs GROUP BY tag_key
),
spend_key AS (
    SELECT account_id, tag_key, sum(unblended_cost) AS spend,
           sum(unblended_cost) FILTER (WHERE tag_value <> '') AS tagged
    FROM raw.ce_cost_by_tag
    WHERE usage_date >= $start AND usage_date < $end AND tag_key IN (SELECT tag_key FROM keys)
    GROUP BY ALL
),
spend AS (
    SELECT 'overall' AS dimension, 'all' AS dimension_value,
           sum(spend) / (SELECT count(*) FROM keys) AS spend_usd,
           sum(tagged) / (SELECT count(*) FROM keys) AS spend_tagged_usd
    FROM spend_key
    UNION ALL
    SELECT 'account', account_id, sum(spend) / (SELECT count(*) FROM keys), sum(tagged) / (SELECT count(*) FROM keys)
    FROM spend_key GROUP BY account_id
    UNION ALL
    SELECT 'tag_key', tag_key, sum(spend), sum(tagged) FROM spend_key GROUP BY tag_key
)
SELECT CAST(NULL AS DATE) AS snapshot_date,
       coalesce(res.dimension, spend.dimension) AS dimension,
       coalesce(res.dimension_value, spend.dimension_value) AS dimension_value,
       CASE WHEN coalesce(res.dimension, spend.dimension) = 'account' THEN (
           SELECT any_value(a.account_name) FROM raw.aws_accounts a
           WHERE a.account_id = coalesce(res.dimension_value, spend.dimension_value)) END AS account_name,
       coalesce(res.resources_total, 0) AS resources_total,
       coalesce(res.resources_total, 0) AS resources_evaluated,
       coalesce(res.resources_compliant, 0) AS resources_compliant,
       0 AS resources_exempt, 0 AS resources_unknown,
       CAST(res.resources_compliant * 100.0 / nullif(res.resources_total, 0) AS DOUBLE) AS compliance_pct,
       CAST(res.key_coverage_pct AS DOUBLE) AS key_coverage_pct,
       CAST(spend.spend_usd AS DOUBLE) AS spend_usd,
       CAST(spend.spend_tagged_usd AS DOUBLE) AS spend_tagged_usd,
       CAST(coalesce(spend.spend_tagged_usd, 0) * 100 / nullif(spend.spend_usd, 0) AS DOUBLE) AS spend_coverage_pct,
       CAST(NULL AS DOUBLE) AS spend_unknown_usd, CAST(NULL AS VARCHAR) AS spend_coverage_status,
       CAST(NULL AS VARCHAR) AS keys_not_active,
       'raw' AS status
FROM res FULL OUTER JOIN spend
  ON res.dimension = spend.dimension AND res.dimension_value = spend.dimension_value
ORDER BY CASE coalesce(res.dimension, spend.dimension) WHEN 'overall' THEN 0 WHEN 'tag_key' THEN 1 ELSE 2 END,
         2, 3
