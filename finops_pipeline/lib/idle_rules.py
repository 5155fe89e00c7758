"""The idle-waste rules: which CloudWatch metric says a resource idles, over how many days, below what.

Why one table: the metrics ingest (``defs/inventory/activity.py``) asks CloudWatch for exactly these
metrics, and the waste mart (``defs/recommendations/sql/idle_waste.sql``) judges them with the same
windows and thresholds, so a rule is written once. Each follows a published AWS convention:

- load balancers: Trusted Advisor's "Idle Load Balancers" check (check id hjLMh88uM8) flags a load
  balancer with less than 100 requests per day for the last 7 days
  (https://docs.aws.amazon.com/awssupport/latest/user/cost-optimization-checks.html); Trusted Advisor
  applies it to Classic Load Balancers only, this rule applies it to ELB v2. Application load balancers
  count ``RequestCount``, network ones ``NewFlowCount`` (new flows); ELB publishes either only
  while traffic flows, so a day without a datapoint counts as zero requests
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
- RDS: Trusted Advisor's "Amazon RDS Idle DB Instances" flags an instance with no connection over the
  last 7 days (same page): ``DatabaseConnections`` Maximum below 1 on every day, a datapoint every day.
- NAT gateways: no byte sent to a destination (``BytesOutToDestination`` Sum) on every one of the last
  14 days. No AWS check publishes a threshold for this one: zero bytes is the only level that is
  unarguably idle, and two weeks (not one) leaves room for a weekly batch job. NAT gateways publish
  every minute, zeros included (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html).
- Lambda provisioned concurrency: ``ProvisionedConcurrencyUtilization`` (allocated concurrency in use, 0 to 1)
  Maximum below 5% on every one of the last 14 days, by ``FunctionName`` and ``Resource``
  (``<name>:<alias or version>``). No AWS check publishes a threshold; a peak under 5% means not even
  one of twenty pre-warmed environments was busy at any minute, and two weeks covers a weekly job.
  Lambda publishes its function metrics only for invocations
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): no datapoint is 0.

A resource created inside the window is not judged (too young to be idle), nor one without the metric's
answer (its CloudWatch scan failed: unknown, not idle).
"""

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class IdleRule:
    """Idle when every day of the last ``days`` complete UTC days has ``stat`` of ``metric`` < ``below``."""

    kind: str  # marts.recommendations kind
    # application | network (load balancer type), nat_gateway, rds, lambda_provisioned_concurrency
    subject: str
    namespace: str
    metric: str
    stat: str
    dimension: str
    days: int
    below: float
    missing_is_zero: bool  # a day without a datapoint counts as 0 (the service publishes only activity)
    convention: str  # the published rule it follows, printed in the estimation method
    # a second dimension whose value is the part of the first's before ":" (Lambda's FunctionName)
    parent_dimension: str | None = None


IDLE_RULES = (
    IdleRule(
        "idle_load_balancer",
        "application",
        "AWS/ApplicationELB",
        "RequestCount",
        "Sum",
        "LoadBalancer",
        7,
        100,
        True,
        "Trusted Advisor Idle Load Balancers: < 100 requests/day for 7 days",
    ),
    IdleRule(
        "idle_load_balancer",
        "network",
        "AWS/NetworkELB",
        "NewFlowCount",
        "Sum",
        "LoadBalancer",
        7,
        100,
        True,
        "Trusted Advisor Idle Load Balancers: < 100 new flows/day for 7 days",
    ),
    IdleRule(
        "idle_nat_gateway",
        "nat_gateway",
        "AWS/NATGateway",
        "BytesOutToDestination",
        "Sum",
        "NatGatewayId",
        14,
        1,
        False,
        "no byte out to a destination for 14 days",
    ),
    IdleRule(
        "idle_rds_instance",
        "rds",
        "AWS/RDS",
        "DatabaseConnections",
        "Maximum",
        "DBInstanceIdentifier",
        7,
        1,
        False,
        "Trusted Advisor RDS Idle DB Instances: no connection for 7 days",
    ),
    IdleRule(
        "idle_lambda_provisioned_concurrency",
        "lambda_provisioned_concurrency",
        "AWS/Lambda",
        "ProvisionedConcurrencyUtilization",
        "Maximum",
        "Resource",
        14,
        0.05,
        True,
        "provisioned concurrency utilization peak under 5% for 14 days",
        parent_dimension="FunctionName",
    ),
)
LOOKBACK_DAYS = max(rule.days for rule in IDLE_RULES)  # what the metrics ingest reads


def rules_table() -> pa.Table:
    """The rules as an arrow table, registered as the temp table ``idle_rules`` the waste SQL joins."""
    names = ("kind", "subject", "metric", "days", "below", "missing_is_zero", "convention")
    return pa.table({name: [getattr(rule, name) for rule in IDLE_RULES] for name in names})
