"""The policies in iam/ against the code: exactly the actions the pipeline calls, and enough to run it.

1. The whole pipeline (every asset and check, the health probe included, with every optional feature on)
   runs against the session sandbox while a botocore hook records each call's IAM action and principal;
   the policies must grant exactly those actions, nothing missing, nothing extra.
2. A separate sandbox process with IAM enforced runs the pipeline as a user holding only those policies
   (member roles holding only the member policy): it succeeds, and taking one action away makes the part
   that needs it fail with a message naming the action.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline import iam_policies
from finops_pipeline.clock import first_of_month_months_ago
from finops_pipeline.lib.remediation import MOTO_SPELLING
from finops_pipeline.settings import load_settings
from finops_pipeline_tests.conftest import (
    SANDBOX_AS_OF,
    sandbox_config,
    set_aws_env,
    start_background_sandbox,
)
from finops_pipeline_tests.focus_support import FOCUS_BUCKET, focus_export, publish_focus_export
from finops_pipeline_tests.iam_support import EnforcedSandbox, record_actions, without_action
from finops_pipeline_tests.pipeline_fixtures import (
    pipeline_env,
    run_focus_import,
    run_pipeline,
    step_failures,
)
from finops_sandbox.data_exports import EXPORT_NAME
from finops_sandbox.world import build_world

TODAY = SANDBOX_AS_OF  # the suite's pinned today
START = first_of_month_months_ago(TODAY, 1)  # last month: the reconciliation check calls Cost Explorer too
SENDER = "finops@example.com"  # verified by the sandbox's seed
ALL_FEATURES = {
    "FINOPS_START_DATE": START.isoformat(),
    "SES_ENABLED": "true",
    "SES_SENDER_EMAIL": SENDER,
    "SES_RECIPIENT_EMAILS": "finops-team@example.com",
    "SUPPORT_PROBE_ENABLED": "true",
    "FINOPS_DUCKDB_LOCK_TIMEOUT_SECONDS": "30",
    "FOCUS_EXPORT_URI": f"s3://{FOCUS_BUCKET}/focus/{EXPORT_NAME}",  # the sandbox's Data Export (#18)
}
HEALTH = "aws_access_health"
CENTRAL_POLICIES = (
    "central-role-policy.json",
    "ses-send-policy.json",
    "support-probe-policy.json",
    "focus-export-policy.json",
)


def _features(tmp: Path) -> dict[str, str]:
    return dict(ALL_FEATURES)


def run_everything() -> list[dg.ExecuteInProcessResult]:
    """Every asset and check, every job that is not only a selection of assets, then every sensor.

    The FOCUS export's billing periods first (their own partitions, as the demo runs them). The sensors
    (e-mail delivery, the FOCUS export's) run on the same instance, so they see the runs' materializations.
    """
    from finops_pipeline.config_resources import resources_for
    from finops_pipeline.definitions import defs as load_defs
    from finops_pipeline.defs.focus.partitions import FOCUS_PARTITIONED

    instance = dg.DagsterInstance.ephemeral()
    definitions = load_defs()
    everything = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    focus = run_focus_import(instance=instance)
    assert focus is not None, "the FOCUS export has no billing period"
    daily = sorted(everything - {HEALTH, *FOCUS_PARTITIONED})
    results = [focus, run_pipeline(START, TODAY, assets=daily, instance=instance)]
    for job in definitions.resolve_all_job_defs():
        if job.name.startswith("__") or job.asset_layer.executable_asset_keys:
            continue
        results.append(job.execute_in_process(instance=instance, raise_on_error=False))
    resources = resources_for(load_settings())
    for sensor in definitions.sensors or []:
        # The warehouse resource tears down after execution (it publishes the read copy), so the sensor
        # context has to be opened as a context manager.
        with dg.build_sensor_context(
            instance=instance, resources=resources, definitions=definitions
        ) as context:
            sensor(context)
    return results


# ------------------------------------------------------------------------------------------ exact match


@pytest.fixture(scope="module")
def recorded(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The pipeline's own calls (every asset but the health probe, every job and sensor), then the probe's."""
    directory = tmp_path_factory.mktemp("iam-record")
    database = directory / "finops.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(directory)
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(directory))  # reports/ stays in it
    try:
        set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database, **_features(directory)), directory)
        with focus_export(sandbox.env(), sandbox.world):
            with record_actions(monkeypatch, sandbox.world.management_account_id) as pipeline:
                results = run_everything()
            with record_actions(monkeypatch, sandbox.world.management_account_id) as health:
                results.append(run_pipeline(START, TODAY, assets=[HEALTH]))
        for result in results:
            assert result.success, step_failures(result)
    finally:
        monkeypatch.undo()
    yield {"pipeline": pipeline, "health": health, "database": database, "sent": sandbox_sent_mail(sandbox)}


