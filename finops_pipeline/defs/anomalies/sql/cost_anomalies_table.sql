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
