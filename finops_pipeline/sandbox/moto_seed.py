"""Seed moto's in-process backends from a World.

Seeding goes straight through moto's backend Python objects rather than over HTTP, which keeps a
1,000-account world (38k resources) near 20 s of seeding (bench/sandbox_startup_bench.py). Each member
account's resources are created in *that account's* backend and region, so a client that assumes
``FinOpsMemberReadOnly`` in an account sees only that account's resources, exactly as in AWS.

moto keeps its state in process-global dictionaries: seed one world per process (``reset_moto`` first).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import nullcontext
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from finops_pipeline.sandbox.world import World

MEMBER_ROLE_NAME = "FinOpsMemberReadOnly"
LAMBDA_ROLE_NAME = "finops-sandbox-lambda-exec"
SES_SENDER = "finops@example.com"
SES_DOMAIN = "example.com"
_PARTITION = "aws"

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
                "budgets:ViewBudget",
                "budgets:DescribeBudgets",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        }
    ],
}


class SeedError(RuntimeError):
    """A world row moto refused; the message names the row so the world generator can be fixed."""


def import_moto() -> None:
    """Import the moto backends the seeder uses, so startup timings can show imports apart from seeding.

    Without a bytecode cache (PYTHONDONTWRITEBYTECODE) these imports alone take seconds.
    """
    import moto.awslambda.models
    import moto.budgets.models
    import moto.dynamodb.models
    import moto.ec2.models
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
    mapping = _seed_resources(world)
    _seed_ses(world)
    _seed_budgets(world)
    return world.with_resource_ids(mapping)


# --------------------------------------------------------------------------------------------- organization


def _naive_utc(value: dt.datetime | dt.date) -> dt.datetime:
    """moto stores timestamps as naive UTC datetimes (its ``utcnow()``)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _tags(raw: str | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(raw or "{}").items()}


def _seed_organization(world: World, accounts: list[dict[str, Any]]) -> None:
    from moto.organizations import utils as org_utils
    from moto.organizations.models import organizations_backends

    mgmt_id = world.management_account_id
    backend = organizations_backends[mgmt_id][_PARTITION]
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
    master.create_time = _naive_utc(mgmt["joined_at"])
    master.tags = _tags(mgmt["tags"])

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
            tags = [{"Key": k, "Value": v} for k, v in _tags(row["tags"]).items()]
            backend.create_account(AccountName=row["account_name"], Email=row["email"], Tags=tags)
            account = backend.accounts[-1]
            joined = _naive_utc(row["joined_at"])
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


# ------------------------------------------------------------------------------------------------ resources

_TYPE_ORDER = {
    "ec2:instance": 0,  # instances first: volumes attach to them, elastic IPs associate with them
    "ec2:volume": 1,
    "ec2:snapshot": 2,  # after volumes: a snapshot may name its source volume
    "ec2:elastic-ip": 3,
}
_VOLUME_TYPES = {"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}


def _lambda_zip() -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'ok': True}\n")
    return base64.b64encode(buffer.getvalue()).decode()


