"""CloudWatch datapoints of the resources an idle rule judges: one daily aggregate per resource and day.

Why: the pipeline's idle rules read CloudWatch (``GetMetricData``) the way AWS publishes these metrics,
so the sandbox writes them with ``put_metric_data`` into moto's CloudWatch backend of each resource's
account and region, for the ``METRIC_DAYS`` complete UTC days before the world's as_of:

- load balancers: ``AWS/ApplicationELB RequestCount`` / ``AWS/NetworkELB NewFlowCount`` by
  ``LoadBalancer`` (``app/<name>/<id>``), Sum. ELB publishes these only while traffic flows
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
  a day without requests has no datapoint;
- NAT gateways: ``AWS/NATGateway BytesOutToDestination`` by ``NatGatewayId``, Sum, zeros included
  (https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway-cloudwatch.html);
- RDS: ``AWS/RDS DatabaseConnections`` by ``DBInstanceIdentifier``, Maximum, zeros included
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html);
- Lambda functions with provisioned concurrency: ``AWS/Lambda ProvisionedConcurrencyUtilization`` (a ratio,
  0 to 1) by ``FunctionName`` and ``Resource`` (``<name>:<alias>``), Maximum. Lambda publishes function
  metrics only for invocations (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html):
  a day without any has no datapoint.

The day's value is the world's ``daily_activity`` (idle ones: under the rules' thresholds).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from finops_sandbox.moto_seed.common import naive_utc
from finops_sandbox.world.idle import PC_ALIAS

if TYPE_CHECKING:
    from finops_sandbox.world import World

METRIC_DAYS = 14
_SAMPLES = 1440.0  # one-minute datapoints in a day


def _metric(row: dict[str, Any]) -> tuple[str, str, dict[str, str]] | None:
    """(namespace, metric, dimensions) of a resource with seeded activity."""
    kind = row["resource_type"]
    if kind == "elasticloadbalancing:loadbalancer":
        dimension = row["arn"].split(":loadbalancer/", 1)[1]
        if row["instance_type"] == "network":
            return "AWS/NetworkELB", "NewFlowCount", {"LoadBalancer": dimension}
        return "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": dimension}
    if kind == "ec2:natgateway":
        return "AWS/NATGateway", "BytesOutToDestination", {"NatGatewayId": row["resource_id"]}
    if kind == "rds:db":
        return "AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": row["resource_id"]}
    if kind == "lambda:function" and row["provisioned_concurrency"]:
        name = row["resource_id"]
        dimensions = {"FunctionName": name, "Resource": f"{name}:{PC_ALIAS}"}
        return "AWS/Lambda", "ProvisionedConcurrencyUtilization", dimensions
    return None


_GAUGES = ("DatabaseConnections", "ProvisionedConcurrencyUtilization")  # the day's Maximum is the activity
_TRAFFIC_ONLY = ("AWS/ApplicationELB", "AWS/NetworkELB", "AWS/Lambda")  # no datapoint without activity


def _datum(metric: str, dimensions: dict[str, str], day: dt.datetime, amount: float) -> dict[str, Any]:
    peak = metric in _GAUGES
    return {
        "MetricName": metric,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
        "Timestamp": naive_utc(day),  # moto compares with the request's naive UTC StartTime
        "StatisticValues": {
            "SampleCount": _SAMPLES,
            "Sum": amount * _SAMPLES / 2 if peak else amount,
            "Minimum": 0.0,
            "Maximum": amount if peak else amount / _SAMPLES * 4,
        },
    }


def seed_metrics(world: World) -> int:
    """Put the daily datapoints (the world must carry moto's ARNs and ids); returns how many."""
    from moto.cloudwatch.models import cloudwatch_backends

    end = dt.datetime.combine(world.config.as_of, dt.time(0), dt.UTC)
    days = [end - dt.timedelta(days=n) for n in range(METRIC_DAYS, 0, -1)]
    columns = ["account_id", "region", "resource_type", "resource_id", "arn", "instance_type"]
    columns += ["provisioned_concurrency"]
    rows = world.resources.select([*columns, "daily_activity", "created_at"]).to_pylist()
    count = 0
    for row in rows:
        found = _metric(row) if row["daily_activity"] is not None else None
        if found is None:
            continue
        namespace, metric, dimensions = found
        traffic_only = namespace in _TRAFFIC_ONLY
        data = [
            _datum(metric, dimensions, day, row["daily_activity"])
            for day in days
            if day >= row["created_at"] and not (traffic_only and row["daily_activity"] == 0)
        ]
        if data:
            cloudwatch_backends[row["account_id"]][row["region"]].put_metric_data(namespace, data)
            count += len(data)
    return count
