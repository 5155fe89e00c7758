-- Daily unblended cost per account × usage type (raw.ce_cost_by_account_usage_type), each row labelled
-- with the account × service series it belongs to (series.sql's ids) and its usage type as `driver`.
-- Needs the usage_service view (usage_services.sql).
-- A row per day, account and usage type already (the table's key): no aggregate to pay for.
SELECT 'as|' || u.account_id || '|' || s.service AS series_id, u.usage_type AS driver,
       u.account_id AS "group", u.usage_date AS date, CAST(u.unblended_cost AS DOUBLE) AS cost
FROM raw.ce_cost_by_account_usage_type u JOIN usage_service s USING (usage_type)