def sandbox_sent_mail(sandbox: Any) -> int:
    from moto.ses.models import ses_backends

    backend = ses_backends[sandbox.world.management_account_id]["us-east-1"]
    return len(backend.sent_messages)


def _actions(*files: str) -> set[str]:
    return set().union(*(iam_policies.actions_of(iam_policies.load(name)) for name in files))


def test_policies_grant_exactly_the_actions_the_pipeline_calls(recorded: dict[str, Any]) -> None:
    pipeline, health = recorded["pipeline"], recorded["health"]
    print("pipeline, central principal:", sorted(pipeline.actions["central"]))
    print("pipeline, member role:", sorted(pipeline.actions["member"]))
    print("health probe, central principal:", sorted(health.actions["central"]))
    central = _actions("central-role-policy.json", "ses-send-policy.json", "focus-export-policy.json")
    member = _actions("member-role-policy.json")
    assert pipeline.actions["central"] - central == set(), "called but not granted (central)"
    assert central - pipeline.actions["central"] == set(), "granted but never called (central)"
    assert pipeline.actions["member"] - member == set(), "called but not granted (member role)"
    assert member - pipeline.actions["member"] == set(), "granted but never called (member role)"
    assert recorded["sent"] >= 1  # the report e-mail really went out through SES
    # The health probe (finops doctor) calls the same actions, plus the optional Support probe.
    assert health.actions["central"] == central | _actions("support-probe-policy.json")
    assert health.actions["member"] == member


def test_the_api_call_log_names_the_same_operations(recorded: dict[str, Any]) -> None:
    """meta.api_call_log (what runs record) and the hook agree; sensors' e-mails happen outside runs."""
    hooked = recorded["pipeline"].operations | recorded["health"].operations
    with duckdb.connect(str(recorded["database"]), read_only=True) as conn:
        rows = conn.execute("SELECT DISTINCT service, operation FROM meta.api_call_log").fetchall()
    logged = {f"{service}:{operation}" for service, operation in rows}
    assert logged <= hooked
    assert hooked - logged <= {"sts:GetCallerIdentity", "sts:AssumeRole", "ses:SendRawEmail"}


def test_doctor_probes_exactly_the_granted_actions(tmp_path: Path) -> None:
    settings = load_settings({**_features(tmp_path)})
    from finops_pipeline.doctor_probes import probe_actions

    granted = set().union(*iam_policies.granted().values())
    assert probe_actions(settings) == granted


def test_policy_files_are_read_only_and_explicit() -> None:
    for policy in iam_policies.PERMISSION_POLICIES:
        document = iam_policies.load(policy.file)
        assert document["Version"] == "2012-10-17"
        for statement in iam_policies.statements(document):
            assert statement["Effect"] == "Allow" and statement.get("Sid"), (policy.file, statement)
            for action in iam_policies.actions_of({"Statement": [statement]}):
                assert "*" not in action, f"{policy.file}: {action} is a wildcard"
                verb = action.split(":", 1)[1]
                assert verb.startswith(("Get", "List", "Describe", "View")) or action in (
                    "sts:AssumeRole",
                    "ses:SendRawEmail",
                ), f"{policy.file}: {action} is not read-only"
    assert iam_policies.load("central-role-policy.json")["Statement"][-1]["Resource"] == (
        "arn:aws:iam::*:role/FinOpsMemberReadOnly"
    )
    for name, _ in iam_policies.TRUST_POLICIES:
        assert iam_policies.statements(iam_policies.load(name))[0]["Principal"]


