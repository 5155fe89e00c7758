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
    tags            JSON,
    ingested_at     TIMESTAMPTZ NOT NULL
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
    scanned_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.scan_status (
    account_id  VARCHAR NOT NULL,
    region      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    detail      VARCHAR,
    items       BIGINT NOT NULL DEFAULT 0,
    scanned_at  TIMESTAMPTZ NOT NULL
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
