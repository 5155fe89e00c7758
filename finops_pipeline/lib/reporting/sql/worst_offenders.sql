-- The least compliant resources of the newest marts.tag_compliance_resources snapshot.
WITH snap AS (SELECT max(snapshot_date) AS day FROM marts.tag_compliance_resources),
names AS (SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1)
SELECT r.account_id, n.account_name, r.region, r.service, r.resource_type, r.resource_id, r.resource_arn, r.found_by,
       array_to_string(r.missing_keys, ', ') AS missing_keys,
       array_to_string(
           list_transform(r.invalid_values, lambda x: x.key || '=' || x.value || ' (' || x.reason || ')'), '; '
       ) AS invalid_values,
       array_to_string(r.case_variant_keys, ', ') AS case_variant_keys,
       r.keys_satisfied,
       CAST(r.tags AS VARCHAR) AS tags
FROM marts.tag_compliance_resources r JOIN snap ON r.snapshot_date = snap.day
LEFT JOIN names n ON n.account_id = r.account_id
WHERE r.compliance_status = 'non_compliant'
ORDER BY r.keys_satisfied, len(r.invalid_values) DESC, r.account_id, r.resource_arn
LIMIT $limit
