"""``finops doctor``: probe every AWS permission the configured features need and say how to fix gaps.

Each probe is the smallest real call of an action the pipeline itself makes (the probe table and the
policies in ``iam/`` are tested to hold the same actions), so a passing doctor means the pipeline's calls
are allowed. Cost Explorer bills $0.01 per request: a doctor run costs one request per ``ce:`` action
(7 requests, $0.07, reported as ``ce_requests``). Everything else it calls is free and read-only, except
``ses:SendRawEmail`` (only with ``SES_ENABLED=true``), which it sends to the SES mailbox simulator
(``success@simulator.amazonses.com``), which delivers nothing to anyone.

It also reads ``ListCostAllocationTags`` for the required tag keys (one more request): a required key that
is not an active cost allocation tag has all its spend in ``Key$`` in Cost Explorer, so the report lists
it under ``tag_activation`` with the fix (activate it, then backfill) and the status is ``degraded``.

Exit codes: 0 all granted (also with only non-critical gaps or inactive required tag keys, ``status:
degraded``, unless ``--strict``), 1 a critical permission is missing or the caller sees only part of the
organisation's bill (a member or delegated administrator, ``caller_scope``), 2 authentication or runtime
error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from finops_pipeline import iam_policies
from finops_pipeline.clock import today_utc
from finops_pipeline.doctor_probes import (
    BACKFILL_HISTORY_ACTION,
    TAG_ACTIVATION_ACTION,
    Check,
    caller_checks,
    ce_probes,
    classify,
    member_checks,
    organization_checks,
    probe,
)
from finops_pipeline.lib import caller_scope, tag_activation
from finops_pipeline.lib.remediation import REFUSAL_FIXES, fix_for

EXIT_OK, EXIT_CRITICAL, EXIT_ERROR = 0, 1, 2


@dataclass
class DoctorReport:
    status: str  # ok | degraded | critical | error
    region: str
    auth_strategy: str
    credentials: dict[str, Any]
    caller: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    error_remediation: str | None = None
    ce_requests: int = 0
    tag_activation: dict[str, Any] | None = None  # the required keys' cost allocation tag status
    scope: dict[str, Any] = field(default_factory=dict)  # caller_scope.doctor_entry: whose bill CE shows

    @property
    def critical_missing(self) -> list[str]:
        return sorted({c.action for c in self.checks if c.critical and c.status != "ok"})

    @property
    def missing(self) -> list[str]:
        return sorted({c.action for c in self.checks if c.status != "ok"})

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "degraded": EXIT_OK, "critical": EXIT_CRITICAL}.get(self.status, EXIT_ERROR)

    def permissions(self) -> dict[str, Any]:
        """Per area: status, the actions probed and every failure with account and region."""
        areas: dict[str, Any] = {}
        for check in self.checks:
            area = areas.setdefault(check.area, {"status": "ok", "actions": {}, "failures": []})
            action = area["actions"].setdefault(check.action, "ok")
            if check.status != "ok":
                area["actions"][check.action] = check.status if action == "ok" else action
                area["failures"].append(
                    {
                        "action": check.action,
                        "status": check.status,
                        "account_id": check.account_id,
                        "region": check.region,
                        "detail": check.detail[:300],
                    }
                )
                area["status"] = "missing"
        member = [c for c in self.checks if c.area == "member_role"]
        if member:
            accounts = {c.account_id for c in member}
            failed = {c.account_id for c in member if c.status != "ok"}
            areas["member_role"].update(
                accounts_probed=len(accounts),
                accounts_ok=len(accounts - failed),
                accounts_failed=sorted(failed),
            )
        return areas

    def remediation(self) -> list[dict[str, Any]]:
        fixes: dict[tuple[str, str, str], dict[str, Any]] = {}
        for check in self.checks:
            if check.status == "ok":
                continue
            key = (check.area, check.action, check.status)
            entry = fixes.get(key)
            if entry is None:
                entry = fixes[key] = {
                    "area": check.area,
                    "action": check.action,
                    "status": check.status,
                    "critical": check.critical,
                    "accounts": [],
                    "regions": [],
                    "fix": _fix(check, self.caller.get("arn", "the caller")),
                }
            if check.account_id and check.account_id not in entry["accounts"]:
                entry["accounts"].append(check.account_id)
            if check.region and check.region not in entry["regions"]:
                entry["regions"].append(check.region)
        return list(fixes.values())

    def to_json(self) -> dict[str, Any]:
        remediation = self.remediation()
        if self.tag_activation and self.tag_activation.get("fix"):
            remediation.append(
                {
                    "area": "cost_allocation_tags",
                    "status": "inactive",
                    "critical": False,
                    "tag_keys": self.tag_activation["inactive_required_keys"],
                    "fix": self.tag_activation["fix"],
                }
            )
        if self.scope.get("partial"):
            problem = {"area": "caller_scope", "status": "partial_bill", "critical": True}
            remediation.insert(0, {**problem, "problem": self.scope["description"], "fix": self.scope["fix"]})
        if self.error_remediation:
            remediation.insert(0, {"area": "credentials", "status": "error", "fix": self.error_remediation})
        elif self.credentials.get("remediation") and self.status != "ok":
            remediation.append(
                {"area": "credentials", "status": "info", "fix": self.credentials["remediation"]}
            )
        return {
            "status": self.status,
            "critical_missing": self.critical_missing,
            "missing": self.missing,
            "region": self.region,
            "auth_strategy": self.auth_strategy,
            "credentials": self.credentials,
            "caller": self.caller,
            "caller_scope": self.scope,
            "permissions": self.permissions(),
            "remediation": remediation,
            "error": self.error,
            "tag_activation": self.tag_activation,
            "ce_requests": self.ce_requests,
            "ce_cost_usd": round(self.ce_requests * 0.01, 2),
        }


def _fix(check: Check, caller_arn: str) -> str:
    if check.status == "member_access_disabled":
        return caller_scope.MEMBER_ACCESS_FIX + "."
    if check.status == "unsupported":
        return (
            "the Support API (Trusted Advisor) needs a Business, Enterprise On-Ramp or Enterprise support "
            "plan: upgrade the plan, or set SUPPORT_PROBE_ENABLED=false to skip this probe."
        )
    if check.status == "denied":
        where = iam_policies.where_granted(
            check.action,
            "member" if check.area == "member_role" and check.action != "sts:AssumeRole" else "central",
        )
        policy = f"iam/{where[0]} (statement {where[1]})" if where else "the policies in iam/"
        if check.area == "member_role":
            who = "the member role in account(s) listed here"
            if check.action == "sts:AssumeRole":
                return (
                    "deploy the member role (FINOPS_MEMBER_ROLE_NAME) in the account(s) listed here with "
                    f"iam/member-role-trust-policy.json trusting {caller_arn}, and allow sts:AssumeRole "
                    f"on it for {caller_arn} ({policy})."
                )
        else:
            who = caller_arn
        return f"allow {check.action} for {who}: it is in {policy}."
    if check.status in REFUSAL_FIXES:  # Cost Explorer not enabled, rightsizing not opted in, ...: not IAM
        return REFUSAL_FIXES[check.status]
    kind = {"region_not_enabled": "region", "credentials": "credentials", "throttled": "throttled"}.get(
        check.status, "server"
    )
    return fix_for(kind, check.action, check.region) or "see the detail and run `finops doctor` again."


# ------------------------------------------------------------------------------------------ credentials


def diagnose_credentials(
    role_arn: str | None = None, env: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> dict[str, Any]:
    """How the pipeline would authenticate, without calling AWS and without revealing any secret.

    ``auth_strategy``: ``assume_role`` (AWS_ROLE_ARN over the base chain), ``static_keys``
    (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), ``default_chain`` (profile, SSO, web identity, instance or
    task role) or ``none``.
    """
    import boto3

    env = os.environ if env is None else env
    has_static_keys = bool(env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"))
    source: str | None = None
    try:
        credentials = boto3.Session(region_name=region).get_credentials()
        base_chain_has_credentials = credentials is not None
        source = getattr(credentials, "method", None) if credentials is not None else None
        load_error = None
    except BotoCoreError as exc:
        base_chain_has_credentials, load_error = False, f"{type(exc).__name__}: {exc}"
    if role_arn:
        strategy = "assume_role"
    elif has_static_keys:
        strategy = "static_keys"
    elif base_chain_has_credentials:
        strategy = "default_chain"
    else:
        strategy = "none"
    remediation = None
    if load_error:
        remediation = (
            f"the AWS configuration could not be read ({load_error}): fix the profile in ~/.aws/config or "
            "AWS_PROFILE, then run `finops doctor` again."
        )
    elif not base_chain_has_credentials:
        remediation = (
            ("AWS_ROLE_ARN is set but there are no base credentials to assume it with. " if role_arn else "")
            + "No AWS credentials were found. Fix: configure a profile (AWS_PROFILE), SSO (aws sso login), "
            "static keys (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), OIDC web identity or an instance/task "
            "role; for the local sandbox, source .sandbox/sandbox.env."
        )
    elif strategy == "static_keys" and not env.get("AWS_SESSION_TOKEN"):
        remediation = (
            "long-lived static access keys work but never expire: prefer a role (AWS_ROLE_ARN, SSO, OIDC in "
            "CI, instance or task role) whose credentials refresh."
        )
    return {
        "auth_strategy": strategy,
        "role_arn": role_arn,
        "base_chain_has_credentials": base_chain_has_credentials,
        "has_static_keys": has_static_keys,
        "credential_source": source,
        "remediation": remediation,
    }


# ------------------------------------------------------------------------------------------------ probes


Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    """No progress lines (the library call; the CLI prints them on stderr)."""


@contextlib.contextmanager
def _step(progress: Progress, name: str, checks: list[Check]) -> Iterator[None]:
    """One progress line when a probe group ends: its name, checks made and seconds."""
    started, before = time.monotonic(), len(checks)
    yield
    progress(f"doctor: {name}: {len(checks) - before} checks in {time.monotonic() - started:.1f} s")


def run_probes(
    aws: Any, settings: Any, *, max_member_accounts: int | None = None, progress: Progress = _quiet
) -> DoctorReport:
    """Probe with ``aws`` (an AwsResource); errors of authentication end in ``status: error``.

    ``progress`` gets one line per probe group, and per tenth of the member accounts, as they end: a
    doctor of hundreds of accounts runs for minutes."""
    from finops_pipeline.aws_session import AwsAccessError

    credentials = diagnose_credentials(settings.role_arn, region=settings.aws_region)
    report = DoctorReport(
        status="ok",
        region=settings.aws_region,
        auth_strategy=credentials["auth_strategy"],
        credentials=credentials,
    )
    before = aws.counter.snapshot()
    try:
        aws.preflight()
        identity = aws.client("sts").get_caller_identity()
    except AwsAccessError as exc:
        return _failed(report, str(exc), credentials["remediation"] or str(exc))
    except (ClientError, BotoCoreError) as exc:
        status, detail = classify(exc)
        fix = fix_for("credentials", None, None) if status in ("credentials", "denied") else None
        return _failed(
            report,
            f"the credentials could not be used: {detail}",
            fix
            or f"check AWS_ENDPOINT_URL / network access to AWS STS ({detail}), then run `finops doctor`.",
        )
    caller = identity["Account"]
    report.caller = {"account_id": caller, "arn": identity["Arn"]}
    progress(f"doctor: credentials of {identity['Arn']} accepted")
    with _step(progress, "Cost Explorer", report.checks):
        _cost_explorer_checks(aws, settings, report)
    members: list[str] = []
    if not settings.single_account_mode:
        with _step(progress, "Organizations", report.checks):
            members = organization_checks(aws, report.checks, caller)
    scope = _caller_scope(aws, settings, report.checks)
    report.scope = caller_scope.doctor_entry(scope)
    with _step(progress, f"caller account {caller}", report.checks):
        caller_checks(aws, settings, report.checks, caller)
    if members:
        probed = members[:max_member_accounts]
        with _step(progress, f"member role in {len(probed)} accounts", report.checks):
            _member_role_checks(aws, settings, report.checks, probed, progress)
    after = aws.counter.snapshot()
    report.ce_requests = sum(after[key][1] - before.get(key, (0, 0))[1] for key in after if key[0] == "ce")
    _judge(report, scope.partial)
    return report


def _cost_explorer_checks(aws: Any, settings: Any, report: DoctorReport) -> None:
    """Each Cost Explorer action once, then the required keys' cost allocation tag status."""
    today = today_utc()
    ce = aws.client("ce")
    for action, critical, call in ce_probes(today):
        probe(report.checks, "cost_explorer", action, critical, lambda c=call: c(ce), region="us-east-1")
    tags = probe(
        report.checks,
        "cost_explorer",
        TAG_ACTIVATION_ACTION,
        False,
        lambda: tag_activation.list_tags(ce, settings.required_tag_keys),
        region="us-east-1",
    )
    backfills = probe(
        report.checks,
        "cost_explorer",
        BACKFILL_HISTORY_ACTION,
        False,
        lambda: ce.list_cost_allocation_tag_backfill_history(MaxResults=1000).get("BackfillRequests", []),
        region="us-east-1",
    )
    if tags is not None:
        verdict = tag_activation.judge(tags, settings.required_tag_keys, backfills or [])
        report.tag_activation = verdict.to_json(today)


