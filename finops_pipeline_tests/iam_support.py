"""Helpers for the IAM tests: record the actions the pipeline calls; a sandbox with IAM enforced.

``record_actions`` hooks every client AwsResource creates (through ``ApiCallCounter.attach``) with a botocore
``before-call`` handler that notes the IAM action and which principal made the call: ``central`` (the
management account's credentials) or ``member`` (the member role assumed in another account).

``EnforcedSandbox`` drives a sandbox process over HTTP only: it creates the pipeline's IAM user holding the
``iam/`` policies (with moto's two spellings, GUIDE §5), replaces the member role's policy in every member
account by ``iam/member-role-policy.json``, then switches moto's IAM enforcement on
(``POST /moto-api/reset-auth``). The sandbox checks Cost Explorer calls against the same policies.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from finops_pipeline import iam_policies
from finops_pipeline.lib.remediation import MOTO_SPELLING, iam_action

PIPELINE_USER = "finops-pipeline"
MEMBER_ROLE = "FinOpsMemberReadOnly"
SEEDED_MEMBER_POLICY = "FinOpsReadOnly"  # moto_seed's inline policy on the member role


def moto_policy(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as moto's IAM enforcement can evaluate it.

    - moto's spelling is added next to AWS's for tag:GetResources and budgets:ViewBudget (GUIDE §5);
    - moto authorises SES calls against resource ``*`` without the request's ``ses:`` condition keys, so an
      identity-scoped SES statement (Resource = identity ARNs, Condition ses:FromAddress) is widened to
      ``*`` here; the action set, which is what these tests prove, is unchanged.
    """
    mapped = json.loads(json.dumps(document))
    for statement in iam_policies.statements(mapped):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        statement["Action"] = actions + [MOTO_SPELLING[a] for a in actions if a in MOTO_SPELLING]
        if actions and all(action.startswith("ses:") for action in actions):
            statement["Resource"] = "*"
            statement.pop("Condition", None)
    return mapped


def without_action(document: dict[str, Any], action: str) -> dict[str, Any]:
    """``document`` minus ``action`` (statements left empty are dropped)."""
    trimmed = json.loads(json.dumps(document))
    kept = []
    for statement in iam_policies.statements(trimmed):
        actions = statement.get("Action", [])
        actions = [a for a in ([actions] if isinstance(actions, str) else actions) if a != action]
        if actions:
            kept.append({**statement, "Action": actions})
    trimmed["Statement"] = kept
    return trimmed


class ActionRecorder:
    """principal kind -> set of IAM actions called, filled by the botocore hook."""

    def __init__(self, management_account: str) -> None:
        from moto.iam.models import get_account_id_from

        self._account_of = get_account_id_from
        self.management = management_account
        self.actions: dict[str, set[str]] = {"central": set(), "member": set()}
        self.operations: set[str] = set()
        self._lock = threading.Lock()

    def before_call(self, model: Any = None, request_signer: Any = None, **_: Any) -> None:
        service = model.service_model.signing_name
        self.operations.add(f"{model.service_model.service_name}:{model.name}")
        action = iam_action(service, model.name)
        if action is None:
            return
        credentials = request_signer._credentials.get_frozen_credentials()
        kind = "central" if self._account_of(credentials.access_key) == self.management else "member"
        with self._lock:
            self.actions[kind].add(action)


@contextmanager
def record_actions(monkeypatch: pytest.MonkeyPatch, management_account: str) -> Iterator[ActionRecorder]:
    from finops_pipeline.aws_session import ApiCallCounter

    recorder = ActionRecorder(management_account)
    original = ApiCallCounter.attach

    def attach(self: ApiCallCounter, client: Any, service: str) -> None:
        original(self, client, service)
        client.meta.events.register("before-call", recorder.before_call)

    monkeypatch.setattr(ApiCallCounter, "attach", attach)
    yield recorder
    monkeypatch.setattr(ApiCallCounter, "attach", original)


def _post(url: str, body: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


class EnforcedSandbox:
    """A sandbox process (see module docstring) whose IAM policies a test can change."""

    def __init__(self, handle: Any, member_accounts: list[str]) -> None:
        self.handle = handle
        self.url = handle.url
        self.member_accounts = member_accounts
        self.keys: dict[str, str] = {}
        self._central: dict[str, dict[str, Any]] = {}
        self._member: dict[str, Any] | None = None

    def _admin(self, service: str, **credentials: str) -> Any:
        env = self.handle.env()
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=credentials.get("key", env["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=credentials.get("secret", env["AWS_SECRET_ACCESS_KEY"]),
            aws_session_token=credentials.get("token"),
        )

    def enforce(self, on: bool) -> None:
        _post(f"{self.url}/moto-api/reset-auth", b"0" if on else b"inf")

    def setup(self, central: dict[str, dict[str, Any]], member: dict[str, Any]) -> None:
        """Give the pipeline user / the member roles exactly these policies (only what changed is sent)."""
        iam = self._admin("iam")
        if not self.keys:
            iam.create_user(UserName=PIPELINE_USER)
            key = iam.create_access_key(UserName=PIPELINE_USER)["AccessKey"]
            self.keys = {
                "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            }
        wanted = {name: doc for name, doc in central.items() if iam_policies.statements(doc)}
        if wanted != self._central:
            for name in set(self._central) - set(wanted):
                iam.delete_user_policy(UserName=PIPELINE_USER, PolicyName=name)
            for name, document in wanted.items():
                if self._central.get(name) != document:
                    iam.put_user_policy(
                        UserName=PIPELINE_USER,
                        PolicyName=name,
                        PolicyDocument=json.dumps(moto_policy(document)),
                    )
            self._central = wanted
        if member == self._member:
            return
        sts = self._admin("sts")
        for account in self.member_accounts:
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", RoleSessionName="iam-test-setup"
            )["Credentials"]
            member_iam = self._admin(
                "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
            )
            for name in member_iam.list_role_policies(RoleName=MEMBER_ROLE)["PolicyNames"]:
                member_iam.delete_role_policy(RoleName=MEMBER_ROLE, PolicyName=name)
            if iam_policies.statements(member):
                member_iam.put_role_policy(
                    RoleName=MEMBER_ROLE,
                    PolicyName="finops-member",
                    PolicyDocument=json.dumps(moto_policy(member)),
                )
        self._member = member

    def env(self) -> dict[str, str]:
        return {**self.handle.env(), **self.keys}
