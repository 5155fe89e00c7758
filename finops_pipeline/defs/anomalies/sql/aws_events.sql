-- AWS Cost Anomaly Detection's anomalies (raw.ce_anomalies) at our grains: a SERVICE monitor's
-- anomaly is an account × service event (the account from its root cause), a LINKED_ACCOUNT
-- monitor's an account event. AWS sets AnomalyEndDate on every anomaly (an ongoing one's is the last day
-- it evaluated, API_Anomaly); one is open when its end reaches the last data day ($1), or has no end.
SELECT anomaly_id AS event_id,
       CASE WHEN regexp_full_match(coalesce(dimension_value, ''), '[0-9]{12}') THEN 'account' ELSE 'account_service' END AS grain,
       CASE WHEN regexp_full_match(coalesce(dimension_value, ''), '[0-9]{12}') THEN dimension_value
            ELSE root_causes->0->>'LinkedAccount' END AS account_id,
       CASE WHEN regexp_full_match(coalesce(dimension_value, ''), '[0-9]{12}') THEN NULL
            ELSE coalesce(root_causes->0->>'Service', dimension_value) END AS service,
       anomaly_start_date AS start_date,
       coalesce(anomaly_end_date, CAST($1 AS DATE)) AS end_date,
       coalesce(anomaly_end_date >= CAST($1 AS DATE), true) AS is_open,
       CAST(total_actual_spend AS DOUBLE) AS actual_usd,
       CAST(total_expected_spend AS DOUBLE) AS expected_usd,
       CAST(total_impact AS DOUBLE) AS impact_usd,
       max_score AS score,
       root_causes,
       first_seen_at
FROM raw.ce_anomalies
WHERE anomaly_start_date IS NOT NULL
