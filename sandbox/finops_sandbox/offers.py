"""What distinguishes one reservable offer from another, as AWS bills it: usage type *and* operation.

An RI recommendation detail is distinct per instance type and platform, tenancy, engine, edition,
deployment option, licence model and region (botocore's ``ce`` model, shapes ``EC2InstanceDetails`` and
``RDSInstanceDetails``). Cost Explorer and the Cost and Usage Report carry those facts in two fields:

- the usage type: ``BoxUsage:<type>`` is shared tenancy, ``DedicatedUsage:<type>`` a Dedicated Instance;
  RDS bills ``InstanceUsage:<class>`` for Single-AZ and ``Multi-AZUsage:<class>`` for Multi-AZ
  (AWS Billing, "Understanding your usage types");
- the operation (CE dimension ``OPERATION``, CUR ``lineItem/Operation``): EC2 ``RunInstances`` is
  Linux/UNIX, ``RunInstances:0002`` Windows, ``RunInstances:0010`` Red Hat Enterprise Linux
  (EC2 User Guide, "AMI billing information fields"); RDS ``CreateDBInstance:<code>`` names the engine,
  edition and licence model (the ``operation`` attribute of the AWS Price List API for Amazon RDS).

The world writes both into its ledger and resources; the Cost Explorer emulator reads them back here, so the
two can never disagree. A ledger without an ``operation`` column (the hand-built test world) reads as the
defaults: Linux/UNIX and MySQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from finops_sandbox.catalog import REGION_PREFIX

EC2_DEFAULT_OPERATION = "RunInstances"
RDS_DEFAULT_OPERATION = "CreateDBInstance:0002"
# EC2 operation -> Platform as EC2InstanceDetails spells it.
EC2_PLATFORMS = {
    "RunInstances": "Linux/UNIX",
    "RunInstances:0002": "Windows",
    "RunInstances:0010": "Red Hat Enterprise Linux",
}
# RDS operation -> (DatabaseEngine, DatabaseEdition or None, LicenseModel), as RDSInstanceDetails spells them.
RDS_ENGINES: dict[str, tuple[str, str | None, str]] = {
    "CreateDBInstance:0002": ("MySQL", None, "No license required"),
    "CreateDBInstance:0014": ("PostgreSQL", None, "No license required"),
    "CreateDBInstance:0018": ("MariaDB", None, "No license required"),
    "CreateDBInstance:0019": ("Oracle", "Standard Two", "Bring your own license"),
    "CreateDBInstance:0020": ("Oracle", "Standard Two", "License included"),
}
# On-demand price relative to the list file's Linux / MySQL Single-AZ figure. Windows adds its licence
# (about 0.046 USD per vCPU-hour on EC2's Windows On-Demand page); Dedicated Instances cost about 10%
# more (EC2 Dedicated Instances pricing, the per-region fee left out); Multi-AZ RDS runs and bills two
# instances; Oracle licence-included about 1.6 times BYOL. Rounded: the sandbox needs plausible, not exact.
WINDOWS_PER_VCPU_HOUR = 0.046
DEDICATED_FACTOR = 1.10
MULTI_AZ_FACTOR = 2.0
RDS_PRICE_FACTOR = {"CreateDBInstance:0020": 1.6}
_REGION_PREFIXES = frozenset(REGION_PREFIX.values())
EC2_CODES = ("BoxUsage:", "DedicatedUsage:")
RDS_CODES = ("InstanceUsage:", "Multi-AZUsage:")


@dataclass(frozen=True)
class Offer:
    """The attributes of one reservable offer, besides account, region and instance type."""

    platform: str | None = None
    tenancy: str | None = None
    engine: str | None = None
    edition: str | None = None
    deployment_option: str | None = None
    license_model: str | None = None


def usage_code(usage_type: str) -> str:
    """``Multi-AZUsage:`` from ``USW2-Multi-AZUsage:db.m5.large``: the region prefix (absent in
    us-east-1's own billing, ``USE1`` in the sandbox's) dropped."""
    head = usage_type.partition(":")[0]
    prefix, _, rest = head.partition("-")
    return (rest if prefix in _REGION_PREFIXES and rest else head) + ":"


def instance_type_of(usage_type: str) -> str:
    """``m5.large`` from ``USW2-BoxUsage:m5.large``."""
    return usage_type.split(":", 1)[1]


def ec2_offer(usage_type: str, operation: str | None) -> Offer:
    dedicated = usage_code(usage_type) == "DedicatedUsage:"
    return Offer(
        platform=EC2_PLATFORMS.get(operation or EC2_DEFAULT_OPERATION, "Linux/UNIX"),
        tenancy="dedicated" if dedicated else "shared",
    )


def rds_offer(usage_type: str, operation: str | None) -> Offer:
    engine, edition, licence = RDS_ENGINES.get(
        operation or RDS_DEFAULT_OPERATION, RDS_ENGINES["CreateDBInstance:0002"]
    )
    multi_az = usage_code(usage_type) == "Multi-AZUsage:"
    return Offer(
        engine=engine,
        edition=edition,
        deployment_option="Multi-AZ" if multi_az else "Single-AZ",
        license_model=licence,
    )


def ec2_price(linux_hourly: float, vcpu: int, operation: str, dedicated: bool) -> float:
    """Hourly on-demand price of an EC2 offer from its Linux, shared-tenancy list price."""
    windows = WINDOWS_PER_VCPU_HOUR * vcpu if EC2_PLATFORMS.get(operation) == "Windows" else 0.0
    return round((linux_hourly + windows) * (DEDICATED_FACTOR if dedicated else 1.0), 4)


def rds_price(list_hourly: float, operation: str, multi_az: bool) -> float:
    """Hourly on-demand price of an RDS offer from its MySQL / PostgreSQL Single-AZ list price."""
    factor = RDS_PRICE_FACTOR.get(operation, 1.0) * (MULTI_AZ_FACTOR if multi_az else 1.0)
    return round(list_hourly * factor, 4)


def instance_details(
    is_ec2: bool, instance_type: str, region: str, usage_type: str, operation: str | None
) -> dict[str, Any]:
    """botocore's ``EC2InstanceDetails`` / ``RDSInstanceDetails`` of one offer."""
    common = {
        "Family": instance_type.rpartition(".")[0],
        "InstanceType": instance_type,
        "Region": region,
    }
    flags = {"CurrentGeneration": True, "SizeFlexEligible": True}
    if is_ec2:
        ec2 = ec2_offer(usage_type, operation)
        # Size flexibility applies only to Linux/UNIX on shared tenancy (EC2 RI docs, "How regional
        # Reserved Instances are applied").
        flex = ec2.platform == "Linux/UNIX" and ec2.tenancy == "shared"
        return {
            "EC2InstanceDetails": common
            | {"Platform": ec2.platform, "Tenancy": ec2.tenancy}
            | flags
            | {"SizeFlexEligible": flex}
        }
    rds = rds_offer(usage_type, operation)
    edition = {"DatabaseEdition": rds.edition} if rds.edition else {}
    return {
        "RDSInstanceDetails": common
        | {"DatabaseEngine": rds.engine, **edition, "DeploymentOption": rds.deployment_option}
        | {"LicenseModel": rds.license_model}
        | flags
        # RDS size flexibility excludes licence-included Oracle and SQL Server (RDS User Guide,
        # "Reserved DB instances: size-flexible").
        | {"SizeFlexEligible": rds.license_model != "License included"}
    }


