-- marts.budget_status for the months the report covers, as of its newest computation: a closed month
-- shows its actual against its limit, the current month its spend to date and forecast to month end.
SELECT month, month_state, scope, account_id, account_name, budget_name, scope_detail, month_to_date_usd,
       forecast_usd, limit_usd, limit_source, actual_pct_of_limit, forecast_pct_of_limit, forecast_method, status, as_of
FROM marts.budget_status
WHERE as_of = (SELECT max(as_of) FROM marts.budget_status)
  AND month >= CAST(date_trunc('month', CAST($start AS DATE)) AS DATE) AND month < $end
  AND month_state <> 'next'
ORDER BY month, CASE scope WHEN 'organisation' THEN 0 WHEN 'budget' THEN 1 ELSE 2 END, forecast_pct_of_limit DESC NULLS LAST, account_id
