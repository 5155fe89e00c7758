-- One row per account and one for the organisation for the current month (month_state 'current'),
-- the same for the month before it once closed ('closed': its actual against its limit, so a report of
-- that month shows its own budgets), the organisation's next month ('next'), and one row per budget
-- that is neither one account's nor the organisation's (scope 'budget': several accounts, a service,
-- a tag, a cost category or other cost types; held to AWS's own calculated spend where the pipeline
-- cannot recompute it).
-- Parameters: $as_of (today: forecasts start here), $monthly_warning, $daily_warning, $forecast_status
-- (ce_cost_forecast's raw.scan_status: 'ok', or why Cost Explorer gave no forecast, e.g. 'data_unavailable':
-- then no forecast snapshot is used, not even an older one, and the run-rate rows say why in forecast_method).
-- Per-account forecasts cost no Cost Explorer request: each account's run rate over the last
-- RUN_RATE_DAYS complete days (last month's on the 1st: a run rate never collapses to zero while an
-- account spends) for the rest of the month, scaled so the accounts add up to Cost Explorer's forecast
-- for the organisation.
WITH params AS (
    SELECT CAST($as_of AS DATE) AS as_of,
           CAST(date_trunc('month', CAST($as_of AS DATE)) - INTERVAL 1 MONTH AS DATE) AS prev_month,
           CAST(date_trunc('month', CAST($as_of AS DATE)) AS DATE) AS month,
           CAST(date_trunc('month', CAST($as_of AS DATE)) + INTERVAL 1 MONTH AS DATE) AS next_month,
           CAST(date_trunc('month', CAST($as_of AS DATE)) + INTERVAL 2 MONTH AS DATE) AS month_after,
           CAST($forecast_status AS VARCHAR) AS forecast_status,
           CASE WHEN CAST($forecast_status AS VARCHAR) = 'ok' THEN 'run_rate'
                ELSE 'run_rate_forecast_' || CAST($forecast_status AS VARCHAR) END AS run_rate_method
),
dims AS (
    SELECT *, date_diff('day', month, as_of) AS elapsed, date_diff('day', month, next_month) AS dim,
           date_diff('day', as_of, next_month) AS remaining
    FROM params
),
accounts AS (
    SELECT account_id, any_value(account_name) AS account_name FROM raw.aws_accounts GROUP BY 1
    UNION
    SELECT DISTINCT c.account_id, NULL FROM raw.ce_cost_daily c, dims
    WHERE c.usage_date >= dims.month AND c.usage_date < dims.as_of
      AND c.account_id NOT IN (SELECT account_id FROM raw.aws_accounts)
),
mtd AS (
    SELECT a.account_id, any_value(a.account_name) AS account_name,
           coalesce(sum(CAST(c.unblended_cost AS DOUBLE)), 0) AS mtd
    FROM accounts a CROSS JOIN dims
    LEFT JOIN raw.ce_cost_daily c ON c.account_id = a.account_id AND c.usage_date >= dims.month AND c.usage_date < dims.as_of
    GROUP BY 1
),
forecast AS (   -- the newest snapshot's forecast of each period
    SELECT period_start, CAST(mean_usd AS DOUBLE) AS mean, CAST(lower_usd AS DOUBLE) AS lower,
           CAST(upper_usd AS DOUBLE) AS upper
    FROM raw.ce_forecasts
    WHERE metric = 'UNBLENDED_COST' AND snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_forecasts)
      AND CAST($forecast_status AS VARCHAR) = 'ok'
),
rest AS (SELECT f.* FROM forecast f, dims WHERE f.period_start = dims.as_of),
nxt AS (SELECT f.* FROM forecast f, dims WHERE f.period_start = dims.next_month),
recent AS (      -- the last 7 complete days (RUN_RATE_DAYS), wherever the month starts
    SELECT c.account_id, sum(CAST(c.unblended_cost AS DOUBLE)) / 7 AS daily
    FROM raw.ce_cost_daily c, dims d
    WHERE c.usage_date >= d.as_of - INTERVAL 7 DAY AND c.usage_date < d.as_of GROUP BY 1
),
run_rate AS (
    SELECT m.*, greatest(coalesce(r.daily, 0), 0) * d.remaining AS rest_rr
    FROM mtd m CROSS JOIN dims d LEFT JOIN recent r ON r.account_id = m.account_id
),
totals AS (SELECT sum(rest_rr) AS rest_rr, sum(mtd) AS mtd FROM run_rate),
budgets AS (    -- the newest snapshot, scoped as AWS applies the budget (finops_pipeline/lib/budget_scope.py);
                -- snapshots from before scope_kind existed: by their linked accounts
    SELECT budget_name, CAST(limit_usd AS DOUBLE) AS limit_usd, linked_account_ids, scope_description,
           coalesce(scope_kind, CASE coalesce(len(linked_account_ids), 0) WHEN 0 THEN 'organisation'
                                     WHEN 1 THEN 'account' ELSE 'accounts' END) AS scope_kind,
           coalesce(measure, 'unblended') AS measure,
           CAST(actual_spend_usd AS DOUBLE) AS aws_actual, CAST(forecasted_spend_usd AS DOUBLE) AS aws_forecast
    FROM raw.aws_budgets
    WHERE budget_type = 'COST' AND time_unit = 'MONTHLY'
      AND snapshot_date = (SELECT max(snapshot_date) FROM raw.aws_budgets)
),
account_limits AS (
    SELECT linked_account_ids[1] AS account_id, min(limit_usd) AS limit_usd,
           'aws_budget:' || arg_min(budget_name, limit_usd) AS limit_source
    FROM budgets WHERE scope_kind = 'account' AND measure = 'unblended' GROUP BY 1
),
org_limit AS (
    SELECT limit_usd, limit_source FROM (
        SELECT limit_usd, 'aws_budget:' || budget_name AS limit_source FROM budgets
        WHERE scope_kind = 'organisation' AND measure = 'unblended'
        UNION ALL
        SELECT CAST($monthly_warning AS DOUBLE), 'COST_MONTHLY_WARNING' WHERE $monthly_warning IS NOT NULL
    ) ORDER BY limit_usd LIMIT 1
),
last_day AS (
    SELECT max(usage_date) AS day FROM raw.ce_cost_daily, dims WHERE usage_date < dims.as_of
),
last_day_cost AS (
    SELECT c.account_id, sum(CAST(c.unblended_cost AS DOUBLE)) AS usd
    FROM raw.ce_cost_daily c JOIN last_day l ON c.usage_date = l.day GROUP BY 1
),
account_rows AS (
    SELECT d.month, 'current' AS month_state, 'account' AS scope, r.account_id, r.account_name, r.mtd AS month_to_date_usd,
           d.elapsed AS days_elapsed, d.dim AS days_in_month,
           r.mtd + CASE WHEN rest.mean IS NULL OR t.rest_rr = 0 THEN r.rest_rr
                        ELSE r.rest_rr / t.rest_rr * rest.mean END AS forecast_usd,
           CASE WHEN rest.mean IS NOT NULL AND t.rest_rr > 0 THEN r.mtd + r.rest_rr / t.rest_rr * rest.lower END AS forecast_lower_usd,
           CASE WHEN rest.mean IS NOT NULL AND t.rest_rr > 0 THEN r.mtd + r.rest_rr / t.rest_rr * rest.upper END AS forecast_upper_usd,
           CASE WHEN rest.mean IS NOT NULL AND t.rest_rr > 0 THEN 'run_rate_scaled_to_cost_explorer' ELSE d.run_rate_method END AS forecast_method,
           al.limit_usd, al.limit_source,
           l.day AS last_day, coalesce(ldc.usd, 0) AS last_day_usd, CAST(NULL AS DOUBLE) AS daily_threshold_usd,
           CAST(NULL AS VARCHAR) AS budget_name, CAST(NULL AS VARCHAR) AS scope_detail
    FROM run_rate r CROSS JOIN dims d CROSS JOIN totals t
    LEFT JOIN rest ON true
    LEFT JOIN account_limits al ON al.account_id = r.account_id
    LEFT JOIN last_day l ON true
    LEFT JOIN last_day_cost ldc ON ldc.account_id = r.account_id
),
org_row AS (
    SELECT d.month, 'current', 'organisation', NULL, NULL, t.mtd, d.elapsed, d.dim,
           t.mtd + coalesce(rest.mean, t.rest_rr), t.mtd + rest.lower, t.mtd + rest.upper,
           CASE WHEN rest.mean IS NULL THEN d.run_rate_method ELSE 'cost_explorer' END,
           ol.limit_usd, ol.limit_source,
           l.day, (SELECT coalesce(sum(usd), 0) FROM last_day_cost), CAST($daily_warning AS DOUBLE), NULL, NULL
    FROM dims d CROSS JOIN totals t LEFT JOIN rest ON true LEFT JOIN org_limit ol ON true LEFT JOIN last_day l ON true
),
next_row AS (
    SELECT d.next_month, 'next', 'organisation', NULL, NULL, NULL, 0, date_diff('day', d.next_month, d.month_after),
           nxt.mean, nxt.lower, nxt.upper, 'cost_explorer', ol.limit_usd, ol.limit_source,
           NULL, NULL, NULL, NULL, NULL
    FROM dims d JOIN nxt ON true LEFT JOIN org_limit ol ON true
),
closed AS (      -- last month, complete: its actual is final enough to hold against its limit
    SELECT a.account_id, any_value(a.account_name) AS account_name,
           coalesce(sum(CAST(c.unblended_cost AS DOUBLE)), 0) AS actual
    FROM accounts a CROSS JOIN dims d
    LEFT JOIN raw.ce_cost_daily c
           ON c.account_id = a.account_id AND c.usage_date >= d.prev_month AND c.usage_date < d.month
    WHERE EXISTS (SELECT 1 FROM raw.ce_cost_daily x WHERE x.usage_date >= d.prev_month AND x.usage_date < d.month)
    GROUP BY 1
),
closed_rows AS (
    SELECT d.prev_month, 'closed', 'account', c.account_id, c.account_name, c.actual,
           date_diff('day', d.prev_month, d.month), date_diff('day', d.prev_month, d.month),
           c.actual, NULL, NULL, 'actual', al.limit_usd, al.limit_source, NULL, NULL, NULL, NULL, NULL
    FROM closed c CROSS JOIN dims d LEFT JOIN account_limits al ON al.account_id = c.account_id
    UNION ALL
    SELECT d.prev_month, 'closed', 'organisation', NULL, NULL, sum(c.actual),
           any_value(date_diff('day', d.prev_month, d.month)), any_value(date_diff('day', d.prev_month, d.month)),
           sum(c.actual), NULL, NULL, 'actual', any_value(ol.limit_usd), any_value(ol.limit_source),
           NULL, NULL, NULL, NULL, NULL
    FROM closed c CROSS JOIN dims d LEFT JOIN org_limit ol ON true
    GROUP BY d.prev_month HAVING count(*) > 0
),
budget_rows AS (   -- every other budget (several accounts, a service, a tag, other cost types) on its own
    SELECT d.month, 'current', 'budget', NULL, NULL,
           CASE WHEN b.measure = 'unblended' THEN (
               SELECT coalesce(sum(r.mtd), 0) FROM run_rate r WHERE list_contains(b.linked_account_ids, r.account_id)
           ) ELSE b.aws_actual END,
           d.elapsed, d.dim,
           CASE WHEN b.measure = 'unblended' THEN (
               SELECT sum(a.forecast_usd) FROM account_rows a WHERE list_contains(b.linked_account_ids, a.account_id)
           ) ELSE b.aws_forecast END,
           NULL, NULL,
           CASE WHEN b.measure = 'unblended' THEN 'run_rate_scaled_to_cost_explorer' ELSE 'aws_budgets' END,
           b.limit_usd, 'aws_budget:' || b.budget_name, NULL, NULL, NULL, b.budget_name, b.scope_description
    FROM budgets b CROSS JOIN dims d
    WHERE NOT (b.scope_kind IN ('account', 'organisation') AND b.measure = 'unblended')
),
all_rows AS (
    SELECT * FROM account_rows UNION ALL SELECT * FROM org_row UNION ALL SELECT * FROM next_row
    UNION ALL SELECT * FROM closed_rows UNION ALL SELECT * FROM budget_rows
)
SELECT month, month_state, scope, account_id, account_name, month_to_date_usd, days_elapsed, days_in_month,
       forecast_usd, forecast_lower_usd, forecast_upper_usd, forecast_method, limit_usd, limit_source,
       month_to_date_usd / nullif(limit_usd, 0) * 100 AS actual_pct_of_limit,
       forecast_usd / nullif(limit_usd, 0) * 100 AS forecast_pct_of_limit,
       last_day, last_day_usd, daily_threshold_usd, budget_name, scope_detail,
       CASE WHEN limit_usd IS NOT NULL AND month_to_date_usd >= limit_usd THEN 'over_budget'
            WHEN limit_usd IS NOT NULL AND forecast_usd >= limit_usd THEN 'forecast_over_budget'
            WHEN daily_threshold_usd IS NOT NULL AND last_day_usd >= daily_threshold_usd THEN 'over_daily_threshold'
            WHEN month_to_date_usd IS NULL THEN 'forecast_only'
            WHEN limit_usd IS NULL THEN 'no_budget'
            ELSE 'ok' END AS status,
       (SELECT as_of FROM params) AS as_of
FROM all_rows
ORDER BY month, scope DESC, account_id, budget_name
