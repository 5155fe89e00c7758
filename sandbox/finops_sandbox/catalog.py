"""Service, usage-type and price catalogue for the synthetic AWS world.

Names follow what Cost Explorer really returns (SERVICE and USAGE_TYPE dimension values) so that
code tested against the sandbox meets the same strings in production. Prices come from the one
data file `finops_pipeline/data/aws_list_prices.json`, shared with later savings estimates.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import finops_pipeline

# The product owns the price file (its savings estimates read it too): one copy, so the sandbox's bill and
# the pipeline's dollar estimates cannot drift apart. This is one reason the sandbox depends on the product.
PRICES_PATH = Path(finops_pipeline.__file__).resolve().parent / "data" / "aws_list_prices.json"

# Usage-type region prefixes as they appear in Cost Explorer / CUR usage types.
REGION_PREFIX: dict[str, str] = {
    "us-east-1": "USE1",
    "us-east-2": "USE2",
    "us-west-1": "USW1",
    "us-west-2": "USW2",
    "eu-west-1": "EU",
    "eu-west-2": "EUW2",
    "eu-central-1": "EUC1",
    "ap-southeast-1": "APS1",
    "ap-southeast-2": "APS2",
    "ap-northeast-1": "APN1",
}
GLOBAL_REGION = "global"

# Cost Explorer SERVICE dimension values.
SVC_EC2 = "Amazon Elastic Compute Cloud - Compute"
SVC_EC2_OTHER = "EC2 - Other"
SVC_VPC = "Amazon Virtual Private Cloud"
SVC_S3 = "Amazon Simple Storage Service"
SVC_RDS = "Amazon Relational Database Service"
SVC_LAMBDA = "AWS Lambda"
SVC_DYNAMODB = "Amazon DynamoDB"
SVC_CLOUDWATCH = "AmazonCloudWatch"
SVC_SAGEMAKER = "Amazon SageMaker"
SVC_SUPPORT = "AWS Support (Business)"
SVC_TAX = "Tax"
SVC_SAVINGS_PLANS = "Savings Plans for AWS Compute usage"

SERVICES: tuple[str, ...] = (
    SVC_EC2,
    SVC_EC2_OTHER,
    SVC_VPC,
    SVC_S3,
    SVC_RDS,
    SVC_LAMBDA,
    SVC_DYNAMODB,
    SVC_CLOUDWATCH,
    SVC_SAGEMAKER,
    SVC_SUPPORT,
    SVC_TAX,
    SVC_SAVINGS_PLANS,
)

# Cost Explorer RECORD_TYPE dimension values.
RT_USAGE = "Usage"
RT_SP_COVERED = "SavingsPlanCoveredUsage"
RT_SP_NEGATION = "SavingsPlanNegation"
RT_SP_FEE = "SavingsPlanRecurringFee"
RT_RI_USAGE = "DiscountedUsage"
RT_RI_FEE = "RIFee"
RT_CREDIT = "Credit"
RT_REFUND = "Refund"
RT_TAX = "Tax"
RT_RECURRING = "Recurring"
# Month-close items the base world lacks (WorldConfig.month_close_extras): Cost Explorer's Fee, Discount
# and BundledDiscount charge types.
RT_FEE = "Fee"
RT_DISCOUNT = "Discount"
RT_BUNDLED_DISCOUNT = "BundledDiscount"
RECORD_TYPES: tuple[str, ...] = (
    RT_USAGE,
    RT_SP_COVERED,
    RT_SP_NEGATION,
    RT_SP_FEE,
    RT_RI_USAGE,
    RT_RI_FEE,
    RT_CREDIT,
    RT_REFUND,
    RT_TAX,
    RT_RECURRING,
)
EXTRA_RECORD_TYPES: tuple[str, ...] = (RT_FEE, RT_DISCOUNT, RT_BUNDLED_DISCOUNT)

# Account-level (region-less) usage types.
UT_SUPPORT = "Dollar"
UT_TAX = "Tax"
UT_CREDIT = "Credit"
UT_REFUND = "Refund"
UT_COMPUTE_SP = "ComputeSP:1yrNoUpfront"

# Commitment model: effective rate as a fraction of on-demand (1-year, no upfront, typical figures).
COMPUTE_SP_RATE = 0.72
RDS_RI_RATE = 0.66

# Tag governance rules the world's truth columns are measured against.
REQUIRED_TAG_KEYS: tuple[str, ...] = ("Environment", "Owner", "Project", "CostCenter")
ALLOWED_ENVIRONMENTS: tuple[str, ...] = ("prod", "staging", "dev", "test", "sandbox")
MAX_TAG_KEY_LEN = 128
MAX_TAG_VALUE_LEN = 256
MAX_TAGS_PER_RESOURCE = 50


def usage_type(region: str, code: str) -> str:
    """Prefix a usage-type code with the region billing code, as CE shows it (e.g. USW2-BoxUsage:m5.large)."""
    return f"{REGION_PREFIX[region]}-{code}"


@cache
def list_prices() -> dict[str, Any]:
    """Load the packaged list-price file once."""
    return json.loads(PRICES_PATH.read_text(encoding="utf-8"))


def ec2_hourly(instance_type: str, region: str) -> float:
    return float(list_prices()["ec2_instance_hourly"][instance_type]["price"][region])


def ec2_shape(instance_type: str) -> tuple[int, float]:
    """(vCPU, memory GiB) of an instance type — what rightsizing compares."""
    spec = list_prices()["ec2_instance_hourly"][instance_type]
    return int(spec["vcpu"]), float(spec["memory_gib"])


def rds_hourly(db_class: str, region: str) -> float:
    return float(list_prices()["rds_instance_hourly"][db_class][region])


def ebs_gb_month(volume_type: str, region: str) -> float:
    return float(list_prices()["ebs_gb_month"][volume_type][region])


def regional(name: str, region: str) -> float:
    """A flat per-region price entry such as `s3_standard_gb_month` or `nat_gateway_hourly`."""
    return float(list_prices()[name][region])
