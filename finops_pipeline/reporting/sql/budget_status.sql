-- marts.budget_status as of its newest computation (this month's spend against budgets and forecast).
SELECT month, scope, account_id, account_name, month_to_date_usd, forecast_usd, limit_usd, limit_source,
       actual_pct_of_limit, forecast_pct_of_limit, forecast_method, status, as_of
FROM marts.budget_status
WHERE as_of = (SELECT max(as_of) FROM marts.budget_status)
ORDER BY CASE scope WHEN 'organisation' THEN 0 ELSE 1 END, month, forecast_pct_of_limit DESC NULLS LAST, account_id
