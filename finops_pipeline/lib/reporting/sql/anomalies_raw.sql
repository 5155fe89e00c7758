-- Fallback while marts.cost_anomalies is not built: AWS Cost Anomaly Detection's anomalies.
-- AWS sets AnomalyEndDate on ongoing anomalies too (the last day evaluated): open = it ended on or after
-- the day before it was last read.
SELECT anomaly_start_date AS start_date, coalesce(anomaly_end_date, anomaly_start_date) AS end_date,
       CAST(date_diff('day', anomaly_start_date, coalesce(anomaly_end_date, anomaly_start_date)) + 1 AS INTEGER)
           AS days,
       'aws' AS source, CAST(NULL AS VARCHAR) AS grain, CAST(NULL AS VARCHAR) AS account_id,
       CAST(NULL AS VARCHAR) AS account_name, dimension_value AS service, 'aws' AS kind,
       CASE WHEN total_impact >= 0 THEN 'increase' ELSE 'decrease' END AS direction,
       CAST(NULL AS VARCHAR) AS severity,
       CAST(total_actual_spend AS DOUBLE) AS actual_usd, CAST(total_expected_spend AS DOUBLE) AS expected_usd,
       CAST(total_impact AS DOUBLE) AS impact_usd, total_impact_percentage AS impact_pct, max_score AS score,
       CAST(NULL AS VARCHAR) AS top_driver_dimension, CAST(NULL AS VARCHAR) AS top_driver_value,
       CAST(NULL AS DOUBLE) AS top_driver_impact_usd, coalesce(anomaly_end_date >= CAST(timezone('UTC', last_seen_at) AS DATE) - 1, true) AS is_open,
       CAST(NULL AS BOOLEAN) AS matched, anomaly_id AS event_id
FROM raw.ce_anomalies
WHERE anomaly_start_date < $end AND coalesce(anomaly_end_date, anomaly_start_date) >= $start
ORDER BY abs(total_impact) DESC, anomaly_id
LIMIT $limit