def test_readme_iam_section_is_generated_from_the_policy_files() -> None:
    assert iam_policies.readme_section() == iam_policies.render_section(), (
        "README's IAM section is stale: run `finops iam-docs --write`"
    )
    for policy in iam_policies.PERMISSION_POLICIES:
        for action in iam_policies.actions_of(iam_policies.load(policy.file)):
            assert f"`{action}`" in iam_policies.readme_section()


# ----------------------------------------------------------------------------------------- enforcement


def _central_documents(drop: str | None = None) -> dict[str, dict[str, Any]]:
    documents = {name.removesuffix(".json"): iam_policies.load(name) for name in CENTRAL_POLICIES}
    return {name: without_action(doc, drop) if drop else doc for name, doc in documents.items()}


def _member_document(drop: str | None = None) -> dict[str, Any]:
    document = iam_policies.load("member-role-policy.json")
    return without_action(document, drop) if drop else document


@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnforcedSandbox]:
    import boto3

    handle = start_background_sandbox(tmp_path_factory.mktemp("enforced"), sandbox_config(accounts=4), None)
    try:
        env = handle.env()
        org = boto3.client(
            "organizations",
            endpoint_url=handle.url,
            region_name="us-east-1",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        management = org.describe_organization()["Organization"]["MasterAccountId"]
        members = [
            a["Id"]
            for a in org.list_accounts()["Accounts"]
            if a["Status"] == "ACTIVE" and a["Id"] != management
        ]
        publish_focus_export(env, build_world(sandbox_config(accounts=4)))
        sandbox = EnforcedSandbox(handle, members)
        sandbox.setup(_central_documents(), _member_document())
        yield sandbox
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def enforced_run(
    enforced: EnforcedSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, list[dg.ExecuteInProcessResult]]]:
    directory = tmp_path_factory.mktemp("enforced-run")
    database = directory / "finops.duckdb"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(directory)
    monkeypatch.setenv("FINOPS_PROJECT_ROOT", str(directory))
    enforced.enforce(True)
    try:
        set_aws_env(monkeypatch, pipeline_env(enforced.env(), database, **_features(directory)), directory)
        results = run_everything()
        results.append(run_pipeline(START, TODAY, assets=[HEALTH]))
    finally:
        monkeypatch.undo()
        enforced.enforce(False)
    yield database, results


def test_pipeline_runs_as_a_principal_holding_only_the_policies(
    enforced_run: tuple[Path, list[dg.ExecuteInProcessResult]],
) -> None:
    database, results = enforced_run
    for result in results:
        assert result.success, step_failures(result)
    with duckdb.connect(str(database), read_only=True) as conn:
        not_ok = conn.execute(
            "SELECT source, account_id, region, detail FROM raw.scan_status WHERE status <> 'ok'"
        ).fetchall()
        assert not_ok == []
        accounts = conn.execute("SELECT count(*) FROM raw.aws_accounts").fetchone()[0]
        resources = conn.execute("SELECT count(DISTINCT account_id) FROM raw.tagged_resources").fetchone()[0]
    assert accounts == 5
    assert resources >= 4  # the management account and the active members were scanned under enforcement
    health = next(
        e.materialization.metadata
        for r in results
        for e in r.all_events
        if e.is_step_materialization and e.asset_key == dg.AssetKey("aws_access_health")
    )
    assert health["status"].value == "ok", health["report"].data["remediation"]


