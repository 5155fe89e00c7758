-- marts.recommendations: every way to save, with estimated monthly USD savings and how they were estimated.
-- Inputs: raw.ce_recommendations (latest snapshot), raw.ec2_* inventory, temp tables price_ebs(volume_type,
-- region, usd_gb_month), price_snapshot(region, usd_gb_month), price_ipv4(region, usd_hour), idle_waste (the
-- rows of idle_waste.sql); parameters
-- $snapshot_date, $max_snapshot_age_days, $hours_per_month, $price_ref ("list prices of <date>, <file>").
-- Every recommendation_id appears once in the result, whatever its inputs hold: the latest snapshot is
-- de-duplicated (the raw key check blocks a run that would need it), and the previous copy is read one row per
-- id, so re-running can never multiply rows (issue #13, item 2: 2 -> 4 -> 8 rows a day).
WITH ce_latest AS (
    -- offer_label: what sets the offer apart, readable ("PostgreSQL, Multi-AZ, No license required").
    SELECT *, nullif(concat_ws(', ', offer->>'Platform', offer->>'Tenancy', offer->>'DatabaseEngine',
                               offer->>'DatabaseEdition', offer->>'DeploymentOption', offer->>'LicenseModel'),
                     '') AS offer_label
    FROM raw.ce_recommendations
    WHERE snapshot_date = (SELECT max(snapshot_date) FROM raw.ce_recommendations)
    QUALIFY row_number() OVER (
        PARTITION BY recommendation_id ORDER BY fetched_at DESC, estimated_monthly_savings DESC, details
    ) = 1
),
ce_first_seen AS (
    SELECT recommendation_id, min(snapshot_date) AS first_seen FROM raw.ce_recommendations GROUP BY 1
),
from_ce AS (
    SELECT
        c.recommendation_id, c.account_id, c.region, c.resource_id, NULL AS resource_arn,
        c.source AS kind,
        c.action,
        CASE c.source
            WHEN 'reserved_instances' THEN format('{} × {} ({}{}), {} {}', c.recommended_quantity, c.instance_type,
                                                  c.service, coalesce(', ' || c.offer_label, ''),
                                                  c.term, c.payment_option)
            WHEN 'savings_plans' THEN format('commit ${}/hour, {} {}', c.hourly_commitment, c.term, c.payment_option)
            ELSE format('{} {}', c.instance_type, c.action)
        END AS detail,
        CAST(c.estimated_monthly_savings AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        format('Cost Explorer {} recommendation, {}-day lookback (as returned by AWS)',
               replace(c.source, '_', ' '), c.lookback_days) AS estimation_method,
        'cost_explorer' AS source,
        f.first_seen,
        c.stale_since,
        -- What the purchase would add to coverage over its lookback: the on-demand cost the plan would cover
        -- (EstimatedOnDemandCost), or the reserved hours the instances would give (capped below at usage).
        CASE c.source
            WHEN 'savings_plans' THEN try_cast(c.details->>'EstimatedOnDemandCost' AS DOUBLE)
            WHEN 'reserved_instances' THEN 24.0 * c.lookback_days
                * try_cast(c.details->>'RecommendedNumberOfInstancesToPurchase' AS DOUBLE)
        END AS coverage_added,
        c.lookback_days,
        CASE c.source WHEN 'savings_plans' THEN 'Savings Plans: Compute'
                      WHEN 'reserved_instances' THEN 'Reserved Instances: ' || c.service END AS commitment_type
    FROM ce_latest c
    JOIN ce_first_seen f USING (recommendation_id)
),
unattached AS (
    SELECT v.account_id, v.region, v.volume_id AS resource_id, v.resource_arn,
        'unattached_ebs_volume' AS kind, 'delete_volume' AS action,
        format('{} GB {} volume, unattached', v.size_gb, v.volume_type) AS detail,
        CAST(v.size_gb * p.usd_gb_month AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_gb_month IS NULL THEN format('no {} price for {} in the list-price file', v.volume_type, v.region)
             ELSE format('{} GB × ${}/GB-month EBS {} ({})', v.size_gb, p.usd_gb_month, v.volume_type, $price_ref)
        END AS estimation_method,
        v.stale_since
    FROM raw.ec2_volumes v
    LEFT JOIN price_ebs p ON p.volume_type = v.volume_type AND p.region = v.region
    WHERE v.state = 'available'
),
idle_ips AS (
    SELECT a.account_id, a.region, a.allocation_id AS resource_id, a.resource_arn,
        'unassociated_elastic_ip' AS kind, 'release_address' AS action,
        format('elastic IP {}, not associated', a.public_ip) AS detail,
        CAST($hours_per_month * p.usd_hour AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_hour IS NULL THEN format('no public IPv4 price for {} in the list-price file', a.region)
             ELSE format('{} h × ${}/h idle public IPv4 ({})', $hours_per_month, p.usd_hour, $price_ref)
        END AS estimation_method,
        a.stale_since
    FROM raw.ec2_addresses a
    LEFT JOIN price_ipv4 p ON p.region = a.region
    WHERE a.association_id IS NULL AND a.instance_id IS NULL AND a.network_interface_id IS NULL
),
attachments AS (
    SELECT account_id, region, unnest(attached_instance_ids) AS instance_id, volume_id, volume_type, size_gb,
        stale_since
    FROM raw.ec2_volumes
),
-- A stopped instance is waste once stopped $stopped_min_days days (marts.py: STOPPED_INSTANCE_MIN_DAYS): a
-- shorter stop is maintenance or an off-hours schedule, not waste, and is not listed. One whose stop time
-- AWS did not give (stopped_since NULL) is listed for review, as AWS Config's ec2-stopped-instance rule
-- counts "cannot be determined" as non-compliant.
stopped_volumes AS (
    SELECT i.account_id, i.region, i.instance_id, i.resource_arn, i.stopped_since,
        $snapshot_date::DATE - i.stopped_since::DATE AS stopped_days,
        count(*) AS volumes,
        sum(a.size_gb) AS size_gb,
        sum(a.size_gb * p.usd_gb_month) AS volume_usd,
        bool_or(p.usd_gb_month IS NULL) AS price_missing,
        string_agg(format('{} GB {}', a.size_gb, a.volume_type), ' + ' ORDER BY a.volume_id) AS sizes,
        coalesce(i.stale_since, min(a.stale_since)) AS stale_since
    FROM raw.ec2_instances i
    JOIN attachments a ON a.account_id = i.account_id AND a.region = i.region AND a.instance_id = i.instance_id
    LEFT JOIN price_ebs p ON p.volume_type = a.volume_type AND p.region = a.region
    WHERE i.state = 'stopped'
      AND (i.stopped_since IS NULL OR i.stopped_since::DATE <= $snapshot_date::DATE - $stopped_min_days::INTEGER)
    GROUP BY i.account_id, i.region, i.instance_id, i.resource_arn, i.stale_since, i.stopped_since
),
stopped_ips AS (
    SELECT a.account_id, a.region, a.instance_id, count(*) AS ips, sum($hours_per_month * p.usd_hour) AS ip_usd,
        min(a.stale_since) AS ip_stale_since
    FROM raw.ec2_addresses a
    LEFT JOIN price_ipv4 p ON p.region = a.region
    WHERE a.instance_id IS NOT NULL
    GROUP BY ALL
),
stopped AS (
    SELECT s.account_id, s.region, s.instance_id AS resource_id, s.resource_arn,
        'stopped_instance' AS kind,
        CASE WHEN s.stopped_since IS NULL THEN 'review_stopped_instance'
             ELSE 'snapshot_and_terminate_instance' END AS action,
        format('{} with {} volume(s) ({}){}',
               CASE WHEN s.stopped_since IS NULL THEN 'instance stopped since an unknown time'
                    ELSE format('instance stopped {} days (since {})', s.stopped_days, s.stopped_since::DATE) END,
               s.volumes, s.sizes,
               CASE WHEN ip.ips > 0 THEN format(' and {} elastic IP(s)', ip.ips) ELSE '' END) AS detail,
        CAST(s.volume_usd + coalesce(ip.ip_usd, 0) AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN s.price_missing THEN format('no EBS price for a volume type in {} in the list-price file', s.region)
             ELSE format('attached EBS: {} at list $/GB-month{} ({}); a stopped instance pays no compute',
                         s.sizes,
                         CASE WHEN ip.ips > 0 THEN format(' + {} × {} h × idle IPv4 $/h', ip.ips, $hours_per_month)
                              ELSE '' END,
                         $price_ref)
        END AS estimation_method,
        coalesce(s.stale_since, ip.ip_stale_since) AS stale_since
    FROM stopped_volumes s
    LEFT JOIN stopped_ips ip USING (account_id, region, instance_id)
),
old_snapshots AS (
    SELECT s.account_id, s.region, s.snapshot_id AS resource_id, s.resource_arn,
        'old_snapshot' AS kind, 'delete_snapshot' AS action,
        format('{} GB snapshot from {}, {} days old', s.volume_size_gb, s.start_time::DATE,
               $snapshot_date::DATE - s.start_time::DATE) AS detail,
        CAST(s.volume_size_gb * p.usd_gb_month AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_gb_month IS NULL THEN format('no snapshot price for {} in the list-price file', s.region)
             ELSE format('{} GB (full volume size: an upper bound, snapshots are incremental) × ${}/GB-month ({})',
                         s.volume_size_gb, p.usd_gb_month, $price_ref)
        END AS estimation_method,
        s.stale_since
    FROM raw.ec2_snapshots s
    LEFT JOIN price_snapshot p ON p.region = s.region
    WHERE s.start_time < $snapshot_date::DATE - $max_snapshot_age_days::INTEGER
      -- A snapshot backing a registered AMI cannot be deleted (InvalidSnapshot.InUse) until the AMI is
      -- deregistered: it is counted once, under its AMI (old_images).
      AND NOT EXISTS (SELECT 1 FROM raw.ec2_images i
                      WHERE i.account_id = s.account_id AND i.region = s.region
                        AND list_contains(i.snapshot_ids, s.snapshot_id))
),
-- Own AMIs older than the snapshot age limit: registering an AMI costs nothing, its backing snapshots do.
old_images AS (
    SELECT i.account_id, i.region, i.image_id AS resource_id, i.resource_arn,
        'old_ami' AS kind, 'deregister_image_and_delete_snapshots' AS action,
        format('AMI {} from {}, {} days old, backed by {} snapshot(s) of {} GB', coalesce(i.name, i.image_id),
               i.creation_date::DATE, $snapshot_date::DATE - i.creation_date::DATE, len(i.snapshot_ids),
               i.snapshot_size_gb) AS detail,
        CAST(i.snapshot_size_gb * p.usd_gb_month AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_gb_month IS NULL THEN format('no snapshot price for {} in the list-price file', i.region)
             ELSE format('{} GB of backing snapshots (full volume size: an upper bound, snapshots are '
                         'incremental) × ${}/GB-month ({})', i.snapshot_size_gb, p.usd_gb_month, $price_ref)
        END AS estimation_method,
        i.stale_since
    FROM raw.ec2_images i
    LEFT JOIN price_snapshot p ON p.region = i.region
    WHERE i.creation_date < $snapshot_date::DATE - $max_snapshot_age_days::INTEGER
),
waste AS (
    SELECT * FROM unattached
    UNION ALL BY NAME SELECT * FROM idle_ips
    UNION ALL BY NAME SELECT * FROM stopped
    UNION ALL BY NAME SELECT * FROM old_snapshots
    UNION ALL BY NAME SELECT * FROM old_images
    UNION ALL BY NAME SELECT * FROM idle_waste  -- load balancers, NAT gateways, databases, Lambda (idle_waste.sql)
),
from_inventory AS (
    SELECT substr(sha256(kind || '|' || resource_arn), 1, 20) AS recommendation_id, * EXCLUDE (source),
        coalesce(source, 'ec2_inventory') AS source, NULL::DATE AS first_seen
    FROM waste
),
everything AS (
    SELECT * FROM from_ce
    UNION ALL BY NAME SELECT * FROM from_inventory
    QUALIFY row_number() OVER (
        PARTITION BY recommendation_id ORDER BY estimated_monthly_savings_usd DESC NULLS LAST, detail
    ) = 1
),
previous AS (
    SELECT recommendation_id, min(first_seen_date) AS first_seen_date FROM marts.recommendations GROUP BY 1
),
-- Coverage over each purchase's lookback (raw.commitment_coverage, issue #16), organisation-wide: the
-- ingest asks for PAYER-scoped purchases, which cover every account's usage. Dollars for Savings Plans,
-- hours for RIs. Days read organisation-wide only (FINOPS_SP_COVERAGE_ACCOUNT_DAYS) hold no account's
-- Savings Plans row: the organisation's own figure stands for them.
coverage AS (
    SELECT e.recommendation_id,
        sum(coalesce(cv.covered_hours, cv.covered_cost)) AS covered,
        sum(coalesce(cv.on_demand_hours, cv.on_demand_cost)) AS on_demand
    FROM everything e
    JOIN (
        SELECT usage_date, commitment_type, covered_cost, on_demand_cost, covered_hours, on_demand_hours
        FROM raw.commitment_coverage
        UNION ALL BY NAME
        SELECT usage_date, commitment_type, covered_cost, on_demand_cost
        FROM raw.sp_coverage_organization WHERE NOT per_account
    ) cv ON cv.commitment_type = e.commitment_type
        AND cv.usage_date >= $snapshot_date::DATE - e.lookback_days AND cv.usage_date < $snapshot_date::DATE
    GROUP BY 1
)
SELECT
    $snapshot_date::DATE AS snapshot_date,
    e.recommendation_id, e.account_id, e.region, e.resource_id, e.resource_arn, e.kind, e.action,
    -- Waste found in rows kept from the last good scan stays, labelled: the scan that would confirm it failed.
    e.detail || CASE WHEN e.stale_since IS NOT NULL
                     THEN format(' (stale: last scanned before {}, the scan since failed)', e.stale_since::DATE)
                     ELSE '' END AS detail,
    e.estimated_monthly_savings_usd, e.estimation_method, e.source, e.stale_since,
    -- A recommendation seen yesterday keeps its first day; one that vanished and came back starts again.
    coalesce(least(prev.first_seen_date, e.first_seen), $snapshot_date::DATE) AS first_seen_date,
    CASE WHEN cv.covered + cv.on_demand > 0 THEN round(100 * cv.covered / (cv.covered + cv.on_demand), 4)
    END AS coverage_now_pct,
    CASE WHEN cv.covered + cv.on_demand > 0 AND e.coverage_added IS NOT NULL
        THEN round(100 * least(cv.covered + e.coverage_added, cv.covered + cv.on_demand)
                   / (cv.covered + cv.on_demand), 4)
    END AS coverage_after_pct
FROM everything e
LEFT JOIN previous prev USING (recommendation_id)
LEFT JOIN coverage cv USING (recommendation_id)
