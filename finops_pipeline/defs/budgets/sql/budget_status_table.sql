-- marts.budget_status: this month's spend against budgets and thresholds, per account and overall,
-- with Cost Explorer's forecast (organisation) and a per-account forecast derived from it, the
-- organisation's forecast for next month, and last month's final actual against its limits.
CREATE TABLE IF NOT EXISTS marts.budget_status (
    month                   DATE NOT NULL,      -- first day of the month
    month_state             VARCHAR NOT NULL,   -- closed (last month: actual) | current (forecast) | next
    scope                   VARCHAR NOT NULL,   -- organisation | account | budget (any other scope)
    account_id              VARCHAR,            -- NULL for the organisation
    account_name            VARCHAR,
    month_to_date_usd       DOUBLE,             -- unblended, complete days before the as-of day
    days_elapsed            INTEGER,
    days_in_month           INTEGER NOT NULL,
    forecast_usd            DOUBLE,             -- month-end total
    forecast_lower_usd      DOUBLE,             -- Cost Explorer's 80% prediction interval (scaled per account)
    forecast_upper_usd      DOUBLE,
    forecast_method         VARCHAR NOT NULL,   -- cost_explorer | run_rate_scaled_to_cost_explorer | run_rate | actual | aws_budgets
                                                -- | run_rate_forecast_<status>: Cost Explorer gave no forecast (e.g. data_unavailable)
    limit_usd               DOUBLE,             -- the budget or threshold this row is held to
    limit_source            VARCHAR,            -- aws_budget:<name> | COST_MONTHLY_WARNING
    actual_pct_of_limit     DOUBLE,
    forecast_pct_of_limit   DOUBLE,
    last_day                DATE,               -- last complete day
    last_day_usd            DOUBLE,
    daily_threshold_usd     DOUBLE,             -- COST_DAILY_WARNING (organisation)
    budget_name             VARCHAR,            -- scope budget: the budget
    scope_detail            VARCHAR,            -- scope budget: what it covers, in words
    status                  VARCHAR NOT NULL,   -- over_budget | forecast_over_budget | over_daily_threshold | ok | no_budget | forecast_only
    as_of                   DATE NOT NULL,
    computed_at             TIMESTAMPTZ NOT NULL
);
