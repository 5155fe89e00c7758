-- Idle waste: load balancers, NAT gateways, RDS instances and Lambda provisioned concurrency that bill every hour and that CloudWatch shows
-- unused, by the rules of lib/idle_rules.py (temp table idle_rules: kind, subject, metric, days, below,
-- missing_is_zero, convention). Inputs: raw.cloudwatch_daily_activity, raw.elbv2_load_balancers,
-- raw.ec2_nat_gateways, raw.rds_db_instances; temp tables price_elb(lb_type, region, usd_hour),
-- price_nat(region, usd_hour), price_rds(db_class, region, usd_hour), price_lambda_pc(region, usd_gb_second),
-- raw.lambda_provisioned_concurrency, raw.lambda_functions; parameters $hours_per_month, $seconds_per_month,
-- $price_ref.
-- Each rule looks at the last `days` days of the window its rows were read for (a stale row, kept from the
-- last good scan, is judged on what that scan read and labelled stale by the caller). A resource is idle
-- when every one of those days is below the threshold (a day without a datapoint counts as 0 only where
-- the service publishes nothing without activity, and otherwise leaves the resource unjudged), and only
-- if it existed before the first of those days began (so every one of them was observed).
WITH judged AS (
    SELECT a.resource_arn, a.account_id, a.region, a.metric_name, a.stale_since, r.kind, r.days, r.below,
        r.missing_is_zero, r.convention,
        timezone('UTC', (a.window_end - r.days::INTEGER)::TIMESTAMP) AS judged_from_at,  -- 00:00 UTC
        list_filter(a.daily, lambda d: d.day >= a.window_end - r.days::INTEGER) AS days_seen
    FROM raw.cloudwatch_daily_activity a
    JOIN idle_rules r ON r.subject = a.subject
),
idle AS (
    SELECT *, coalesce(list_max(list_transform(days_seen, lambda d: d.value)), 0) AS peak
    FROM judged
    WHERE (missing_is_zero OR len(days_seen) = days)
      AND coalesce(list_max(list_transform(days_seen, lambda d: d.value)), 0) < below
),
load_balancers AS (
    SELECT i.account_id, i.region, l.resource_id, i.resource_arn,
        i.kind, 'delete_load_balancer' AS action,
        format('{} load balancer {}: at most {} {} a day over the last {} days', l.type, l.name, i.peak,
               i.metric_name, i.days) AS detail,
        CAST($hours_per_month * p.usd_hour AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_hour IS NULL
             THEN format('no {} load balancer price for {} in the list-price file', l.type, l.region)
             ELSE format('{} h × ${}/h {} load balancer hour, capacity units not counted ({}); idle by {}',
                         $hours_per_month, p.usd_hour, l.type, $price_ref, i.convention)
        END AS estimation_method,
        coalesce(i.stale_since, l.stale_since) AS stale_since
    FROM idle i
    JOIN raw.elbv2_load_balancers l USING (resource_arn)
    LEFT JOIN price_elb p ON p.lb_type = l.type AND p.region = l.region
    WHERE i.kind = 'idle_load_balancer' AND coalesce(l.created_time < i.judged_from_at, true)
),
nat_gateways AS (
    SELECT i.account_id, i.region, n.nat_gateway_id AS resource_id, i.resource_arn,
        i.kind, 'delete_nat_gateway' AS action,
        format('{} NAT gateway {}: no byte out over the last {} days', n.connectivity_type, n.nat_gateway_id,
               i.days) AS detail,
        CAST($hours_per_month * p.usd_hour AS DECIMAL(18, 6)) AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_hour IS NULL THEN format('no NAT gateway price for {} in the list-price file', n.region)
             ELSE format('{} h × ${}/h NAT gateway hour, data processing not counted (none) ({}); idle by {}',
                         $hours_per_month, p.usd_hour, $price_ref, i.convention)
        END AS estimation_method,
        coalesce(i.stale_since, n.stale_since) AS stale_since
    FROM idle i
    JOIN raw.ec2_nat_gateways n USING (resource_arn)
    LEFT JOIN price_nat p ON p.region = n.region
    WHERE i.kind = 'idle_nat_gateway' AND coalesce(n.create_time < i.judged_from_at, true)
),
databases AS (
    SELECT i.account_id, i.region, d.resource_id, i.resource_arn,
        i.kind, 'snapshot_and_delete_db_instance' AS action,
        format('{} {} database {}: no connection over the last {} days', d.db_instance_class, d.engine,
               d.resource_id, i.days) AS detail,
        CAST($hours_per_month * p.usd_hour * CASE WHEN d.multi_az THEN 2 ELSE 1 END AS DECIMAL(18, 6))
            AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_hour IS NULL
             THEN format('no {} price for {} in the list-price file', d.db_instance_class, d.region)
             ELSE format('{} h × ${}/h {} instance{} (Single-AZ list price), storage not counted ({}); idle by {}',
                         $hours_per_month, p.usd_hour, d.db_instance_class,
                         CASE WHEN d.multi_az THEN ' × 2 (Multi-AZ)' ELSE '' END, $price_ref, i.convention)
        END AS estimation_method,
        coalesce(i.stale_since, d.stale_since) AS stale_since
    FROM idle i
    JOIN raw.rds_db_instances d USING (resource_arn)
    LEFT JOIN price_rds p ON p.db_class = d.db_instance_class AND p.region = d.region
    WHERE i.kind = 'idle_rds_instance' AND coalesce(d.create_time < i.judged_from_at, true)
),
lambda_concurrency AS (
    -- Allocated concurrency bills per GB-second of the function's memory, invoked or not.
    SELECT i.account_id, i.region, c.function_name || ':' || c.qualifier AS resource_id, i.resource_arn,
        i.kind, 'remove_provisioned_concurrency' AS action,
        format('Lambda {}: {} provisioned concurrency × {} MB, utilization at most {}% over the last {} days',
               c.function_name || ':' || c.qualifier, c.allocated, f.memory_mb, round(i.peak * 100, 1),
               i.days) AS detail,
        CAST(c.allocated * f.memory_mb / 1024 * $seconds_per_month * p.usd_gb_second AS DECIMAL(18, 6))
            AS estimated_monthly_savings_usd,
        CASE WHEN p.usd_gb_second IS NULL
             THEN format('no Lambda provisioned concurrency price for {} in the list-price file', c.region)
             WHEN f.memory_mb IS NULL THEN format('memory of {} unknown (not in raw.lambda_functions)',
                                                  c.function_name)
             ELSE format('{} allocated × {} GB × {} s ({} h) × ${}/GB-s provisioned concurrency, invocations '
                         'not counted ({}); idle by {}', c.allocated, f.memory_mb / 1024, $seconds_per_month,
                         $hours_per_month, p.usd_gb_second, $price_ref, i.convention)
        END AS estimation_method,
        coalesce(i.stale_since, c.stale_since) AS stale_since
    FROM idle i
    JOIN raw.lambda_provisioned_concurrency c USING (resource_arn)
    LEFT JOIN raw.lambda_functions f ON f.resource_arn = c.function_arn
    LEFT JOIN price_lambda_pc p ON p.region = c.region
    WHERE i.kind = 'idle_lambda_provisioned_concurrency' AND c.allocated > 0
      AND coalesce(strptime(c.last_modified, '%Y-%m-%dT%H:%M:%S.%g%z') < i.judged_from_at, true)
)
SELECT *, 'resource_activity' AS source FROM load_balancers
UNION ALL BY NAME SELECT *, 'resource_activity' AS source FROM nat_gateways
UNION ALL BY NAME SELECT *, 'resource_activity' AS source FROM databases
UNION ALL BY NAME SELECT *, 'resource_activity' AS source FROM lambda_concurrency
