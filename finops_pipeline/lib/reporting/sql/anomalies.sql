-- marts.cost_anomalies events overlapping the period [$start, $end), largest impact first.
SELECT start_date, end_date, days, source, grain, account_id, account_name, service, kind, direction,
       severity, CAST(actual_usd AS DOUBLE) AS actual_usd, CAST(expected_usd AS DOUBLE) AS expected_usd,
       CAST(impact_usd AS DOUBLE) AS impact_usd, impact_pct, score,
       top_driver_dimension, top_driver_value, CAST(top_driver_impact_usd AS DOUBLE) AS top_driver_impact_usd,
       is_open, matched, event_id
FROM marts.cost_anomalies
WHERE start_date < $end AND end_date >= $start
ORDER BY abs(impact_usd) DESC, event_id
LIMIT $limit
