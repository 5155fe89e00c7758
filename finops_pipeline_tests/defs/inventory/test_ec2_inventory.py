"""ec2_inventory against the session sandbox: every EC2 resource of every active account, tagged or not."""

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

TABLES = {
    "ec2:instance": "raw.ec2_instances",
    "ec2:volume": "raw.ec2_volumes",
    "ec2:snapshot": "raw.ec2_snapshots",
    "ec2:elastic-ip": "raw.ec2_addresses",
    "ec2:natgateway": "raw.ec2_nat_gateways",
    "ec2:image": "raw.ec2_images",
}


def test_raw_tables_hold_every_ec2_resource_with_its_state(ingested_warehouse: Path, sandbox: Any) -> None:
    truth = {r["arn"]: r for r in sandbox.world.resources.to_pylist() if r["resource_type"] in TABLES}
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        seen = {
            arn: (kind, account, region, json.loads(tags))
            for kind, table in TABLES.items()
            for arn, account, region, tags in conn.execute(
                f"SELECT resource_arn, account_id, region, tags FROM {table}"
            ).fetchall()
        }
        instances = dict(conn.execute("SELECT resource_arn, state FROM raw.ec2_instances").fetchall())
        volumes = {
            arn: (state, size)
            for arn, state, size in conn.execute(
                "SELECT resource_arn, state, size_gb FROM raw.ec2_volumes"
            ).fetchall()
        }
        addresses = dict(
            conn.execute(
                "SELECT resource_arn, association_id IS NULL AND instance_id IS NULL FROM raw.ec2_addresses"
            ).fetchall()
        )
        scans = conn.execute(
            "SELECT status, count(*), sum(items) FROM raw.scan_status WHERE source = 'ec2' GROUP BY 1"
        ).fetchall()
        active = conn.execute("SELECT count(*) FROM raw.aws_accounts WHERE status = 'ACTIVE'").fetchall()[0][
            0
        ]
    assert set(seen) == set(truth)
    assert Counter(kind for kind, *_ in seen.values()) == Counter(r["resource_type"] for r in truth.values())
    for arn, (kind, account, region, tags) in seen.items():
        t = truth[arn]
        assert (kind, account, region) == (t["resource_type"], t["account_id"], t["region"])
        # Hostile values and empty tag sets are kept as they are, except that EC2's XML answer (query
        # protocol) reaches botocore with CR LF normalised to LF, as any XML parser does.
        expected = {k: v.replace("\r\n", "\n") for k, v in json.loads(t["tags"]).items()}
        assert tags == expected, arn
    assert any(not tags for *_, tags in seen.values())  # never-tagged resources are seen
    assert {a: s for a, s in instances.items()} == {a: truth[a]["state"] for a in instances}
    assert {a: v[0] for a, v in volumes.items()} == {a: truth[a]["state"] for a in volumes}
    assert {a: v[1] for a, v in volumes.items()} == {a: truth[a]["size_gb"] for a in volumes}
    assert addresses == {a: truth[a]["state"] == "unassociated" for a in addresses}
    assert scans == [("ok", active * 3, len(seen))]


def test_stopped_since_is_the_worlds_stop_time(ingested_warehouse: Path, sandbox: Any) -> None:
    """DescribeInstances' StateTransitionReason ("User initiated (... GMT)") parsed into stopped_since."""
    truth = {
        r["arn"]: r["stopped_at"]
        for r in sandbox.world.resources.to_pylist()
        if r["resource_type"] == "ec2:instance"
    }
    with duckdb.connect(str(ingested_warehouse), read_only=True) as conn:
        got = dict(conn.execute("SELECT resource_arn, stopped_since FROM raw.ec2_instances").fetchall())
    stopped = {a for a, t in truth.items() if t is not None}
    assert stopped and {a for a, t in got.items() if t is not None} == stopped
    for arn_ in stopped:
        assert got[arn_] == truth[arn_].replace(microsecond=0), arn_  # AWS gives whole seconds


def test_state_transition_reason_parsing() -> None:
    from finops_pipeline.defs.inventory.ec2 import stopped_since

    def instance(state: str, reason: str) -> dict[str, Any]:
        return {"State": {"Name": state}, "StateTransitionReason": reason}

    when = dt.datetime(2019, 4, 8, 14, 29, 7, tzinfo=dt.UTC)
    assert stopped_since(instance("stopped", "User initiated (2019-04-08 14:29:07 GMT)")) == when
    assert stopped_since(instance("stopped", "User initiated (2019-04-08 14:29:07 UTC)")) == when  # moto
    assert stopped_since(instance("stopped", "")) is None  # AWS: "might be an empty string"
    assert stopped_since(instance("stopped", "Server.ScheduledStop")) is None
    assert stopped_since(instance("running", "User initiated (2019-04-08 14:29:07 GMT)")) is None
