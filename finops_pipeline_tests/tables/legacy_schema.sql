-- The warehouse DDL as written by hand before the table registry (finops_pipeline/tables): the contract
-- the generated DDL must keep (test_registry.py). Frozen: never edit; new tables go in the registry.
-- Warehouse contract (GUIDE §3). Idempotent: run on every connection that writes.
-- Keys are enforced by asset checks, not PRIMARY KEY constraints, so a partition window can be
-- deleted and re-inserted inside one transaction.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS meta;

CREATE TABLE IF NOT EXISTS raw.aws_accounts (
    account_id      VARCHAR NOT NULL,
    account_name    VARCHAR,
    email           VARCHAR,
    status          VARCHAR,
    ou_id           VARCHAR,
    ou_path         VARCHAR,
    joined_at       TIMESTAMPTZ,
    joined_method   VARCHAR,
    is_management   BOOLEAN NOT NULL DEFAULT FALSE,
    tags            JSON,               -- NULL: unknown (ListTagsForResource failed, see raw.scan_status)
    ingested_at     TIMESTAMPTZ NOT NULL
);

-- Whose bill the run's credentials saw (finops_pipeline/lib/caller_scope.py): one row per run of aws_accounts.
CREATE TABLE IF NOT EXISTS raw.caller_scope (
    run_id                  VARCHAR NOT NULL,
    caller_account_id       VARCHAR NOT NULL,
    caller_arn              VARCHAR,
    role                    VARCHAR NOT NULL,  -- management | delegated_administrator | member | ...
    management_account_id   VARCHAR,
    billing_view_arn        VARCHAR,
    partial                 BOOLEAN NOT NULL,  -- Cost Explorer sees only part of the organisation's bill
    organization_accounts   INTEGER,           -- accounts Organizations listed (NULL: not listed)
    description             VARCHAR,
    detected_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.ce_cost_daily (
    usage_date          DATE NOT NULL,
    account_id          VARCHAR NOT NULL,
    service             VARCHAR NOT NULL,
    unblended_cost      DECIMAL(18, 6) NOT NULL,
    amortized_cost      DECIMAL(18, 6) NOT NULL,
    net_unblended_cost  DECIMAL(18, 6) NOT NULL,
    is_estimated        BOOLEAN NOT NULL,
    currency            VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.ce_cost_by_region (
    usage_date          DATE NOT NULL,
    service             VARCHAR NOT NULL,
    region              VARCHAR NOT NULL,
    unblended_cost      DECIMAL(18, 6) NOT NULL,
    amortized_cost      DECIMAL(18, 6) NOT NULL,
    net_unblended_cost  DECIMAL(18, 6) NOT NULL,
    is_estimated        BOOLEAN NOT NULL,
    currency            VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.ce_cost_by_usage_type (
    usage_date          DATE NOT NULL,
    service             VARCHAR NOT NULL,
    usage_type          VARCHAR NOT NULL,
    unblended_cost      DECIMAL(18, 6) NOT NULL,
    amortized_cost      DECIMAL(18, 6) NOT NULL,
    net_unblended_cost  DECIMAL(18, 6) NOT NULL,
    is_estimated        BOOLEAN NOT NULL,
    currency            VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.ce_cost_by_account_usage_type (
    usage_date          DATE NOT NULL,
    account_id          VARCHAR NOT NULL,
    usage_type          VARCHAR NOT NULL,
    unblended_cost      DECIMAL(18, 6) NOT NULL,
    amortized_cost      DECIMAL(18, 6) NOT NULL,
    net_unblended_cost  DECIMAL(18, 6) NOT NULL,
    is_estimated        BOOLEAN NOT NULL,
    currency            VARCHAR NOT NULL
);

-- tag_value '' is spend without the tag (Cost Explorer's "Key$").
CREATE TABLE IF NOT EXISTS raw.ce_cost_by_tag (
    usage_date          DATE NOT NULL,
    account_id          VARCHAR NOT NULL,
    tag_key             VARCHAR NOT NULL,
    tag_value           VARCHAR NOT NULL,
    unblended_cost      DECIMAL(18, 6) NOT NULL,
    amortized_cost      DECIMAL(18, 6) NOT NULL,
    net_unblended_cost  DECIMAL(18, 6) NOT NULL,
    is_estimated        BOOLEAN NOT NULL,
    currency            VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.tagged_resources (
    resource_arn    VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    region          VARCHAR NOT NULL,
    service         VARCHAR NOT NULL,
    resource_type   VARCHAR NOT NULL,
    resource_id     VARCHAR,
    tags            JSON NOT NULL,
    scanned_at      TIMESTAMPTZ NOT NULL,
    stale_since     TIMESTAMPTZ,        -- NULL: seen by the last scan; else kept from the last good one
    stale_reason    VARCHAR             -- why the last scan of its account × region (× operation) failed
);

CREATE TABLE IF NOT EXISTS raw.scan_status (
    account_id  VARCHAR NOT NULL,
    region      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    detail      VARCHAR,
    items       BIGINT NOT NULL DEFAULT 0,
    scanned_at  TIMESTAMPTZ NOT NULL,
    last_ok_at  TIMESTAMPTZ         -- the last scan that answered ok (NULL: never: its data is missing)
);

CREATE TABLE IF NOT EXISTS raw.ce_anomalies (
    anomaly_id                  VARCHAR NOT NULL,
    anomaly_start_date          DATE,
    anomaly_end_date            DATE,
    dimension_value             VARCHAR,
    monitor_arn                 VARCHAR,
    feedback                    VARCHAR,
    max_score                   DOUBLE,
    current_score               DOUBLE,
    max_impact                  DECIMAL(18, 6),
    total_impact                DECIMAL(18, 6),
    total_actual_spend          DECIMAL(18, 6),
    total_expected_spend        DECIMAL(18, 6),
    total_impact_percentage     DOUBLE,
    root_causes                 JSON,
    raw                         JSON NOT NULL,
    first_seen_at               TIMESTAMPTZ NOT NULL,
    last_seen_at                TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.ce_recommendations (
    snapshot_date                   DATE NOT NULL,
    recommendation_id               VARCHAR NOT NULL,
    source                          VARCHAR NOT NULL,   -- reserved_instances | savings_plans | rightsizing
    service                         VARCHAR,
    account_id                      VARCHAR,
    region                          VARCHAR,
    resource_id                     VARCHAR,
    instance_type                   VARCHAR,
    action                          VARCHAR NOT NULL,
    term                            VARCHAR,
    payment_option                  VARCHAR,
    lookback_days                   INTEGER,
    recommended_quantity            DOUBLE,
    upfront_cost                    DECIMAL(18, 6),
    hourly_commitment               DECIMAL(18, 6),
    estimated_monthly_savings       DECIMAL(18, 6) NOT NULL,
    estimated_monthly_cost_before   DECIMAL(18, 6),
    currency                        VARCHAR NOT NULL,
    details                         JSON NOT NULL,
    fetched_at                      TIMESTAMPTZ NOT NULL
);
-- What tells the offer apart besides the columns above (platform, tenancy, engine, edition, deployment
-- option, licence, offering class, Savings Plans type / region / family), as hashed into recommendation_id.
-- Added after the table shipped: warehouses created before get it here.
ALTER TABLE raw.ce_recommendations ADD COLUMN IF NOT EXISTS offer JSON;
-- A kind AWS refused today (rightsizing not opted in, ...) keeps its last good rows, marked stale (issue #14).
ALTER TABLE raw.ce_recommendations ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ce_recommendations ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
-- The RI's recurring monthly fee, which hourly_commitment held before (issue #13 item 7: units per column).
ALTER TABLE raw.ce_recommendations ADD COLUMN IF NOT EXISTS recurring_monthly_cost DECIMAL(18, 6);

CREATE TABLE IF NOT EXISTS meta.api_call_log (
    run_id              VARCHAR NOT NULL,
    asset_key           VARCHAR NOT NULL,
    service             VARCHAR NOT NULL,
    operation           VARCHAR NOT NULL,
    calls               BIGINT NOT NULL,
    pages               BIGINT NOT NULL,
    estimated_cost_usd  DECIMAL(18, 2) NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL
);

-- The contract's grain (run_id, service, operation); the log keeps which asset made the calls.
CREATE OR REPLACE VIEW meta.api_calls AS
SELECT run_id, service, operation,
       sum(calls) AS calls, sum(pages) AS pages, sum(estimated_cost_usd) AS estimated_cost_usd,
       max(recorded_at) AS recorded_at
FROM meta.api_call_log
GROUP BY ALL;

-- ==== EC2 inventory, tag compliance and savings (issue #4) ===================================
-- EC2 describe calls of every active account × scan region (source 'ec2' in raw.scan_status).
-- They see resources that never had a tag, which the Tagging API cannot. tags: JSON object.
CREATE TABLE IF NOT EXISTS raw.ec2_instances (
    resource_arn    VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    region          VARCHAR NOT NULL,
    instance_id     VARCHAR NOT NULL,
    instance_type   VARCHAR,
    state           VARCHAR,            -- pending | running | stopping | stopped | shutting-down | terminated
    launch_time     TIMESTAMPTZ,
    tags            JSON NOT NULL,
    scanned_at      TIMESTAMPTZ NOT NULL,
    stale_since     TIMESTAMPTZ,        -- NULL: seen by the last scan; else kept from the last good one
    stale_reason    VARCHAR             -- why the last scan of its account × region (× operation) failed
);
-- When a stopped instance was stopped (StateTransitionReason 'User initiated (... GMT)'), issue #13 item 7.
ALTER TABLE raw.ec2_instances ADD COLUMN IF NOT EXISTS stopped_since TIMESTAMPTZ;

CREATE TABLE IF NOT EXISTS raw.ec2_volumes (
    resource_arn            VARCHAR NOT NULL,
    account_id              VARCHAR NOT NULL,
    region                  VARCHAR NOT NULL,
    volume_id               VARCHAR NOT NULL,
    volume_type             VARCHAR,
    size_gb                 DOUBLE,
    iops                    BIGINT,
    state                   VARCHAR,    -- available (unattached) | in-use | ...
    attached_instance_ids   VARCHAR[],
    create_time             TIMESTAMPTZ,
    tags                    JSON NOT NULL,
    scanned_at              TIMESTAMPTZ NOT NULL,
    stale_since             TIMESTAMPTZ,
    stale_reason            VARCHAR
);

-- Snapshots owned by the account (OwnerIds=['self']), not public or shared ones.
CREATE TABLE IF NOT EXISTS raw.ec2_snapshots (
    resource_arn    VARCHAR NOT NULL,
    account_id      VARCHAR NOT NULL,
    region          VARCHAR NOT NULL,
    snapshot_id     VARCHAR NOT NULL,
    volume_id       VARCHAR,
    volume_size_gb  DOUBLE,
    state           VARCHAR,
    storage_tier    VARCHAR,
    start_time      TIMESTAMPTZ,
    description     VARCHAR,
    tags            JSON NOT NULL,
    scanned_at      TIMESTAMPTZ NOT NULL,
    stale_since     TIMESTAMPTZ,        -- NULL: seen by the last scan; else kept from the last good one
    stale_reason    VARCHAR             -- why the last scan of its account × region (× operation) failed
);

CREATE TABLE IF NOT EXISTS raw.ec2_addresses (
    resource_arn            VARCHAR NOT NULL,
    account_id              VARCHAR NOT NULL,
    region                  VARCHAR NOT NULL,
    allocation_id           VARCHAR NOT NULL,
    public_ip               VARCHAR,
    domain                  VARCHAR,
    association_id          VARCHAR,
    instance_id             VARCHAR,
    network_interface_id    VARCHAR,
    tags                    JSON NOT NULL,
    scanned_at              TIMESTAMPTZ NOT NULL,
    stale_since             TIMESTAMPTZ,
    stale_reason            VARCHAR
);

-- One row per resource seen by the Tagging API or EC2 describe calls, on the latest snapshot_date.
CREATE TABLE IF NOT EXISTS marts.tag_compliance_resources (
    snapshot_date       DATE NOT NULL,
    resource_arn        VARCHAR NOT NULL,
    account_id          VARCHAR NOT NULL,
    region              VARCHAR NOT NULL,
    service             VARCHAR NOT NULL,
    resource_type       VARCHAR NOT NULL,
    resource_id         VARCHAR,
    found_by            VARCHAR NOT NULL,   -- tagging_api | ec2_describe | both
    tags                JSON NOT NULL,
    missing_keys        VARCHAR[] NOT NULL,
    invalid_values      STRUCT("key" VARCHAR, "value" VARCHAR, reason VARCHAR)[] NOT NULL,
    case_variant_keys   VARCHAR[] NOT NULL,
    keys_satisfied      INTEGER NOT NULL,
    is_exempt           BOOLEAN NOT NULL,
    scan_failures       VARCHAR,            -- failed scans of this account × region, NULL when all answered
    compliance_status   VARCHAR NOT NULL,   -- compliant | non_compliant | exempt | unknown
    compliant           BOOLEAN,            -- NULL when exempt or unknown
    stale_since         TIMESTAMPTZ         -- no source saw it on the last scan: kept from the last good one
);

-- One row set per snapshot_date: dimension overall | account | service | resource_type | tag_key.
CREATE TABLE IF NOT EXISTS marts.tag_compliance_summary (
    snapshot_date           DATE NOT NULL,
    dimension               VARCHAR NOT NULL,
    dimension_value         VARCHAR NOT NULL,
    resources_total         BIGINT NOT NULL,
    resources_exempt        BIGINT NOT NULL,
    resources_unknown       BIGINT NOT NULL,
    resources_evaluated     BIGINT NOT NULL,
    resources_compliant     BIGINT NOT NULL,
    compliance_pct          DOUBLE,         -- compliant / evaluated × 100 (tag_key: resources satisfying that key)
    key_coverage_pct        DOUBLE,         -- satisfied (resource, required key) pairs / all pairs × 100
    scans_failed            BIGINT NOT NULL,
    status                  VARCHAR NOT NULL, -- complete | partial | unknown
    spend_window_start      DATE,
    spend_window_end        DATE,           -- exclusive
    spend_usd               DECIMAL(18, 6), -- unblended cost in the window (overall, account, tag_key rows)
    spend_tagged_usd        DECIMAL(18, 6), -- with a non-empty value of the key (overall/account: mean over keys)
    spend_coverage_pct      DOUBLE,
    -- Coverage of the tag and EC2 scans (raw.scan_status): an account × region is complete (every scan
    -- answered), stale (a scan failed, its last good rows are kept) or missing (failed, never answered).
    -- Accounts and regions: complete when all their targets are, missing when all are missing, else stale.
    resources_stale         BIGINT,         -- kept from an earlier scan (counted in resources_unknown)
    targets_complete        BIGINT,
    targets_stale           BIGINT,
    targets_missing         BIGINT,
    accounts_complete       BIGINT,         -- overall row only, as the accounts_* and regions_* below
    accounts_stale          BIGINT,
    accounts_missing        BIGINT,
    regions_complete        BIGINT,
    regions_stale           BIGINT,
    regions_missing         BIGINT
);

-- Every way to save, one snapshot: Cost Explorer's purchases and rightsizing, and inventory waste.
CREATE TABLE IF NOT EXISTS marts.recommendations (
    snapshot_date                   DATE NOT NULL,
    recommendation_id               VARCHAR NOT NULL,
    account_id                      VARCHAR,
    region                          VARCHAR,
    resource_id                     VARCHAR,
    resource_arn                    VARCHAR,
    kind                            VARCHAR NOT NULL,  -- reserved_instances | savings_plans | rightsizing |
                                                       -- unattached_ebs_volume | unassociated_elastic_ip |
                                                       -- stopped_instance | old_snapshot
    action                          VARCHAR NOT NULL,
    detail                          VARCHAR,
    estimated_monthly_savings_usd   DECIMAL(18, 6),
    estimation_method               VARCHAR NOT NULL,
    source                          VARCHAR NOT NULL,  -- cost_explorer | ec2_inventory
    first_seen_date                 DATE NOT NULL,
    stale_since                     TIMESTAMPTZ        -- inventory kept from the last good scan (else NULL)
);

-- --- Spend alerts: anomalies, budgets and forecast (issue #5) -----------------------------------
-- Cost Explorer's GetCostForecast for the rest of this month and next month (organisation total).
CREATE TABLE IF NOT EXISTS raw.ce_forecasts (
    snapshot_date               DATE NOT NULL,      -- the day the forecast was taken
    period_start                DATE NOT NULL,
    period_end                  DATE NOT NULL,      -- exclusive
    metric                      VARCHAR NOT NULL,   -- UNBLENDED_COST
    mean_usd                    DECIMAL(18, 6) NOT NULL,
    lower_usd                   DECIMAL(18, 6),
    upper_usd                   DECIMAL(18, 6),
    prediction_interval_level   INTEGER NOT NULL,
    fetched_at                  TIMESTAMPTZ NOT NULL
);

-- AWS Budgets (DescribeBudgets in the management account), one snapshot a day.
CREATE TABLE IF NOT EXISTS raw.aws_budgets (
    snapshot_date           DATE NOT NULL,
    owner_account_id        VARCHAR NOT NULL,   -- the account holding the budget
    budget_name             VARCHAR NOT NULL,
    budget_type             VARCHAR NOT NULL,   -- COST | USAGE | RI_* | SAVINGS_PLANS_*
    time_unit               VARCHAR NOT NULL,   -- DAILY | MONTHLY | QUARTERLY | ANNUALLY
    limit_usd               DECIMAL(18, 6),
    actual_spend_usd        DECIMAL(18, 6),
    forecasted_spend_usd    DECIMAL(18, 6),
    linked_account_ids      VARCHAR[],          -- the accounts scoping it (CostFilters or FilterExpression)
    cost_filters            JSON,
    fetched_at              TIMESTAMPTZ NOT NULL,
    filter_expression       JSON,               -- the newer FilterExpression, as returned
    cost_types              JSON,               -- what counts (credits, refunds, amortised, ...)
    scope_kind              VARCHAR,            -- organisation | account | accounts | filtered (budget_scope.py)
    scope_description       VARCHAR,            -- the scope in words
    measure                 VARCHAR             -- unblended (recomputed from Cost Explorer) | aws_calculated
);

-- ==== Degraded scans keep their last good rows (issue #14) ===============================
-- Warehouses created before these columns existed get them here (no-ops on a new file).
ALTER TABLE raw.tagged_resources ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.tagged_resources ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
ALTER TABLE raw.ec2_instances ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_instances ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
ALTER TABLE raw.ec2_volumes ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_volumes ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
ALTER TABLE raw.ec2_snapshots ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_snapshots ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
ALTER TABLE raw.ec2_addresses ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_addresses ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
ALTER TABLE raw.scan_status ADD COLUMN IF NOT EXISTS last_ok_at TIMESTAMPTZ;
ALTER TABLE marts.tag_compliance_resources ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE marts.recommendations ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS resources_stale BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS targets_complete BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS targets_stale BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS targets_missing BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS accounts_complete BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS accounts_stale BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS accounts_missing BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS regions_complete BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS regions_stale BIGINT;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS regions_missing BIGINT;
-- warehouses made before budgets were scoped as AWS applies them
ALTER TABLE raw.aws_budgets ADD COLUMN IF NOT EXISTS filter_expression JSON;
ALTER TABLE raw.aws_budgets ADD COLUMN IF NOT EXISTS cost_types JSON;
ALTER TABLE raw.aws_budgets ADD COLUMN IF NOT EXISTS scope_kind VARCHAR;
ALTER TABLE raw.aws_budgets ADD COLUMN IF NOT EXISTS scope_description VARCHAR;
ALTER TABLE raw.aws_budgets ADD COLUMN IF NOT EXISTS measure VARCHAR;

-- ==== Cost allocation tag activation (issue #13 item 4) ===================================
-- ListCostAllocationTags for the required keys, one snapshot a day. Cost Explorer groups spend by a key
-- only once it is activated, and only from then on: active_from is the first usage day whose tag
-- grouping is trusted (the day after LastUpdatedDate; activation takes up to 24 hours), NULL for an
-- inactive key. status NotListed: a required key AWS does not list (no billed resource carried it).
CREATE TABLE IF NOT EXISTS raw.ce_cost_allocation_tags (
    snapshot_date       DATE NOT NULL,
    tag_key             VARCHAR NOT NULL,
    tag_type            VARCHAR,            -- UserDefined | AWSGenerated
    status              VARCHAR NOT NULL,   -- Active | Inactive | NotListed
    last_updated_date   TIMESTAMPTZ,        -- last activation or deactivation
    last_used_date      TIMESTAMPTZ,        -- last month a resource carried the key
    active_from         DATE,
    is_required         BOOLEAN NOT NULL,
    fetched_at          TIMESTAMPTZ NOT NULL
);
-- Spend coverage counts only days a key was active: the rest is unknown, not untagged.
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS spend_unknown_usd DECIMAL(18, 6);
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS spend_coverage_status VARCHAR;
ALTER TABLE marts.tag_compliance_summary ADD COLUMN IF NOT EXISTS keys_not_active VARCHAR[];

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
ALTER TABLE marts.budget_status ADD COLUMN IF NOT EXISTS month_state VARCHAR;
ALTER TABLE marts.budget_status ADD COLUMN IF NOT EXISTS budget_name VARCHAR;
ALTER TABLE marts.budget_status ADD COLUMN IF NOT EXISTS scope_detail VARCHAR;

-- marts.cost_anomalies: one row per anomalous event, ours (source 'finops_pipeline') and AWS's
-- (source 'aws', from raw.ce_anomalies), at three grains; matched when the other source has an
-- overlapping event on the same account / service.
CREATE TABLE IF NOT EXISTS marts.cost_anomalies (
    event_id                VARCHAR NOT NULL,
    source                  VARCHAR NOT NULL,   -- finops_pipeline | aws
    grain                   VARCHAR NOT NULL,   -- account_service | account | organisation
    account_id              VARCHAR,            -- NULL for the organisation
    account_name            VARCHAR,
    service                 VARCHAR,            -- NULL unless grain = account_service
    start_date              DATE NOT NULL,
    end_date                DATE NOT NULL,      -- inclusive; the last data day while the event is open
    days                    INTEGER NOT NULL,
    detected_date           DATE,               -- first day the event met every threshold
    is_open                 BOOLEAN NOT NULL,   -- still going on the last data day
    direction               VARCHAR NOT NULL,   -- increase | decrease
    kind                    VARCHAR NOT NULL,   -- spike | level_shift | new_series | drop | aws
    actual_usd              DOUBLE NOT NULL,    -- unblended cost over the event
    expected_usd            DOUBLE NOT NULL,
    impact_usd              DOUBLE NOT NULL,    -- actual - expected
    impact_pct              DOUBLE,             -- impact / expected × 100
    score                   DOUBLE,             -- ours: peak robust z; AWS: MaxScore (0-1)
    severity                VARCHAR NOT NULL,   -- low | medium | high (by |impact|)
    top_driver_dimension    VARCHAR,            -- region | usage_type | service | account
    top_driver_value        VARCHAR,
    top_driver_impact_usd   DOUBLE,             -- change of that driver over the event vs its baseline
    top_driver_share        DOUBLE,             -- of the event's impact
    drivers                 JSON,               -- top drivers: [{dimension, value, change_usd, share}]
    matched                 BOOLEAN NOT NULL,   -- the other source saw it too
    matched_event_ids       VARCHAR[],
    first_seen_at           TIMESTAMPTZ NOT NULL,
    computed_at             TIMESTAMPTZ NOT NULL
);

-- The complete inventory and the idle rules' CloudWatch activity (issue #16).

CREATE TABLE IF NOT EXISTS raw.ec2_nat_gateways (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    nat_gateway_id VARCHAR NOT NULL,
    state VARCHAR,
    connectivity_type VARCHAR,
    vpc_id VARCHAR,
    subnet_id VARCHAR,
    create_time TIMESTAMPTZ,
    tags JSON NOT NULL,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.ec2_nat_gateways ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_nat_gateways ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.ec2_images (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    image_id VARCHAR NOT NULL,
    name VARCHAR,
    state VARCHAR,
    creation_date TIMESTAMPTZ,
    snapshot_ids VARCHAR[],
    snapshot_size_gb DOUBLE,
    tags JSON NOT NULL,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.ec2_images ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.ec2_images ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.rds_db_instances (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    db_instance_class VARCHAR,
    engine VARCHAR,
    status VARCHAR,
    multi_az BOOLEAN,
    allocated_storage_gb DOUBLE,
    storage_type VARCHAR,
    create_time TIMESTAMPTZ,
    tags JSON,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.rds_db_instances ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.rds_db_instances ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.lambda_functions (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    runtime VARCHAR,
    memory_mb BIGINT,
    last_modified VARCHAR,
    tags JSON,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.lambda_functions ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.lambda_functions ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.s3_buckets (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    creation_date TIMESTAMPTZ,
    tags JSON,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.s3_buckets ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.s3_buckets ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.dynamodb_tables (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    tags JSON,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.dynamodb_tables ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.dynamodb_tables ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.elbv2_load_balancers (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    resource_id VARCHAR NOT NULL,
    name VARCHAR,
    type VARCHAR,
    scheme VARCHAR,
    state VARCHAR,
    created_time TIMESTAMPTZ,
    tags JSON,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.elbv2_load_balancers ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.elbv2_load_balancers ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

CREATE TABLE IF NOT EXISTS raw.cloudwatch_daily_activity (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    namespace VARCHAR NOT NULL,
    metric_name VARCHAR NOT NULL,
    statistic VARCHAR NOT NULL,
    dimension_value VARCHAR NOT NULL,
    window_start DATE NOT NULL,
    window_end DATE NOT NULL,
    daily STRUCT(day DATE, value DOUBLE)[] NOT NULL,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.cloudwatch_daily_activity ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.cloudwatch_daily_activity ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;

-- Commitments (issue #16): Savings Plans and RI utilization, coverage, inventory and KPIs.
CREATE TABLE IF NOT EXISTS raw.commitment_utilization (
    usage_date DATE NOT NULL,
    account_id VARCHAR NOT NULL,
    commitment_type VARCHAR NOT NULL,
    total_commitment DECIMAL(18, 6) NOT NULL,
    used_commitment DECIMAL(18, 6) NOT NULL,
    unused_commitment DECIMAL(18, 6) NOT NULL,
    on_demand_equivalent DECIMAL(18, 6) NOT NULL,
    net_savings DECIMAL(18, 6) NOT NULL,
    purchased_hours DOUBLE,
    used_hours DOUBLE
);
CREATE TABLE IF NOT EXISTS raw.commitment_coverage (
    usage_date DATE NOT NULL,
    account_id VARCHAR NOT NULL,
    commitment_type VARCHAR NOT NULL,
    covered_cost DECIMAL(18, 6) NOT NULL,
    on_demand_cost DECIMAL(18, 6) NOT NULL,
    covered_hours DOUBLE,
    on_demand_hours DOUBLE
);
CREATE TABLE IF NOT EXISTS raw.commitment_inventory (
    resource_arn VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    commitment_type VARCHAR NOT NULL,
    commitment_id VARCHAR NOT NULL,
    instance_type VARCHAR,
    instance_count BIGINT,
    hourly_commitment DECIMAL(18, 6) NOT NULL,
    upfront_usd DECIMAL(18, 6) NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    state VARCHAR NOT NULL,
    scanned_at TIMESTAMPTZ NOT NULL,
    stale_since TIMESTAMPTZ,
    stale_reason VARCHAR
);
ALTER TABLE raw.commitment_inventory ADD COLUMN IF NOT EXISTS stale_since TIMESTAMPTZ;
ALTER TABLE raw.commitment_inventory ADD COLUMN IF NOT EXISTS stale_reason VARCHAR;
CREATE TABLE IF NOT EXISTS marts.commitment_kpis (
    usage_date DATE NOT NULL,
    commitment_type VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    commitment_usd DECIMAL(18, 6) NOT NULL,
    used_usd DECIMAL(18, 6) NOT NULL,
    unused_usd DECIMAL(18, 6) NOT NULL,
    utilization_pct DOUBLE,
    unused_pct DOUBLE,
    on_demand_equivalent_usd DECIMAL(18, 6) NOT NULL,
    net_savings_usd DECIMAL(18, 6) NOT NULL,
    eligible_on_demand_usd DECIMAL(18, 6) NOT NULL,
    coverage_pct DOUBLE,
    effective_savings_rate_pct DOUBLE,
    expiring_30d BIGINT NOT NULL,
    expiring_60d BIGINT NOT NULL,
    expiring_90d BIGINT NOT NULL,
    expiring_30d_hourly_usd DECIMAL(18, 6) NOT NULL,
    expiring_60d_hourly_usd DECIMAL(18, 6) NOT NULL,
    expiring_90d_hourly_usd DECIMAL(18, 6) NOT NULL
);
ALTER TABLE marts.commitment_kpis ADD COLUMN IF NOT EXISTS coverage_known BOOLEAN;
ALTER TABLE marts.recommendations ADD COLUMN IF NOT EXISTS coverage_now_pct DOUBLE;
ALTER TABLE marts.recommendations ADD COLUMN IF NOT EXISTS coverage_after_pct DOUBLE;
