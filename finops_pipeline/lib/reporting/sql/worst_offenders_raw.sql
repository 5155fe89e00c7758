-- Fallback while marts.tag_compliance_resources is not built: resources missing required keys.
WITH checked AS (
    SELECT *, list_filter(CAST($required_keys AS VARCHAR[]), lambda k: coalesce(trim(tags ->> k), '') = '')
                  AS missing
    FROM raw.tagged_resources
)
SELECT account_id, region, service, resource_type, resource_id, resource_arn, 'tagging_api' AS found_by,
       array_to_string(missing, ', ') AS missing_keys, CAST(NULL AS VARCHAR) AS invalid_values,
       CAST(NULL AS VARCHAR) AS case_variant_keys,
       CAST(len(CAST($required_keys AS VARCHAR[])) - len(missing) AS INTEGER) AS keys_satisfied,
       CAST(tags AS VARCHAR) AS tags
FROM checked
WHERE len(missing) > 0
ORDER BY keys_satisfied, account_id, resource_arn
LIMIT $limit
