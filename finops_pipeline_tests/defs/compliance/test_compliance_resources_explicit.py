"""The compliance mart materialized with explicit resources: the rules come from the resource, not the
environment."""

from pathlib import Path

import dagster as dg
import duckdb

from finops_pipeline.config_resources import TagPolicyResource
from finops_pipeline.defs.compliance.assets import tag_compliance_resources
from finops_pipeline.warehouse import WarehouseResource

RESOURCES_SQL = """
SELECT count(*) FILTER (WHERE is_exempt), count(*) FILTER (WHERE service = 's3'),
       count(*) FILTER (WHERE compliance_status = 'exempt' AND service <> 's3'),
       count(*) FILTER (WHERE NOT is_exempt AND compliance_status <> 'unknown'
                        AND compliant <> (len(missing_keys) = 0 AND len(invalid_values) = 0)),
       max(len(missing_keys))
FROM marts.tag_compliance_resources
"""


def test_a_policy_given_as_a_resource_decides_exemption_and_the_keys(warehouse_copy: Path) -> None:
    policy = TagPolicyResource(required_keys=["Owner"], exempt_resource_types=["s3"])
    result = dg.materialize(
        [tag_compliance_resources],
        resources={"warehouse": WarehouseResource(database=str(warehouse_copy)), "tag_policy": policy},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("tag_compliance_resources")[0].metadata
    assert metadata["required_keys"].value == "Owner"
    with duckdb.connect(str(warehouse_copy), read_only=True) as conn:
        exempt, s3, other_exempt, inconsistent, most_missing = conn.execute(RESOURCES_SQL).fetchone()
    assert s3 > 0 and exempt == s3  # every S3 resource exempt, nothing else
    assert other_exempt == 0
    assert inconsistent == 0  # compliant exactly when the one key is present and valid
    assert most_missing == 1  # one required key: at most one can be missing
    assert metadata["resources_exempt"].value == s3