# Typical discounts off on-demand (AWS public pricing, rounded): (term, payment) -> fraction saved.
RI_DISCOUNT = {
    ("ONE_YEAR", "NO_UPFRONT"): 0.30,
    ("ONE_YEAR", "PARTIAL_UPFRONT"): 0.34,
    ("ONE_YEAR", "ALL_UPFRONT"): 0.36,
    ("THREE_YEARS", "NO_UPFRONT"): 0.50,
    ("THREE_YEARS", "PARTIAL_UPFRONT"): 0.53,
    ("THREE_YEARS", "ALL_UPFRONT"): 0.55,
}
CONVERTIBLE_FACTOR = 0.75  # convertible RIs save about three quarters of what standard ones do
SP_DISCOUNT = {
    "COMPUTE_SP": {
        ("ONE_YEAR", "NO_UPFRONT"): 0.25,
        ("ONE_YEAR", "PARTIAL_UPFRONT"): 0.27,
        ("ONE_YEAR", "ALL_UPFRONT"): 0.28,
        ("THREE_YEARS", "NO_UPFRONT"): 0.46,
        ("THREE_YEARS", "PARTIAL_UPFRONT"): 0.49,
        ("THREE_YEARS", "ALL_UPFRONT"): 0.52,
    },
    "EC2_INSTANCE_SP": {
        ("ONE_YEAR", "NO_UPFRONT"): 0.33,
        ("ONE_YEAR", "PARTIAL_UPFRONT"): 0.36,
        ("ONE_YEAR", "ALL_UPFRONT"): 0.38,
        ("THREE_YEARS", "NO_UPFRONT"): 0.55,
        ("THREE_YEARS", "PARTIAL_UPFRONT"): 0.58,
        ("THREE_YEARS", "ALL_UPFRONT"): 0.60,
    },
}


# The near-duplicate offers the world always runs in one workload-region (``world_offers.twin_workload``):
# one instance type / database class, billed as offers that differ in one attribute each, steady
# (flat) and on demand, two of each so that a recommendation needs no luck. Real organisations have
# them (a team's MySQL and PostgreSQL on one class; Windows next to Linux), and an RI recommendation
# keyed on instance type alone merges them.
TWIN_EC2_OFFERS = (
    ("BoxUsage:", "RunInstances"),  # Linux/UNIX, shared
    ("BoxUsage:", "RunInstances:0002"),  # Windows, shared
    ("DedicatedUsage:", "RunInstances"),  # Linux/UNIX, dedicated
)
TWIN_RDS_OFFERS = (
    ("InstanceUsage:", "CreateDBInstance:0002"),  # MySQL, Single-AZ
    ("InstanceUsage:", "CreateDBInstance:0014"),  # PostgreSQL, Single-AZ
    ("Multi-AZUsage:", "CreateDBInstance:0002"),  # MySQL, Multi-AZ
    ("InstanceUsage:", "CreateDBInstance:0019"),  # Oracle SE2, bring your own licence
    ("InstanceUsage:", "CreateDBInstance:0020"),  # Oracle SE2, licence included
)
TWIN_COPIES = 2
