"""Seed each account-region's resources (EC2, S3, RDS, Lambda, DynamoDB) into moto's backends.

Split from the rest of the seeding because it is the part that follows moto's model classes closely:
one creator method per world ``resource_type``, each returning the id and ARN moto assigned.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from typing import TYPE_CHECKING, Any

from finops_sandbox.moto_seed.common import LAMBDA_ROLE_NAME, PARTITION, SeedError, naive_utc, parse_tags

if TYPE_CHECKING:
    from finops_sandbox.world import World


_TYPE_ORDER = {
    "ec2:instance": 0,  # instances first: volumes attach to them, elastic IPs associate with them
    "ec2:volume": 1,
    "ec2:image": 2,  # before snapshots: an AMI's root snapshot row names its image
    "ec2:snapshot": 3,  # after volumes: a snapshot may name its source volume
    "ec2:elastic-ip": 4,
}
_VOLUME_TYPES = {"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}


def stop_reason(stopped_at: dt.datetime) -> str:
    """``StateTransitionReason`` of a user-stopped instance as AWS writes it, with the world's stop time.

    moto writes "User initiated (<now> UTC)": the sandbox's start, so every instance looks stopped today.
    AWS writes the stop time in GMT, e.g. "User initiated (2019-04-08 14:29:07 GMT)"
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Instance.html, stateTransitionReason;
    the AWS CLI's describe-instances examples).
    """
    return f"User initiated ({naive_utc(stopped_at):%Y-%m-%d %H:%M:%S} GMT)"


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
        from moto.elbv2.models import elbv2_backends

        self.elbv2 = elbv2_backends
        self.ids: dict[str, tuple[str, str]] = {}
        self.instances: dict[str, Any] = {}
        self.images: dict[str, Any] = {}

    def create(self, row: dict[str, Any]) -> None:
        kind = row["resource_type"]
        handler = getattr(self, "_" + kind.replace(":", "_").replace("-", "_"), None)
        if handler is None:
            raise SeedError(f"{row['resource_key']}: resource_type {kind!r} has no moto seeder")
        try:
            self.ids[row["resource_key"]] = handler(row, parse_tags(row["tags"]))
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
            instance.launch_time = naive_utc(row["created_at"])
        if row["state"] == "stopped":
            backend.stop_instances([instance.id])
            if row.get("stopped_at") is not None:
                instance._reason = stop_reason(row["stopped_at"])
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
            volume.create_time = naive_utc(row["created_at"])
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
        image = self.images.get(row["attached_to"] or "")
        if image is not None:
            # The root snapshot RegisterImage made ("Auto-created snapshot for AMI ..."), as in AWS.
            snapshot = image.ebs_snapshot
        elif source is not None:
            snapshot = backend.create_snapshot(source[0], description=row["name"])
        else:
            # An orphan snapshot, the usual FinOps find: its source volume was deleted after the snapshot.
            volume = backend.create_volume(size=int(row["size_gb"] or 8), zone_name=f"{row['region']}a")
            snapshot = backend.create_snapshot(volume.id, description=row["name"])
            backend.volumes.pop(volume.id)
        if row["created_at"] is not None:
            snapshot.start_time = naive_utc(row["created_at"])
        if tags:
            backend.create_tags([snapshot.id], tags)
        return snapshot.id, self._ec2_arn(row, "snapshot", snapshot.id)

    def _ec2_image(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        """An own AMI (DescribeImages Owners=self); moto adds its 15 GiB root snapshot, as AWS would."""
        backend = self._ec2_backend(row)
        image = backend.register_image(name=row["name"], description=f"{row['name']} build")
        # EBS-backed, as its root snapshot says: moto's "standard" is no RootDeviceType AWS sends (ebs |
        # instance-store, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html).
        image.root_device_type = "ebs"
        if row["created_at"] is not None:
            image.creation_date = naive_utc(row["created_at"])
        if tags:
            backend.create_tags([image.id], tags)
        self.images[row["resource_key"]] = image
        return image.id, self._ec2_arn(row, "image", image.id)

    def _ec2_natgateway(self, row: dict[str, Any], tags: dict[str, str]) -> tuple[str, str]:
        """A private NAT gateway in the default subnet (no elastic IP: DescribeAddresses is unchanged)."""
        backend = self._ec2_backend(row)
        subnet = sorted(backend.get_default_subnets().values(), key=lambda s: s.availability_zone)[0]
        gateway = backend.create_nat_gateway(subnet.id, None, tags=tags, connectivity_type="private")
        if row["created_at"] is not None:
            gateway._created_at = naive_utc(row["created_at"])
        return gateway.id, self._ec2_arn(row, "natgateway", gateway.id)

    def _elasticloadbalancing_loadbalancer(
        self, row: dict[str, Any], tags: dict[str, str]
    ) -> tuple[str, str]:
        """An application or network load balancer over the region's first two default subnets, active."""
        from moto.core.utils import iso_8601_datetime_with_milliseconds

        subnets = sorted(
            self._ec2_backend(row).get_default_subnets().values(), key=lambda s: s.availability_zone
        )
        balancer = self.elbv2[row["account_id"]][row["region"]].create_load_balancer(
            name=row["name"],
            security_groups=[],
            subnet_ids=[s.id for s in subnets[:2]],
            loadbalancer_type=row["instance_type"],
            tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        balancer.state = "active"
        if row["created_at"] is not None:
            balancer.created_time = iso_8601_datetime_with_milliseconds(naive_utc(row["created_at"]))
        return balancer.name, balancer.arn

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
        backend = self.s3[row["account_id"]][PARTITION]
        bucket = backend.create_bucket(row["name"], row["region"])
        if row["created_at"] is not None:
            bucket.creation_date = naive_utc(row["created_at"]).replace(tzinfo=dt.UTC)
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
            database.created = database.instance_create_time = naive_utc(row["created_at"])
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
            table.created_at = naive_utc(row["created_at"])
        return table.name, table.table_arn


def seed_resources(world: World) -> dict[str, tuple[str, str]]:
    columns = ["resource_key", "account_id", "region", "resource_type", "name", "tags", "state"]
    columns += ["instance_type", "size_gb", "created_at", "attached_to"]
    columns += [c for c in ("volume_type", "stopped_at") if c in world.resources.column_names]
    rows = world.resources.select(columns).to_pylist()
    rows.sort(key=lambda r: (r["account_id"], r["region"], _TYPE_ORDER.get(r["resource_type"], 9)))
    seeder = _Seeder(world)
    for row in rows:
        seeder.create(row)
    return seeder.ids
