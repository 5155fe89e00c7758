"""Seed moto's in-process backends from a World.

Seeding goes straight through moto's backend Python objects rather than over HTTP, which keeps a
1,000-account world (38k resources) near 20 s of seeding (bench/sandbox_startup_bench.py). Each member
account's resources are created in *that account's* backend and region, so a client that assumes
``FinOpsMemberReadOnly`` in an account sees only that account's resources, exactly as in AWS.

moto keeps its state in process-global dictionaries: seed one world per process (``reset_moto`` first).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from contextlib import nullcontext
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from unittest import mock

import pyarrow.compute as pc

from finops_sandbox.moto_seed.common import (
    LAMBDA_ROLE_NAME,
    MEMBER_ROLE_NAME,
    PARTITION,
    SES_DOMAIN,
    SES_SENDER,
    SeedError,
    naive_utc,
    parse_tags,
)
from finops_sandbox.moto_seed.metrics import seed_metrics
from finops_sandbox.moto_seed.resources import seed_resources

if TYPE_CHECKING:
    from finops_sandbox.world import World

# What the member role may read: the calls a FinOps scan makes. Written with both spellings moto's IAM
# enforcement and AWS use (tagging:/tag:, budgets:DescribeBudgets/ViewBudget) so enforcement can be enabled.
_READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "tag:GetResources",
                "tagging:GetResources",
                "ec2:Describe*",
                "s3:ListAllMyBuckets",
                "s3:GetBucketTagging",
                "s3:GetBucketLocation",
                "rds:Describe*",
                "rds:ListTagsForResource",
                "lambda:List*",
                "lambda:GetFunction",
                "dynamodb:List*",
                "dynamodb:Describe*",
                "elasticloadbalancing:Describe*",
                "cloudwatch:GetMetricData",
                "monitoring:GetMetricData",
                "budgets:ViewBudget",
                "budgets:DescribeBudgets",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        }
    ],
}


def import_moto() -> None:
    """Import the moto backends the seeder uses, so startup timings can show imports apart from seeding.

    Without a bytecode cache (PYTHONDONTWRITEBYTECODE) these imports alone take seconds.
    """
    import moto.awslambda.models
    import moto.budgets.models
    import moto.cloudwatch.models
    import moto.dynamodb.models
    import moto.ec2.models
    import moto.elbv2.models
    import moto.iam.models
    import moto.moto_api._internal.models
    import moto.organizations.models
    import moto.rds.models
    import moto.resourcegroupstaggingapi.models
    import moto.s3.models
    import moto.ses.models  # noqa: F401


def reset_moto() -> None:
    """Empty every moto backend in this process (moto's own ``/moto-api/reset``)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def seed_moto(world: World) -> World:
    """Load `world` into moto; return it with moto's resource ids and ARNs filled in.

    moto must be empty (call ``reset_moto`` first when re-seeding in the same process). moto's random ids
    are seeded from the world seed, so the same world gets the same EC2 ids in every process.
    """
    # 1,300 default AMIs (and their snapshots) per EC2 region backend cost 90 ms each and pollute
    # DescribeSnapshots; the world launches no AMI, so moto must not load them. Read at backend creation.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    from moto.moto_api._internal import mock_random

    mock_random.seed(world.config.seed)
    accounts = world.accounts.to_pylist()
    _seed_organization(world, accounts)
    _seed_iam(world, accounts)
    seeded = world.with_resource_ids(seed_resources(world))
    seed_metrics(seeded)
    _seed_ses(world)
    _seed_budgets(world)
    return seeded


# --------------------------------------------------------------------------------------------- organization


def _seed_organization(world: World, accounts: list[dict[str, Any]]) -> None:
    from moto.organizations import utils as org_utils
    from moto.organizations.models import organizations_backends

    mgmt_id = world.management_account_id
    backend = organizations_backends[mgmt_id][PARTITION]
    ous = world.ous.to_pylist()
    world_ou_ids = [ou["ou_id"] for ou in ous]
    use_world_ou_ids = all(re.fullmatch(org_utils.OU_ID_REGEX, ou_id or "") for ou_id in world_ou_ids)
    root_id = "r-" + world_ou_ids[0].split("-")[1] if use_world_ou_ids and world_ou_ids else None

    with mock.patch.object(org_utils, "make_random_root_id", side_effect=lambda: root_id or _random_root()):
        backend.create_organization(region="us-east-1", FeatureSet="ALL")
    org = backend.org
    assert org is not None
    mgmt = accounts[0]
    if mgmt["account_id"] != mgmt_id:
        raise SeedError(f"the first accounts row is {mgmt['account_id']}, expected management {mgmt_id}")
    org.master_account_email = mgmt["email"]
    master = backend.get_account_by_id(mgmt_id)
    master.name, master.email = mgmt["account_name"], mgmt["email"]
    master.create_time = naive_utc(mgmt["joined_at"])
    master.tags = parse_tags(mgmt["tags"])

    ou_ids: dict[str, str] = {}
    for ou in ous:
        world_id = mock.patch.object(org_utils, "make_random_ou_id", return_value=ou["ou_id"])
        with world_id if use_world_ou_ids else nullcontext():
            described = backend.create_organizational_unit(Name=ou["name"], ParentId=org.root_id)
        ou_ids[ou["name"]] = described["OrganizationalUnit"]["Id"]

    # list_accounts paginates on JoinedTimestamp as a unique key: two equal timestamps would lose an account.
    seen_times: set[dt.datetime] = {master.create_time}
    members = accounts[1:]
    member_ids = iter([row["account_id"] for row in members])
    with mock.patch.object(org_utils, "make_random_account_id", side_effect=lambda: next(member_ids)):
        for row in members:
            tags = [{"Key": k, "Value": v} for k, v in parse_tags(row["tags"]).items()]
            backend.create_account(AccountName=row["account_name"], Email=row["email"], Tags=tags)
            account = backend.accounts[-1]
            joined = naive_utc(row["joined_at"])
            while joined in seen_times:
                joined += dt.timedelta(microseconds=1)
            seen_times.add(joined)
            account.create_time = joined
            account.joined_method = "INVITED" if joined < master.create_time else "CREATED"
            if row["status"] == "SUSPENDED":
                account.status = account.state = "SUSPENDED"
            account.parent_id = ou_ids.get(row["ou_name"] or "", org.root_id)


def _random_root() -> str:
    from moto.organizations import utils as org_utils

    return f"r-{org_utils.random.get_random_string(org_utils.ROOT_ID_SIZE, lower_case=True)}"


def _seed_iam(world: World, accounts: list[dict[str, Any]]) -> None:
    """The member role in every account (management included), trusted by the management account."""
    from moto.iam.models import iam_backends

    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{world.management_account_id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    lambda_accounts = set(
        world.resources.filter(pc.equal(world.resources["resource_type"], "lambda:function"))
        .column("account_id")
        .to_pylist()
    )
    policy = json.dumps(_READ_ONLY_POLICY)
    for row in accounts:
        iam = iam_backends[row["account_id"]]["global"]
        iam.create_role(
            role_name=MEMBER_ROLE_NAME,
            assume_role_policy_document=trust,
            path="/",
            permissions_boundary=None,
            description="Read-only role a FinOps scan assumes in every member account",
            tags=[],
            max_session_duration="3600",
        )
        iam.put_role_policy(MEMBER_ROLE_NAME, "FinOpsReadOnly", policy)
        if row["account_id"] in lambda_accounts:
            iam.create_role(
                role_name=LAMBDA_ROLE_NAME,
                assume_role_policy_document=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                path="/",
                permissions_boundary=None,
                description="Execution role of the sandbox's Lambda functions",
                tags=[],
                max_session_duration="3600",
            )


# -------------------------------------------------------------------------------------------- SES, budgets


def _seed_ses(world: World) -> None:
    """A verified sender (address and domain) in the management account, in every world region."""
    from moto.ses.models import ses_backends

    for region in dict.fromkeys(("us-east-1", *world.config.regions)):
        backend = ses_backends[world.management_account_id][region]
        backend.verify_email_identity(SES_SENDER)
        backend.verify_domain(SES_DOMAIN)


def _seed_budgets(world: World) -> None:
    """Monthly COST budgets, kept in the management account, scoped as the world says (world/budgets.py).

    That is where an organisation budgets its members and itself, and what DescribeBudgets(AccountId=
    management) shows; CostFilters, FilterExpression and CostTypes are passed as the API takes them.
    """
    from moto.budgets.models import budgets_backends
    from moto.core.utils import unix_time

    rows = world.budgets.to_pylist()
    if not rows:
        return
    backend = budgets_backends[world.management_account_id][PARTITION]
    for row in rows:
        budget: dict[str, Any] = {
            "BudgetName": row["budget_name"],
            "BudgetLimit": {
                "Amount": str(Decimal(row["limit_usd"]).quantize(Decimal("0.01"))),
                "Unit": "USD",
            },
            "CostFilters": json.loads(row["cost_filters"]),
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "TimePeriod": {"Start": unix_time(naive_utc(world.history_start)), "End": 3706473600},
            # AWS's CalculatedSpend for the budget's own scope and cost types, from the world's ledger.
            "CalculatedSpend": {
                "ActualSpend": {"Amount": str(row["actual_usd"]), "Unit": "USD"},
                "ForecastedSpend": {"Amount": str(row["forecast_usd"]), "Unit": "USD"},
            },
        }
        if row["filter_expression"]:
            budget["FilterExpression"] = json.loads(row["filter_expression"])
        if row["cost_types"]:
            budget["CostTypes"] = json.loads(row["cost_types"])
        backend.create_budget(account_id=world.management_account_id, budget=budget, notifications=[])


def resource_counts(world: World) -> dict[str, int]:
    """Resources per type, for logs and the health endpoint."""
    counts: dict[str, int] = defaultdict(int)
    for kind in world.resources.column("resource_type").to_pylist():
        counts[kind] += 1
    return dict(sorted(counts.items()))
