-- Fallback while marts.tag_compliance_resources is not built: resources missing required keys.
WITH checked AS (
    SELECT *, list_filter(CAST($required_keys AS VARCHAR[]), lambda k: coalesce(trim(tags ->> k), '') = '')
                  AS missing
    FROM raw.tagged_resources
),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT c.account_id, n.account_name, region, service, resource_type, resource_id, resource_arn,
       'tagging_api' AS found_by,
       array_to_string(missing, ', ') AS missing_keys, CAST(NULL AS VARCHAR) AS invalid_values,
       CAST(NULL AS VARCHAR) AS case_variant_keys,
       CAST(len(CAST($required_keys AS VARCHAR[])) - len(missing) AS INTEGER) AS keys_satisfied,
       CAST(tags AS VARCHAR) AS tags
FROM checked c LEFT JOIN names n ON n.account_id = c.account_id
WHERE len(missing) > 0
ORDER BY keys_satisfied, c.account_id, resource_arn
LIMIT $limit