def _member_role_checks(
    aws: Any, settings: Any, checks: list[Check], members: list[str], progress: Progress
) -> None:
    """The member role's probes, account by account, through the same bounded fan-out as the scans;
    a progress line each time another tenth of the accounts is done."""
    from finops_pipeline.aws_session import ScanTarget

    lock, done, every = threading.Lock(), [0], max(1, len(members) // 10)

    def probe_account(target: ScanTarget) -> list[Check]:
        try:
            return member_checks(aws, target.account_id, target.region)
        finally:
            with lock:
                done[0] += 1
                if done[0] % every == 0 and done[0] < len(members):
                    progress(f"doctor: member role: {done[0]} of {len(members)} accounts probed")

    targets = [ScanTarget(account, settings.aws_region) for account in members]
    for outcome in aws.fan_out(targets, probe_account):
        checks.extend(outcome.result or [])


def _judge(report: DoctorReport, partial_bill: bool) -> None:
    """The report's status: rejected credentials, then critical gaps (or a partial bill), then the rest."""
    if any(c.status == "credentials" for c in report.checks):
        report.status = "error"
        report.error = "the credentials were rejected during the probes (expired or revoked)"
        report.error_remediation = fix_for("credentials", None, None)
    elif report.critical_missing or partial_bill:
        report.status = "critical"
    elif report.missing or (report.tag_activation or {}).get("inactive_required_keys"):
        report.status = "degraded"  # an inactive required tag key: spend coverage unknown, not fatal


def _caller_scope(aws: Any, settings: Any, checks: list[Check]) -> caller_scope.CallerScope:
    """Whose bill Cost Explorer shows the caller: a member's totals would pass for the organisation's."""
    try:
        scope = caller_scope.detect_caller_scope(
            aws,
            single_account_mode=settings.single_account_mode,
            billing_view_arn=getattr(settings, "billing_view_arn", None),
        )
    except (ClientError, BotoCoreError):
        return caller_scope.CallerScope("", "", "unknown")
    listed = any(c.action == "organizations:ListAccounts" and c.status == "ok" for c in checks)
    scope = caller_scope.with_list_accounts(scope, listed)
    caller_scope.review_doctor_checks(checks, scope)
    return scope


def _failed(report: DoctorReport, error: str, remediation: str) -> DoctorReport:
    report.status, report.error, report.error_remediation = "error", error, remediation
    return report


def doctor(
    env: Mapping[str, str] | None = None,
    *,
    max_member_accounts: int | None = None,
    progress: Progress = _quiet,
) -> DoctorReport:
    """Load the settings and probe; a settings error is a runtime error (status ``error``)."""
    from finops_pipeline.aws_session import AwsResource
    from finops_pipeline.settings import SettingsError, load_settings

    try:
        settings = load_settings(env)
    except SettingsError as exc:
        return DoctorReport(
            status="error",
            region="",
            auth_strategy="none",
            credentials={},
            error=str(exc),
            error_remediation=(
                "fix the settings listed in the error (see .env.example), then run `finops doctor`."
            ),
        )
    aws = AwsResource.from_settings(settings)
    return run_probes(aws, settings, max_member_accounts=max_member_accounts, progress=progress)


# -------------------------------------------------------------------------------------------------- CLI


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check every AWS permission the configured features need; JSON report with the fixes",
        description="Probe the AWS permissions of the configured features and print a JSON report. Exit "
        "0: all granted (or only non-critical gaps, status 'degraded'); 1: a critical permission is "
        "missing; 2: authentication or runtime error. Inactive required cost allocation tags are listed "
        "with the fix (status 'degraded'). Costs one Cost Explorer request ($0.01) per ce: action.",
    )
    parser.add_argument(
        "--member-accounts",
        type=int,
        default=None,
        metavar="N",
        help="probe the member role in the first N active member accounts only (default: all)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 on any missing permission, not only critical ones"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (the JSON report alone, on stdout)"
    )
    parser.set_defaults(handler=main)


def _stderr(line: str) -> None:
    """A progress line on stderr, so stdout stays the JSON report alone."""
    print(line, file=sys.stderr, flush=True)


def main(args: argparse.Namespace) -> int:
    from finops_pipeline.log_config import configure_logging
    from finops_pipeline.settings import SettingsError, load_settings

    with contextlib.suppress(SettingsError):  # reported in the JSON below
        configure_logging(load_settings())
    try:
        report = doctor(max_member_accounts=args.member_accounts, progress=_quiet if args.quiet else _stderr)
    except Exception as exc:  # a runtime error still answers in JSON, with exit code 2
        report = DoctorReport(
            status="error",
            region="",
            auth_strategy="none",
            credentials={},
            error=f"{type(exc).__name__}: {exc}",
            error_remediation="re-run with LOG_LEVEL=DEBUG and report the error if it persists.",
        )
    payload = report.to_json()
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    if args.strict and report.status == "degraded":
        return EXIT_CRITICAL
    return report.exit_code


__all__ = ["Check", "DoctorReport", "diagnose_credentials", "doctor", "run_probes"]
