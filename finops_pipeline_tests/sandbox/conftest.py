"""Fixtures shared by the Cost Explorer emulator tests, and a member-account session for the sandbox tests.

``world`` and ``ce`` are the hand-built world of ``ce_fixture`` and an emulator over it, one per module (as
each module built them before). Modules that test a generated world (test_world, test_ce_world) define their
own ``world`` and ``ce``, which take precedence.
"""

from __future__ import annotations

import boto3
import pytest

from finops_pipeline_tests.sandbox.ce_fixture import FixtureWorld, build_fixture_world
from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator
from finops_sandbox.moto_seed import MEMBER_ROLE_NAME


@pytest.fixture(scope="module")
def world() -> FixtureWorld:
    return build_fixture_world()


@pytest.fixture(scope="module")
def ce(world: FixtureWorld) -> CostExplorerEmulator:
    return CostExplorerEmulator(world)


def member_session(account_id: str) -> boto3.Session:
    """A session in `account_id` through the member role, as the pipeline's scans assume it.

    The region is the environment's: the sandbox's client_env sets us-east-1.
    """
    credentials = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE_NAME}", RoleSessionName="finops-scan"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
