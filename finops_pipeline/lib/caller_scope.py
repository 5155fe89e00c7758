"""Whose bill the pipeline's credentials see, detected before any total is trusted.

Only the management (payer) account's Cost Explorer covers the whole organisation: "Member accounts only
have access to their own costs" (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/ce-access.html),
and Cost Explorer has no delegated administrator, so a member registered as delegated administrator of
Organizations lists every account while Cost Explorer answers for its own account only. A billing view
(``BillingViewArn``, https://docs.aws.amazon.com/cost-management/latest/userguide/billing-view.html) is the
way a member is given more. Without this check the reconciliation of the warehouse against Cost Explorer
passes on two equally partial sides.

The role is found with calls the pipeline already makes and needs no new permission:
``sts:GetCallerIdentity`` (needs none) gives the caller's account, ``organizations:DescribeOrganization``
(callable by every member) gives ``MasterAccountId``, and whether ``ListAccounts`` answers tells a
delegated administrator from a plain member.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

ROLES = ("management", "delegated_administrator", "member", "standalone", "single_account", "unknown")
PARTIAL_ROLES = frozenset({"member", "delegated_administrator"})
PARTIAL_FIX = (
    "run the pipeline with credentials of the management (payer) account, or set AWS_ROLE_ARN to a role in "
    "it; or have the management account share a custom billing view of the whole organisation with this "
    "account and set FINOPS_BILLING_VIEW_ARN to its ARN; or, to report on this account alone on purpose, "
    "set SINGLE_ACCOUNT_MODE=true"
)


@dataclass(frozen=True)
class CallerScope:
    """The caller and how much of the organisation's bill Cost Explorer shows it."""

    account_id: str
    arn: str
    role: str  # one of ROLES
    management_account_id: str | None = None
    billing_view_arn: str | None = None

    @property
    def partial(self) -> bool:
        """Cost Explorer answers for the caller's account only, while the organisation is larger."""
        return self.role in PARTIAL_ROLES and self.billing_view_arn is None

    @property
    def description(self) -> str:
        """One sentence naming what the caller sees, for check metadata, the doctor and logs."""
        who = f"account {self.account_id}"
        if self.role == "management":
            return f"{who} is the management account: Cost Explorer covers the whole organisation"
        if self.role == "standalone":
            return f"{who} is in no organisation: Cost Explorer covers it alone, which is all there is"
        if self.role == "single_account":
            return f"SINGLE_ACCOUNT_MODE: only {who} is read, on purpose"
        if self.role == "unknown":
            return f"{who}: organizations:DescribeOrganization did not answer, the caller's role is unknown"
        kind = (
            "a delegated administrator of Organizations"
            if self.role == "delegated_administrator"
            else ("a member account")
        )
        seen = (
            f"Cost Explorer reads billing view {self.billing_view_arn}"
            if self.billing_view_arn
            else "Cost Explorer shows it only its own costs, not the organisation's"
        )
        return (
            f"{who} is {kind} of the organisation of management account {self.management_account_id}: {seen}"
        )

    def as_row(self) -> dict[str, Any]:
        return {
            "caller_account_id": self.account_id,
            "caller_arn": self.arn,
            "role": self.role,
            "management_account_id": self.management_account_id,
            "billing_view_arn": self.billing_view_arn,
            "partial": self.partial,
            "description": self.description,
        }


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def detect_caller_scope(
    aws: Any, *, single_account_mode: bool = False, billing_view_arn: str | None = None
) -> CallerScope:
    """The caller's role from STS and DescribeOrganization (a member is told apart from a delegated
    administrator later, by ``with_list_accounts``, since ListAccounts is called anyway)."""
    identity = aws.client("sts").get_caller_identity()
    account, arn = identity["Account"], identity["Arn"]
    if single_account_mode:
        return CallerScope(account, arn, "single_account", billing_view_arn=billing_view_arn)
    try:
        organization = aws.client("organizations").describe_organization()["Organization"]
    except ClientError as exc:
        role = "standalone" if _error_code(exc) == "AWSOrganizationsNotInUseException" else "unknown"
        return CallerScope(account, arn, role, billing_view_arn=billing_view_arn)
    management = organization["MasterAccountId"]
    role = "management" if management == account else "member"
    return CallerScope(account, arn, role, management, billing_view_arn)


def with_list_accounts(scope: CallerScope, listed: bool) -> CallerScope:
    """A member whose ListAccounts answered is a delegated administrator of Organizations."""
    if scope.role == "member" and listed:
        return replace(scope, role="delegated_administrator")
    return scope


MEMBER_ACCESS_FIX = (
    "Cost Explorer refused this member account although IAM allows it: the management account has not "
    "granted member accounts access to Cost Explorer (Billing and Cost Management console > Cost Management "
    "preferences > linked account access). Run from the management account instead (or set AWS_ROLE_ARN to "
    "a role there), or have that access granted"
)


def review_doctor_checks(checks: list[Any], scope: CallerScope) -> None:
    """A member's Cost Explorer refusal that is not an IAM denial is the management account's setting."""
    if scope.role not in PARTIAL_ROLES:
        return
    for check in checks:
        if (
            check.area == "cost_explorer"
            and check.status == "denied"
            and "not authorized" not in check.detail
        ):
            check.status = "member_access_disabled"


ANOMALY_PARTIAL_FIX = (
    "read anomalies with credentials of the management (payer) account, or set AWS_ROLE_ARN to a role in "
    "it: Cost Anomaly Detection takes no billing view, and a member account's monitors watch its own spend "
    "only"
)


def anomaly_coverage(scope: dict[str, Any] | None) -> tuple[bool, dict[str, Any]]:
    """Whether the run's anomalies cover the organisation, and the check's metadata; `scope` is the
    newest ``raw.caller_scope`` row.

    A member account, delegated administrator included, reads only its own anomaly monitors: monitors
    belong to the account that created them (ARN ``arn:aws:ce::<account-id>:anomalymonitor/...``,
    https://docs.aws.amazon.com/cost-management/latest/userguide/accesscontrol-ad.html) and a member sees
    only its own costs (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/ce-access.html).
    Unlike cost data, a billing view does not help: ``GetAnomalies`` and ``GetAnomalyMonitors`` take no
    ``BillingViewArn`` (botocore's ce model).
    """
    if scope is None or scope["role"] == "unknown":
        why = "the caller's role is not recorded: materialize aws_accounts in the same run"
        return False, {"caller_role": "not recorded", "why": why}
    partial = scope["role"] in PARTIAL_ROLES
    metadata: dict[str, Any] = {
        "caller_role": scope["role"],
        "caller_account_id": scope["caller_account_id"],
        "anomalies_cover_the_organization": not partial,
    }
    if partial:
        metadata["why"] = (
            f"account {scope['caller_account_id']} is not the management account: Cost Anomaly Detection "
            f"shows it its own monitors and anomalies only. Fix: {ANOMALY_PARTIAL_FIX}"
        )
    return not partial, metadata


def doctor_entry(scope: CallerScope) -> dict[str, Any]:
    """The doctor's ``caller_scope`` section."""
    return {**scope.as_row(), "fix": PARTIAL_FIX if scope.partial else None}
