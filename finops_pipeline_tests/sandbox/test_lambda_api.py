"""The sandbox's ListProvisionedConcurrencyConfigs (``lambda_api.py``), through boto3 as the pipeline
calls it: the world's configs, per caller account and region."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from finops_pipeline_tests.sandbox.conftest import member_session
from finops_sandbox.world.idle import PC_ALIAS

pytestmark = pytest.mark.usefixtures("aws_env")


def _functions(sandbox: Any) -> list[dict[str, Any]]:
    return [r for r in sandbox.world.resources.to_pylist() if r["resource_type"] == "lambda:function"]


def test_each_config_is_the_worlds_allocated_concurrency(sandbox: Any) -> None:
    with_pc = [r for r in _functions(sandbox) if r["provisioned_concurrency"]]
    assert with_pc
    for row in with_pc:
        client = member_session(row["account_id"]).client("lambda", region_name=row["region"])
        pages = client.get_paginator("list_provisioned_concurrency_configs").paginate(
            FunctionName=row["resource_id"], PaginationConfig={"PageSize": 1}
        )
        configs = [c for page in pages for c in page["ProvisionedConcurrencyConfigs"]]
        count = row["provisioned_concurrency"]
        assert [
            (c["FunctionArn"], c["AllocatedProvisionedConcurrentExecutions"], c["Status"]) for c in configs
        ] == [(f"{row['arn']}:{PC_ALIAS}", count, "READY")]
        assert configs[0]["RequestedProvisionedConcurrentExecutions"] == count


def test_a_function_without_one_lists_none_and_another_accounts_is_not_found(sandbox: Any) -> None:
    functions = _functions(sandbox)
    plain = next(r for r in functions if not r["provisioned_concurrency"])
    client = member_session(plain["account_id"]).client("lambda", region_name=plain["region"])
    answer = client.list_provisioned_concurrency_configs(FunctionName=plain["arn"])
    assert answer["ProvisionedConcurrencyConfigs"] == []
    here = {
        r["resource_id"]
        for r in functions
        if (r["account_id"], r["region"]) == (plain["account_id"], plain["region"])
    }
    other = next(r for r in functions if r["resource_id"] not in here)
    with pytest.raises(ClientError) as caught:
        client.list_provisioned_concurrency_configs(FunctionName=other["resource_id"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
