-- The service each usage type belongs to: the one that spends most on it across the organisation
-- (raw.ce_cost_by_usage_type). A few usage types post under several services (Tax, Credit, storage
-- byte-hours); they are attributed to their largest.
CREATE OR REPLACE TEMP VIEW usage_service AS
SELECT usage_type, first(service ORDER BY cost DESC, service) AS service
FROM (SELECT usage_type, service, sum(unblended_cost) AS cost FROM raw.ce_cost_by_usage_type GROUP BY ALL)
GROUP BY usage_type