def _doctor(
    enforced: EnforcedSandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    member_accounts: int | None = None,
) -> dict[str, Any]:
    from finops_pipeline.doctor import doctor

    env = pipeline_env(enforced.env(), tmp_path / "unused.duckdb", **_features(tmp_path))
    set_aws_env(monkeypatch, env, tmp_path)
    return doctor(max_member_accounts=member_accounts).to_json()


# One action per principal and policy, the two moto spellings included: the part of the pipeline that
# needs it fails (a step, or the account x region scans) with a message naming the action.
REMOVALS = [
    ("central", "ce:GetAnomalies", ["ce_anomalies"]),
    ("central", "organizations:ListRoots", ["aws_accounts"]),
    ("central", "budgets:ViewBudget", ["aws_budgets"]),
    ("central", "sts:AssumeRole", ["tagged_resources"]),
    ("member", "tag:GetResources", ["tagged_resources"]),
    ("member", "ec2:DescribeVolumes", ["ec2_inventory"]),
    ("member", "rds:DescribeDBInstances", ["rds_inventory"]),
    ("member", "s3:ListAllMyBuckets", ["s3_inventory"]),
    ("member", "cloudwatch:GetMetricData", ["resource_activity"]),
    ("member", "lambda:ListFunctions", ["lambda_inventory"]),
]


@pytest.mark.parametrize(("principal", "action", "assets"), REMOVALS, ids=[r[1] for r in REMOVALS])
def test_taking_one_action_away_fails_the_part_that_needs_it(
    principal: str,
    action: str,
    assets: list[str],
    enforced: EnforcedSandbox,
    enforced_run: tuple[Path, list[dg.ExecuteInProcessResult]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(enforced_run[0], database)
    enforced.setup(
        _central_documents(action if principal == "central" else None),
        _member_document(action if principal == "member" else None),
    )
    enforced.enforce(True)
    try:
        set_aws_env(monkeypatch, pipeline_env(enforced.env(), database, **_features(tmp_path)), tmp_path)
        result = run_pipeline(START, TODAY, assets=assets)
        report = _doctor(enforced, monkeypatch, tmp_path)
    finally:
        enforced.enforce(False)
        enforced.setup(_central_documents(), _member_document())
    with duckdb.connect(str(database), read_only=True) as conn:
        details = [
            row[0]
            for row in conn.execute("SELECT detail FROM raw.scan_status WHERE status <> 'ok'").fetchall()
        ]
    said = " ".join(step_failures(result) + details)
    spellings = {action, MOTO_SPELLING.get(action, action)}
    assert any(s in said for s in spellings), said[:2000]
    assert "Fix:" in said
    assert action in report["missing"]
    assert report["status"] in ("degraded", "critical")
    assert any(r.get("action") == action and r["fix"] for r in report["remediation"])


@pytest.mark.slow
def test_doctor_names_each_missing_action(
    enforced: EnforcedSandbox,
    enforced_run: tuple[Path, list[dg.ExecuteInProcessResult]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Every granted action, removed alone, is reported missing by `finops doctor` (and nothing else is)."""
    granted = iam_policies.granted()
    missing_reported: dict[str, list[str]] = {}
    try:
        for principal, documents in (("central", CENTRAL_POLICIES), ("member", ("member-role-policy.json",))):
            actions = set().union(*(iam_policies.actions_of(iam_policies.load(d)) for d in documents))
            for action in sorted(actions):
                enforced.setup(
                    _central_documents(action if principal == "central" else None),
                    _member_document(action if principal == "member" else None),
                )
                enforced.enforce(True)
                try:
                    report = _doctor(enforced, monkeypatch, tmp_path, member_accounts=1)
                finally:
                    enforced.enforce(False)
                missing_reported[action] = report["missing"]
    finally:
        enforced.setup(_central_documents(), _member_document())
    expected = {action: [action] for action in set().union(*granted.values())}
    assert missing_reported == expected
