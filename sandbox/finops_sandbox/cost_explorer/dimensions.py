"""Every Cost Explorer dimension a GroupBy or a filter may name, and what each line item answers for it.

Why: a client that groups by ``INSTANCE_TYPE``, ``PURCHASE_TYPE`` or ``AZ`` (aws-finops-dashboard, Cloud
Custodian, the CE console's own group-bys) must get an answer from the sandbox, and one whose groups add
up to the ungrouped bill to the cent, as AWS's do: a line item without the attribute still belongs to one
group, AWS's ``No<Dimension>`` key.

References:
- botocore's ``ce`` model, ``GetCostAndUsageRequest.GroupBy``: "Valid values for the DIMENSION type are AZ,
  INSTANCE_TYPE, LEGAL_ENTITY_NAME, INVOICING_ENTITY, LINKED_ACCOUNT, OPERATION, PLATFORM, PURCHASE_TYPE,
  SERVICE, TENANCY, RECORD_TYPE, and USAGE_TYPE"
  (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsage.html).
- AWS's own refusal lists more that it accepts: "Group Definition dimension is invalid. Valid values are AZ,
  INSTANCE_TYPE, LINKED_ACCOUNT, OPERATION, PURCHASE_TYPE, SERVICE, USAGE_TYPE, PLATFORM, TENANCY,
  RECORD_TYPE, LEGAL_ENTITY_NAME, INVOICING_ENTITY, DEPLOYMENT_OPTION, DATABASE_ENGINE, CACHE_ENGINE,
  INSTANCE_TYPE_FAMILY, REGION, ..." (quoted in aws/aws-sdk-java-v2#6144, where ``RESOURCE_ID`` is refused:
  resource-level grouping is ``GetCostAndUsageWithResources`` only).
- Dimension meanings and example values: botocore's ``GetDimensionValuesResponse.DimensionValues``
  ("PURCHASE_TYPE - ... Examples include On-Demand Instances and Standard Reserved Instances",
  "DEPLOYMENT_OPTION - ... SingleAZ and MultiAZ", "INSTANCE_TYPE_FAMILY - ... m5", "SAVINGS_PLANS_TYPE -
  Type of Savings Plans (EC2 Instance or Compute)").
- Keys of spend without the attribute: Cost Explorer answers ``NoInstanceType``, ``NoDatabaseEngine``,
  ``NoDeploymentOption``, ``NoInstanceTypeFamily``, ``NoRegion``, ``NoAZ`` (the keys public clients of
  the API skip, e.g. aws-samples' service-screener RDS charts); the sandbox answers ``No`` + the dimension
  in CamelCase for every dimension a line item can lack.

What the ledger carries: instance type, family, tenancy and platform from EC2 usage types and operations,
engine and deployment option from RDS's (``finops_sandbox.offers``, the same reading the RI recommendations
use), purchase type and Savings Plans type from the record type, an Availability Zone for zonal usage
(instances, EBS volumes, NAT gateways; the zone drawn per workload, stable per seed), a reservation id per
RI (account, region, class, operation). Operations exist only where the world bills them (EC2, RDS);
other lines answer ``NoOperation``. Legal, invoicing and billing entity are AWS's for every line (the world
sells no Marketplace products). There is no ElastiCache, so ``CACHE_ENGINE`` is ``NoCacheEngine``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from finops_sandbox import offers
from finops_sandbox.catalog import REGION_PREFIX

# CE dimension -> ledger column (derived columns are added by `derived_columns_sql` at load time).
DIMENSION_COLUMNS: dict[str, str] = {
    "SERVICE": "service",
    "LINKED_ACCOUNT": "account_id",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RECORD_TYPE": "record_type",
    "OPERATION": "dim_operation",
    "INSTANCE_TYPE": "dim_instance_type",
    "INSTANCE_TYPE_FAMILY": "dim_instance_type_family",
    "PLATFORM": "dim_platform",
    "TENANCY": "dim_tenancy",
    "DATABASE_ENGINE": "dim_database_engine",
    "DEPLOYMENT_OPTION": "dim_deployment_option",
    "CACHE_ENGINE": "dim_cache_engine",
    "AZ": "dim_az",
    "PURCHASE_TYPE": "dim_purchase_type",
    "SAVINGS_PLANS_TYPE": "dim_savings_plans_type",
    "RESERVATION_ID": "dim_reservation_id",
    "LEGAL_ENTITY_NAME": "dim_legal_entity_name",
    "INVOICING_ENTITY": "dim_invoicing_entity",
    "BILLING_ENTITY": "dim_billing_entity",
}
# Accepted in GroupBy (AWS refuses e.g. RESOURCE_ID there): every dimension above.
GROUP_BY_DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_COLUMNS)
# The key of spend that has no value for a dimension (see the module docstring).
ABSENT_KEYS: dict[str, str] = {
    "OPERATION": "NoOperation",
    "INSTANCE_TYPE": "NoInstanceType",
    "INSTANCE_TYPE_FAMILY": "NoInstanceTypeFamily",
    "PLATFORM": "NoPlatform",
    "TENANCY": "NoTenancy",
    "DATABASE_ENGINE": "NoDatabaseEngine",
    "DEPLOYMENT_OPTION": "NoDeploymentOption",
    "CACHE_ENGINE": "NoCacheEngine",
    "AZ": "NoAZ",
    "PURCHASE_TYPE": "NoPurchaseType",
    "SAVINGS_PLANS_TYPE": "NoSavingsPlansType",
    "RESERVATION_ID": "NoReservationId",
}
AWS_ENTITY = "Amazon Web Services, Inc."
BILLING_ENTITY = "AWS"
EC2_SERVICE = "Amazon Elastic Compute Cloud - Compute"
RDS_SERVICE = "Amazon Relational Database Service"
# Usage-type codes that bill one instance of a type (the type follows the colon).
_EC2_INSTANCE_CODES = {"BoxUsage:": "Shared", "DedicatedUsage:": "Dedicated", "HostUsage:": "Host"}
_RDS_INSTANCE_CODES = {"InstanceUsage:": "SingleAZ", "Multi-AZUsage:": "MultiAZ", "HeavyUsage:": None}
_OTHER_INSTANCE_CODES = ("Host:", "SpotUsage:")  # SageMaker hosting, Spot
_ZONAL_CODES = (
    "BoxUsage:",
    "DedicatedUsage:",
    "HostUsage:",
    "SpotUsage:",
    "InstanceUsage:",
    "EBS:VolumeUsage",
)
_ZONAL_TYPES = ("NatGateway-Hours",)
# Record type -> PURCHASE_TYPE ("the reservation type of the purchase to which this usage is related").
_PURCHASE_TYPES = {
    "Usage": "On Demand Instances",
    "SavingsPlanCoveredUsage": "Savings Plans",
    "SavingsPlanNegation": "Savings Plans",
    "SavingsPlanRecurringFee": "Savings Plans",
    "DiscountedUsage": "Standard Reserved Instances",
    "RIFee": "Standard Reserved Instances",
}
# Lines that are usage of a resource in a zone (credits, refunds and fees are not).
_USAGE_RECORD_TYPES = ("Usage", "SavingsPlanCoveredUsage", "SavingsPlanNegation", "DiscountedUsage")
_SP_RECORD_TYPES = ("SavingsPlanCoveredUsage", "SavingsPlanNegation", "SavingsPlanRecurringFee")
_RI_RECORD_TYPES = ("DiscountedUsage", "RIFee")
_PREFIXES = frozenset(REGION_PREFIX.values())
_KEY_COLUMNS = ("service", "usage_type", "operation", "record_type")


def _code(usage_type: str) -> str:
    """``BoxUsage:m5.large`` from ``USW2-BoxUsage:m5.large`` (the region prefix dropped)."""
    head, sep, rest = usage_type.partition("-")
    return rest if sep and head in _PREFIXES else usage_type


def line_dimensions(service: str, usage_type: str, operation: str | None, record_type: str) -> dict[str, Any]:
    """The derived dimensions of one kind of line item; ``zonal`` and ``reserved`` are read by the SQL."""
    code = _code(usage_type or "")
    prefix = code.partition(":")[0] + ":" if ":" in code else ""
    instance = code.partition(":")[2] if ":" in code else None
    out: dict[str, Any] = {dim.lower(): None for dim in ABSENT_KEYS}
    out["operation"] = operation
    if service == EC2_SERVICE and prefix in _EC2_INSTANCE_CODES:
        out["instance_type"] = instance
        out["instance_type_family"] = instance.partition(".")[0] if instance else None
        out["tenancy"] = _EC2_INSTANCE_CODES[prefix]
        out["platform"] = offers.ec2_offer(usage_type, operation).platform
    elif service == RDS_SERVICE and prefix in _RDS_INSTANCE_CODES:
        out["instance_type"] = instance
        out["database_engine"] = offers.rds_offer(usage_type, operation).engine
        out["deployment_option"] = _RDS_INSTANCE_CODES[prefix]
    elif prefix in _OTHER_INSTANCE_CODES:
        out["instance_type"] = instance
    out["purchase_type"] = _PURCHASE_TYPES.get(record_type)
    out["savings_plans_type"] = "ComputeSavingsPlans" if record_type in _SP_RECORD_TYPES else None
    out["reserved"] = record_type in _RI_RECORD_TYPES and out["instance_type"] is not None
    # Multi-AZ RDS spans two zones: no single AZ.
    out["zonal"] = record_type in _USAGE_RECORD_TYPES and (
        code.startswith(_ZONAL_CODES) or code in _ZONAL_TYPES
    )
    return out


def dimension_table(keys: list[tuple[str, str, str | None, str]]) -> pa.Table:
    """The derived dimensions of each distinct (service, usage type, operation, record type)."""
    rows = []
    for service, usage_type, operation, record_type in keys:
        dims = line_dimensions(service, usage_type, operation, record_type)
        key = (service, usage_type, operation, record_type)
        row: dict[str, Any] = dict(zip(_KEY_COLUMNS, key, strict=True))
        for dim, absent in ABSENT_KEYS.items():
            name = dim.lower()
            if name in ("az", "reservation_id", "cache_engine"):
                continue
            row[f"d_{name}"] = dims[name] or absent
        row["d_zonal"] = dims["zonal"]
        row["d_reserved"] = dims["reserved"]
        rows.append(row)
    return pa.Table.from_pylist(rows)


def derived_columns_sql(has_operation: bool) -> tuple[str, str]:
    """(select list, join) adding the ``dim_*`` columns to ``arrow_ledger l`` joined to ``ledger_dims d``."""
    op = "l.operation" if has_operation else "CAST(NULL AS VARCHAR)"
    # A zone per workload, stable per seed: the region's a, b or c from the workload id's hash.
    az = (
        f"CASE WHEN d.d_zonal THEN l.region || chr(97 + ascii(md5(coalesce(l.workload_id, ''))) % 3) "
        f"ELSE '{ABSENT_KEYS['AZ']}' END"
    )
    reservation = (
        "CASE WHEN d.d_reserved THEN 'ri-' || substr(md5(l.account_id || '|' || l.region || '|' || "
        f"d.d_instance_type || '|' || coalesce({op}, '')), 1, 17) ELSE '{ABSENT_KEYS['RESERVATION_ID']}' END"
    )
    selects = [
        f"{az} AS dim_az",
        f"{reservation} AS dim_reservation_id",
        f"'{ABSENT_KEYS['CACHE_ENGINE']}' AS dim_cache_engine",
        f"'{AWS_ENTITY}' AS dim_legal_entity_name",
        f"'{AWS_ENTITY}' AS dim_invoicing_entity",
        f"'{BILLING_ENTITY}' AS dim_billing_entity",
    ]
    for dim in ABSENT_KEYS:
        name = dim.lower()
        if name not in ("az", "reservation_id", "cache_engine"):
            selects.append(f"d.d_{name} AS dim_{name}")
    on = " AND ".join(
        f"d.{c} IS NOT DISTINCT FROM {op if c == 'operation' else 'l.' + c}" for c in _KEY_COLUMNS
    )
    return ", ".join(selects), f"LEFT JOIN ledger_dims d ON {on}"


def placeholder_values() -> tuple[str, ...]:
    """The ``No...`` keys: group keys only, never listed by GetDimensionValues as a value."""
    return tuple(ABSENT_KEYS.values())
