-- marts.tag_compliance_resources: one row per resource seen by the Tagging API or a service's own list call.
-- Inputs: temp table exempt_types(pattern); parameters $snapshot_date (DATE), $case_insensitive (BOOLEAN),
-- $keys (the required keys), $pointers (the same as JSON pointers), $allowed and $allowed_lower (per key,
-- its allowed values or NULL, as given and lower-cased without surrounding whitespace), $scan_sources (the
-- raw.scan_status sources of the resource scans: tagging and every list call).
-- A resource is unknown when no source saw it on the last scan (all its raw rows are stale, kept from the
-- last good scan of a failed account × region × operation): counted, never judged, never dropped.
-- found_by: tagging_api (only the Tagging API saw it), the list call that alone saw it (ec2_describe,
-- rds_describe, lambda_list, s3_list, dynamodb_list, elbv2_describe: never tagged, or the Tagging API lags),
-- or both.
WITH listed AS (
    SELECT resource_arn, account_id, region, 'ec2' AS service, 'ec2:instance' AS resource_type,
        instance_id AS resource_id, tags, stale_since, 'ec2_describe' AS lister
    FROM raw.ec2_instances
    UNION ALL
    SELECT resource_arn, account_id, region, 'ec2', 'ec2:volume', volume_id, tags, stale_since, 'ec2_describe'
    FROM raw.ec2_volumes
    UNION ALL
    SELECT resource_arn, account_id, region, 'ec2', 'ec2:snapshot', snapshot_id, tags, stale_since, 'ec2_describe'
    FROM raw.ec2_snapshots
    UNION ALL
    SELECT resource_arn, account_id, region, 'ec2', 'ec2:elastic-ip', allocation_id, tags, stale_since,
        'ec2_describe'
    FROM raw.ec2_addresses
    UNION ALL
    SELECT resource_arn, account_id, region, 'ec2', 'ec2:natgateway', nat_gateway_id, tags, stale_since,
        'ec2_describe'
    FROM raw.ec2_nat_gateways
    UNION ALL
    SELECT resource_arn, account_id, region, 'ec2', 'ec2:image', image_id, tags, stale_since, 'ec2_describe'
    FROM raw.ec2_images
    UNION ALL
    SELECT resource_arn, account_id, region, 'rds', 'rds:db', resource_id, tags, stale_since, 'rds_describe'
    FROM raw.rds_db_instances
    UNION ALL
    SELECT resource_arn, account_id, region, 'lambda', 'lambda:function', resource_id, tags, stale_since,
        'lambda_list'
    FROM raw.lambda_functions
    UNION ALL
    SELECT resource_arn, account_id, region, 's3', 's3:bucket', resource_id, tags, stale_since, 's3_list'
    FROM raw.s3_buckets
    UNION ALL
    SELECT resource_arn, account_id, region, 'dynamodb', 'dynamodb:table', resource_id, tags, stale_since,
        'dynamodb_list'
    FROM raw.dynamodb_tables
    UNION ALL
    SELECT resource_arn, account_id, region, 'elasticloadbalancing', 'elasticloadbalancing:loadbalancer',
        resource_id, tags, stale_since, 'elbv2_describe'
    FROM raw.elbv2_load_balancers
),
-- Where the tag scan failed: a listed resource whose list call gives no tags (tags NULL) and that the
-- Tagging API did not list there has unknown tags, not none.
tagging_failed AS (
    SELECT account_id, region, scanned_at AS failed_at FROM raw.scan_status
    WHERE source = 'tagging' AND status NOT IN ('ok', 'region_not_enabled')
),
universe AS (
    SELECT
        coalesce(e.resource_arn, t.resource_arn) AS resource_arn,
        coalesce(e.account_id, t.account_id) AS account_id,
        coalesce(e.region, t.region) AS region,
        coalesce(e.service, t.service) AS service,
        coalesce(e.resource_type, t.resource_type) AS resource_type,
        coalesce(e.resource_id, t.resource_id) AS resource_id,
        CASE WHEN e.resource_arn IS NULL THEN 'tagging_api'
             WHEN t.resource_arn IS NULL THEN e.lister
             ELSE 'both' END AS found_by,
        -- A list call that gives tags (EC2, RDS) is read directly from the service; the Tagging API lags
        -- behind it. A fresh answer beats a stale one. A list call without tags takes the Tagging API's, and
        -- a resource the Tagging API does not list has none (it lists every resource that has tags).
        CASE WHEN e.resource_arn IS NOT NULL AND e.tags IS NULL THEN coalesce(t.tags, '{}')
             WHEN e.resource_arn IS NOT NULL AND t.resource_arn IS NOT NULL
                  AND e.stale_since IS NOT NULL AND t.stale_since IS NULL THEN t.tags
             ELSE coalesce(e.tags, t.tags) END AS tags,
        CASE WHEN e.resource_arn IS NOT NULL AND e.tags IS NULL
             THEN CASE WHEN t.resource_arn IS NOT NULL THEN t.stale_since
                       ELSE coalesce(e.stale_since, f.failed_at) END
             WHEN (e.resource_arn IS NULL OR e.stale_since IS NOT NULL)
                  AND (t.resource_arn IS NULL OR t.stale_since IS NOT NULL)
             THEN coalesce(least(e.stale_since, t.stale_since), e.stale_since, t.stale_since) END AS stale_since
    FROM listed e
    FULL OUTER JOIN raw.tagged_resources t ON t.resource_arn = e.resource_arn
    LEFT JOIN tagging_failed f ON f.account_id = e.account_id AND f.region = e.region
),
-- Each resource's tags are parsed twice in all: the required keys' values in one go (JSON pointers, so any
-- character in a key is safe) and the list of keys (to find case variants). Then every rule is applied to
-- the lists of a resource with list lambdas: no row per (resource, key), no GROUP BY.
parsed AS (
    SELECT resource_arn, tags,
        json_extract_string(tags, $pointers) AS exact_values,
        json_keys(tags) AS tag_keys
    FROM universe
),
variants AS (
    SELECT resource_arn, tags, exact_values,
        list_transform($keys, lambda k: list_sort(list_filter(tag_keys, lambda x: lower(x) = lower(k) AND x <> k)))
            AS variant_lists
    FROM parsed
),
used AS (
    SELECT resource_arn, variant_lists,
        list_transform(range(1, len($keys) + 1), lambda i: {
            'key': $keys[i],
            'key_used': CASE WHEN exact_values[i] IS NOT NULL THEN $keys[i]
                             WHEN $case_insensitive AND len(variant_lists[i]) > 0 THEN variant_lists[i][1] END,
            'value_used': CASE WHEN exact_values[i] IS NOT NULL THEN exact_values[i]
                               WHEN $case_insensitive AND len(variant_lists[i]) > 0
                               THEN CAST(tags AS MAP(VARCHAR, VARCHAR))[variant_lists[i][1]] END,
            'allowed': $allowed[i],
            'allowed_lower': $allowed_lower[i]
        }) AS uses
    FROM variants
),
judged AS (
    SELECT resource_arn, variant_lists,
        list_transform(uses, lambda u: {
            'key': u.key,
            'key_used': u.key_used,
            'value_used': u.value_used,
            'reason': CASE
                WHEN u.key_used IS NULL THEN NULL
                WHEN trim(u.value_used, E' \t\r\n') = '' THEN 'empty'
                WHEN u.allowed IS NULL OR list_contains(u.allowed, u.value_used) THEN NULL
                WHEN list_contains(u.allowed, trim(u.value_used, E' \t\r\n')) THEN 'surrounding_whitespace'
                WHEN list_contains(u.allowed_lower, lower(trim(u.value_used, E' \t\r\n'))) THEN 'wrong_case'
                ELSE 'not_allowed'
            END
        }) AS judged
    FROM used
),
per_resource AS (
    SELECT resource_arn,
        list_transform(list_filter(judged, lambda j: j.key_used IS NULL), lambda j: j.key) AS missing_keys,
        list_transform(
            list_filter(judged, lambda j: j.reason IS NOT NULL),
            lambda j: {'key': j.key_used, 'value': j.value_used, 'reason': j.reason}
        ) AS invalid_values,
        flatten(variant_lists) AS case_variant_keys,
        len(list_filter(judged, lambda j: j.key_used IS NOT NULL AND j.reason IS NULL))::INTEGER AS keys_satisfied
    FROM judged
),
failures AS (
    SELECT account_id, region, string_agg(source || ': ' || status, '; ' ORDER BY source) AS scan_failures
    FROM raw.scan_status
    WHERE list_contains($scan_sources, source) AND status <> 'ok'
    GROUP BY ALL
),
assembled AS (
    SELECT u.*, p.missing_keys, p.invalid_values, p.case_variant_keys, p.keys_satisfied,
        (u.resource_type IN (SELECT pattern FROM exempt_types) OR u.service IN (SELECT pattern FROM exempt_types))
            AS is_exempt,
        f.scan_failures
    FROM universe u
    JOIN per_resource p USING (resource_arn)
    LEFT JOIN failures f ON f.account_id = u.account_id AND f.region = u.region
)
SELECT $snapshot_date::DATE AS snapshot_date,
    resource_arn, account_id, region, service, resource_type, resource_id, found_by, tags,
    missing_keys, invalid_values, case_variant_keys, keys_satisfied, is_exempt, scan_failures, stale_since,
    CASE
        WHEN is_exempt THEN 'exempt'
        WHEN stale_since IS NOT NULL THEN 'unknown'
        WHEN len(missing_keys) = 0 AND len(invalid_values) = 0 THEN 'compliant'
        ELSE 'non_compliant'
    END AS compliance_status,
    CASE WHEN is_exempt OR stale_since IS NOT NULL THEN NULL
         ELSE len(missing_keys) = 0 AND len(invalid_values) = 0 END AS compliant
FROM assembled