class _NoDocker:
    """Stands in for moto's Docker client: the sandbox stores Lambda functions but never runs them."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the sandbox serves Lambda functions without Docker: Invoke is not supported")


class _Seeder:
    """Creates one account-region's resources; remembers ids so volumes/EIPs can find their instance."""

    def __init__(self, world: World) -> None:
        from moto.awslambda.models import lambda_backends
        from moto.dynamodb.models import dynamodb_backends
        from moto.ec2.models import ec2_backends
        from moto.rds.models import rds_backends
        from moto.s3.models import s3_backends

        self.ec2, self.s3, self.rds = ec2_backends, s3_backends, rds_backends
        self.lambda_, self.dynamodb = lambda_backends, dynamodb_backends
        self.zip = _lambda_zip()
        self.ids: dict[str, tuple[str, str]] = {}
        self.instances: dict[str, Any] = {}

    def create(self, row: dict[str, Any]) -> None:
        kind = row["resource_type"]
        handler = getattr(self, "_" + kind.replace(":", "_").replace("-", "_"), None)
        if handler is None:
            raise SeedError(f"{row['resource_key']}: resource_type {kind!r} has no moto seeder")
        try:
            self.ids[row["resource_key"]] = handler(row, _tags(row["tags"]))
        except SeedError:
            raise
        except Exception as exc:
            raise SeedError(
                f"{row['resource_key']} ({kind}, {row['name']!r}): moto refused it: {exc!r}"
            ) from exc

    def _ec2_arn(self, row: dict[str, Any], kind: str, resource_id: str) -> str:
        return f"arn:aws:ec2:{row['region']}:{row['account_id']}:{kind}/{resource_id}"

    def _ec2_backend(self, row: dict[str, Any]) -> Any:
        return self.ec2[row["account_id"]][row["region"]]

    def _ec2_instance(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self._ec2_backend(row)
        reservation = backend.run_instances(
            "ami-0sandbox0000000",
            1,
            None,
            [],
            instance_type=row["instance_type"] or "t3.micro",
            # "default" skips moto's scan of ~700 offerings per launch (40% of a 1,000-account seed); the
            # type is still stored as given, and the world only uses real types.
            is_instance_type_default=True,
            region_name=row["region"],
            block_device_mappings=[],  # no implicit root volume: the world lists every volume itself
            tags={"instance": tags} if tags else {},
        )
        instance = reservation.instances[0]
        if row["created_at"] is not None:
            instance.launch_time = _naive_utc(row["created_at"])
        if row["state"] == "stopped":
            backend.stop_instances([instance.id])
        self.instances[row["resource_key"]] = instance
        return instance.id, self._ec2_arn(row, "instance", instance.id)

    def _ec2_volume(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self._ec2_backend(row)
        instance = self.instances.get(row["attached_to"] or "")
        volume_type = next(
            (t for t in (row.get("volume_type"), row["instance_type"]) if t in _VOLUME_TYPES), "gp3"
        )
        zone = instance.availability_zone if instance is not None else f"{row['region']}a"
        iops = 3000 if volume_type in ("io1", "io2") else None  # moto, like AWS, demands Iops for io1/io2
        volume = backend.create_volume(
            size=int(row["size_gb"] or 8), zone_name=zone, volume_type=volume_type, iops=iops
        )
        if row["created_at"] is not None:
            volume.create_time = _naive_utc(row["created_at"])
        if tags:
            backend.create_tags([volume.id], tags)
        if row["state"] == "in-use":
            if instance is None:
                raise SeedError(f"{row['resource_key']}: in-use volume without an instance in attached_to")
            device = f"/dev/sd{chr(ord('f') + len(instance.block_device_mapping))}"
            backend.attach_volume(volume.id, instance.id, device)
        return volume.id, self._ec2_arn(row, "volume", volume.id)

    def _ec2_snapshot(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self._ec2_backend(row)
        source = self.ids.get(row["attached_to"] or "")
        if source is not None:
            snapshot = backend.create_snapshot(source[0], description=row["name"])
        else:
            # An orphan snapshot, the usual FinOps find: its source volume was deleted after the snapshot.
            volume = backend.create_volume(size=int(row["size_gb"] or 8), zone_name=f"{row['region']}a")
            snapshot = backend.create_snapshot(volume.id, description=row["name"])
            backend.volumes.pop(volume.id)
        if row["created_at"] is not None:
            snapshot.start_time = _naive_utc(row["created_at"])
        if tags:
            backend.create_tags([snapshot.id], tags)
        return snapshot.id, self._ec2_arn(row, "snapshot", snapshot.id)

    def _ec2_elastic_ip(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self._ec2_backend(row)
        address = backend.allocate_address(domain="vpc", tags=tags or None)
        if row["state"] == "associated":
            instance = self.instances.get(row["attached_to"] or "")
            if instance is None:
                raise SeedError(f"{row['resource_key']}: associated elastic IP without an instance")
            backend.associate_address(instance=instance, allocation_id=address.allocation_id)
        return address.allocation_id, self._ec2_arn(row, "elastic-ip", address.allocation_id)

    def _s3_bucket(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self.s3[row["account_id"]][_PARTITION]
        bucket = backend.create_bucket(row["name"], row["region"])
        if row["created_at"] is not None:
            bucket.creation_date = _naive_utc(row["created_at"]).replace(tzinfo=dt.UTC)
        if tags:
            backend.put_bucket_tagging(row["name"], tags)
        return bucket.name, bucket.arn

    def _rds_db(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self.rds[row["account_id"]][row["region"]]
        database = backend.create_db_instance(
            {
                "db_instance_identifier": row["name"],
                "db_instance_class": row["instance_type"] or "db.t3.micro",
                "engine": "postgres",
                "allocated_storage": int(row["size_gb"] or 20),
                "storage_type": "gp3",
                "tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            }
        )
        if row["created_at"] is not None:
            database.created = database.instance_create_time = _naive_utc(row["created_at"])
        return database.db_instance_identifier, database.arn

    def _lambda_function(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self.lambda_[row["account_id"]][row["region"]]
        function = backend.create_function(
            {
                "FunctionName": row["name"],
                "Runtime": "python3.12",
                "Role": f"arn:aws:iam::{row['account_id']}:role/{LAMBDA_ROLE_NAME}",
                "Handler": "app.handler",
                "Code": {"ZipFile": self.zip},
                "MemorySize": 128,
                "Tags": tags,
            }
        )
        # moto opens a Docker client the first time anything reads ``docker_client``, and GET
        # /moto-api/data.json reads every attribute: without Docker that read raises and the whole dump
        # fails. The sandbox never runs functions, so hand moto a stand-in that says so.
        function._DockerModel__docker_client = _NoDocker()
        return function.function_name, function.function_arn

    def _dynamodb_table(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        backend = self.dynamodb[row["account_id"]][row["region"]]
        table = backend.create_table(
            row["name"],
            schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            throughput=None,
            attr=[{"AttributeName": "pk", "AttributeType": "S"}],
            global_indexes=None,
            indexes=None,
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[{"Key": k, "Value": v} for k, v in tags.items()],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        if row["created_at"] is not None:
            table.created_at = _naive_utc(row["created_at"])
        return table.name, table.table_arn


def _seed_resources(world: World) -> dict[str, tuple[str, str]]:
    columns = ["resource_key", "account_id", "region", "resource_type", "name", "tags", "state"]
    columns += ["instance_type", "size_gb", "created_at", "attached_to"]
    columns += [c for c in ("volume_type",) if c in world.resources.column_names]
    rows = world.resources.select(columns).to_pylist()
    rows.sort(key=lambda r: (r["account_id"], r["region"], _TYPE_ORDER.get(r["resource_type"], 9)))
    seeder = _Seeder(world)
    for row in rows:
        seeder.create(row)
    return seeder.ids


# -------------------------------------------------------------------------------------------- SES, budgets


def _seed_ses(world: World) -> None:
    """A verified sender (address and domain) in the management account, in every world region."""
    from moto.ses.models import ses_backends

    for region in dict.fromkeys(("us-east-1", *world.config.regions)):
        backend = ses_backends[world.management_account_id][region]
        backend.verify_email_identity(SES_SENDER)
        backend.verify_domain(SES_DOMAIN)


def _month_to_date(world: World) -> dict[str, Decimal]:
    """Unblended spend of as_of's month (days before as_of) per account: the budgets' ActualSpend."""
    as_of = world.config.as_of
    month_start = as_of.replace(day=1)
    ledger = world.ledger.select(["usage_date", "account_id", "unblended_cost"])
    in_month = pc.and_(
        pc.greater_equal(ledger["usage_date"], pa.scalar(month_start, pa.date32())),
        pc.less(ledger["usage_date"], pa.scalar(as_of, pa.date32())),
    )
    sums = ledger.filter(in_month).group_by("account_id").aggregate([("unblended_cost", "sum")])
    return dict(zip(sums["account_id"].to_pylist(), sums["unblended_cost_sum"].to_pylist(), strict=True))


def _seed_budgets(world: World) -> None:
    """Monthly COST budgets, kept in the management account and scoped with a LinkedAccount filter.

    That is how an organisation budgets its members, and what DescribeBudgets(AccountId=management) shows.
    """
    from moto.budgets.models import budgets_backends
    from moto.core.utils import unix_time

    rows = world.budgets.to_pylist()
    if not rows:
        return
    as_of = world.config.as_of
    month_start = as_of.replace(day=1)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    elapsed, length = (as_of - month_start).days, (next_month - month_start).days
    spend = _month_to_date(world)
    backend = budgets_backends[world.management_account_id][_PARTITION]
    for row in rows:
        actual = Decimal(spend.get(row["account_id"]) or 0).quantize(Decimal("0.01"))
        forecast = (actual * length / elapsed).quantize(Decimal("0.01")) if elapsed else Decimal("0.00")
        budget = {
            "BudgetName": row["budget_name"],
            "BudgetLimit": {
                "Amount": str(Decimal(row["limit_usd"]).quantize(Decimal("0.01"))),
                "Unit": "USD",
            },
            "CostFilters": {"LinkedAccount": [row["account_id"]]},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "TimePeriod": {"Start": unix_time(_naive_utc(world.history_start)), "End": 3706473600},
            "CalculatedSpend": {
                "ActualSpend": {"Amount": str(actual), "Unit": "USD"},
                "ForecastedSpend": {"Amount": str(forecast), "Unit": "USD"},
            },
        }
        backend.create_budget(account_id=world.management_account_id, budget=budget, notifications=[])


# ------------------------------------------------------------------------------------------- moto fixes

_originals: dict[str, Any] = {}
_DATA_JSON = "{0}/moto-api/data.json"


def install_moto_fixes() -> None:
    """Fix, for as long as a sandbox runs, the moto behaviours that would make it lie about AWS.

    - Tagging API ``GetResources``: moto lists every S3 bucket of the account in every region and leaves
      elastic IPs out; AWS lists a bucket only in its own region and includes ``ec2:elastic-ip``.
    - ``GET /moto-api/data.json`` (where sent SES mail is read) fails with a 500 as soon as an RDS instance
      exists (a write-only property raises NotImplementedError) or a Lambda function does and Docker is
      absent; the fixed dump skips any attribute that cannot be read, and the backends themselves.

    And the per-request costs that made a 600-target tag scan CPU-bound in the server (same answers):

    - moto lists its package directory (~180 ``isdir`` calls) on every request to route it; the list is
      read once.
    - moto finds the account of an access key through its locking backend lookup for every account and
      partition (~1,000 lookups a request at 200 accounts); the backends are now read as plain dicts.
    - moto lists a response class's methods with ``inspect.getmembers`` on every request to find the
      action's handler; the list is kept per class.
    - ``GetResources`` answers went through moto's generic serializer (half the request's CPU); its
      body is now the same JSON written directly (``get_resources_body``).

    Idempotent; undone by ``remove_moto_fixes``.
    """
    from moto import backends
    from moto.core import responses
    from moto.iam import models as iam_models
    from moto.moto_api._internal import urls
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    if _originals:
        return
    original = ResourceGroupsTaggingAPIBackend._get_resources_generator
    _originals["generator"] = original
    _originals["data.json"] = urls.url_paths[_DATA_JSON]
    _originals["modules"] = backends.list_of_moto_modules
    _originals["account_of_key"] = iam_models.get_account_id_from
    _originals["get_resources"] = ResourceGroupsTaggingAPIResponse.get_resources
    _originals["method_names"] = responses.method_names_from_class

    def regional_resources(
        self: ResourceGroupsTaggingAPIBackend,
        tag_filters: list[dict[str, Any]] | None = None,
        resource_type_filters: list[str] | None = None,
        resource_arn_list: list[str] | None = None,
    ) -> Iterator[Any]:
        for resource in original(
            self,
            tag_filters=tag_filters,
            resource_type_filters=resource_type_filters,
            resource_arn_list=resource_arn_list,
        ):
            if (
                resource.resource_type != "s3:bucket"
                or _bucket_region(self, resource.arn) == self.region_name
            ):
                yield resource
        yield from _elastic_ips(self, tag_filters, resource_type_filters, resource_arn_list)

    ResourceGroupsTaggingAPIBackend._get_resources_generator = regional_resources  # type: ignore[method-assign]
    urls.url_paths[_DATA_JSON] = _model_data
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    iam_models.get_account_id_from = _account_of_key
    ResourceGroupsTaggingAPIResponse.get_resources = _get_resources  # type: ignore[method-assign,assignment]
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def remove_moto_fixes() -> None:
    from moto import backends
    from moto.core import responses
    from moto.iam import models as iam_models
    from moto.moto_api._internal import urls
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    if "generator" in _originals:
        ResourceGroupsTaggingAPIBackend._get_resources_generator = _originals.pop("generator")  # type: ignore[method-assign]
    if "data.json" in _originals:
        urls.url_paths[_DATA_JSON] = _originals.pop("data.json")
    if "modules" in _originals:
        backends.list_of_moto_modules = _originals.pop("modules")
    if "account_of_key" in _originals:
        iam_models.get_account_id_from = _originals.pop("account_of_key")
    if "get_resources" in _originals:
        ResourceGroupsTaggingAPIResponse.get_resources = _originals.pop("get_resources")  # type: ignore[method-assign]
    if "method_names" in _originals:
        responses.method_names_from_class = _originals.pop("method_names")


def _account_of_key(access_key: str) -> str:
    """moto's ``get_account_id_from``, reading the IAM backends that exist instead of looking each one up."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for account_id, partitions in list(iam_backends.items()):
        for backend in list(dict.values(partitions)):
            if access_key in backend.access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID


def get_resources_body(result: dict[str, Any]) -> str:
    """The JSON moto's serializer writes for a ``GetResources`` result, byte for byte, in far less CPU.

    The output members in the model's order, None left out; moto builds the nested mappings and tags in the
    model's order already.
    """
    from moto.core.utils import get_service_model

    output = get_service_model("resourcegroupstaggingapi").operation_model("GetResources").output_shape
    return json.dumps({name: result[name] for name in output.members if result.get(name) is not None})


def _get_resources(self: Any) -> tuple[str, dict[str, str]]:
    """moto's ``GetResources`` (validation, paging) and headers, with the body of ``get_resources_body``."""
    from moto.core.responses import ActionResult

    answer = _originals["get_resources"](self)
    _, headers, _ = self.serialized(ActionResult({}))  # an empty result: moto's headers for this call
    return get_resources_body(answer.result), headers


def _model_data(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """moto's ``/moto-api/data.json`` dump, skipping attributes whose getter raises anything.

    Backends are left out too: moto tracks each EC2 backend as a model, and its 3 MB instance-type catalogue
    made the dump of a 12-account world take 10 s.
    """
    from moto.core.base_backend import BaseBackend
    from moto.core.model_instances import model_data

    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for service in sorted(model_data):
        models = model_data[service]
        results[service] = {}
        for name in sorted(models):
            instances = []
            for instance in models[name].instances_tracked:  # type: ignore[attr-defined]
                if isinstance(instance, BaseBackend):
                    continue
                fields = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:
                        continue
                    fields[attr] = value
                instances.append(fields)
            results[service][name] = instances
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


def _bucket_region(tagging: Any, arn: str) -> str | None:
    from moto.s3.models import s3_backends

    bucket = s3_backends[tagging.account_id][tagging.partition].buckets.get(arn.rsplit(":", 1)[-1])
    return None if bucket is None else bucket.region_name


def _elastic_ips(
    tagging: Any,
    tag_filters: list[dict[str, Any]] | None,
    resource_type_filters: list[str] | None,
    resource_arn_list: list[str] | None,
) -> Iterator[Any]:
    from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type
    from moto.ec2.models import ec2_backends

    if tagging.account_id not in ec2_backends or not match_resource_type(
        "ec2:elastic-ip", resource_type_filters
    ):
        return
    backend = ec2_backends[tagging.account_id].get(tagging.region_name)
    if backend is None:
        return
    matches = make_tag_matcher(tag_filters)
    for address in backend.addresses:
        tags = dict(backend.tags.get(address.allocation_id, {}))
        arn = f"arn:aws:ec2:{tagging.region_name}:{tagging.account_id}:elastic-ip/{address.allocation_id}"
        if tags and matches(tags) and (not resource_arn_list or arn in resource_arn_list):
            yield TaggedResource(arn=arn, tags=tags, resource_type="ec2:elastic-ip")


def resource_counts(world: World) -> dict[str, int]:
    """Resources per type, for logs and the health endpoint."""
    counts: dict[str, int] = defaultdict(int)
    for kind in world.resources.column("resource_type").to_pylist():
        counts[kind] += 1
    return dict(sorted(counts.items()))
