"""Whose bill a caller sees: Cost Explorer, Budgets and Organizations answer for the caller's account.

AWS's rules, which the sandbox enforces (the account of a request comes from its access key, as in
``faults.account_of``: moto maps the keys ``sts:AssumeRole`` hands out to the role's account):

- Cost Explorer. "The management account in AWS Organizations has full access to all Billing and Cost
  Management information for costs incurred by both the management account and member accounts. Member
  accounts only have access to their own costs" and "A management account can grant access to Cost Explorer
  for all or none of the member accounts" (Controlling access to Cost Explorer,
  https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/ce-access.html; "Member account owners can't
  view Cost Explorer information for other accounts", https://repost.aws/knowledge-center/organization-cost-explorer-iam).
  So a member's GetCostAndUsage, GetDimensionValues, GetTags, forecasts, anomalies and recommendations cover
  its own account only, and with member access disabled (``--member-ce-access disabled``) every Cost
  Explorer call of a member is refused with ``AccessDeniedException``. AWS does not document that
  refusal's message; botocore's CE model has no AccessDeniedException shape, so clients see a plain
  ClientError with that code, as for an IAM denial. Anomaly monitors belong to the account that owns them
  (``arn:aws:ce::<account-id>:anomalymonitor/<id>``,
  https://docs.aws.amazon.com/cost-management/latest/userguide/accesscontrol-ad.html): a member's
  GetAnomalyMonitors lists its own services monitor only and its GetAnomalies the anomalies that monitor
  finds in its own spend (cost_explorer/anomalies.py); neither takes a billing view.
- Delegation. Cost Explorer has no delegated administrator: a member registered as delegated administrator
  of Organizations (``--delegated-admin``) lists every account but still sees only its own costs. The way
  AWS gives a member more is a billing view: "For the management account of an organization, [the primary
  billing view] includes all cost management data incurred by all accounts within the organization ... for
  member accounts ... the primary billing view contains all cost management data incurred within the
  individual account"; primary views are "Not shareable with other accounts", custom views are
  (https://docs.aws.amazon.com/cost-management/latest/userguide/billing-view.html), and "For member accounts
  within an organization to access a shared custom billing view using Cost Explorer, the management account
  must have granted them access to Cost Explorer"
  (https://docs.aws.amazon.com/cost-management/latest/userguide/share-custom-billing-views.html). botocore's
  CE model takes ``BillingViewArn`` in GetCostAndUsage, GetDimensionValues, GetTags and GetCostForecast
  (pattern ``^arn:aws[a-z-]*:(billing)::[0-9]{12}:billingview/...``). The sandbox serves each caller's
  ``billingview/primary`` and, with ``--share-billing-view ACCOUNTS``, one custom view of the whole
  organisation (``ORGANIZATION_VIEW``) shared with those accounts.
- Organizations. ListAccounts and the other list calls answer "only the management account or a delegated
  administrator" (Organizations API reference); a plain member gets ``AccessDeniedException``. moto answers
  a member from its own, empty backend, so the router serves a delegated administrator from the management
  account's backend and refuses the others. ``DescribeOrganization`` works for every member (it gives the
  ``MasterAccountId`` that tells a caller what it is).
- Budgets. Budgets live in the account that owns them and ``DescribeBudgets`` reads the ``AccountId`` of
  the caller only; moto keeps a backend per account, so a member already sees only its own budgets, and
  the router refuses an ``AccountId`` other than the caller's as AWS does.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass, field
from typing import Any

from finops_sandbox.cost_explorer.common import CEError

COST_VIEW_KEY = "finops.sandbox.cost_view"  # WSGI environ key: the caller's CostView, set by the router
ORGANIZATION_VIEW = "custom-organization"
BILLING_VIEW_RE = re.compile(r"^arn:aws[a-z-]*:billing::(\d{12}):billingview/([-a-zA-Z0-9/:_+=.@]{1,59})$")
# Operations whose request botocore lets carry BillingViewArn (ce/2017-10-25/service-2.json).
BILLING_VIEW_OPERATIONS = frozenset({"GetCostAndUsage", "GetDimensionValues", "GetTags", "GetCostForecast"})
# Cost-reading operations whose Filter narrows to the caller's accounts.
FILTERED_OPERATIONS = BILLING_VIEW_OPERATIONS | {
    "GetReservationPurchaseRecommendation",
    "GetSavingsPlansPurchaseRecommendation",
    "GetRightsizingRecommendation",
}
# Organizations calls a member may make about its own organisation; every other read needs delegation.
MEMBER_ORGANIZATIONS_OPERATIONS = frozenset({"DescribeOrganization", "LeaveOrganization"})
ORGANIZATIONS_DENIED = "You don't have permissions to access this resource."
MEMBER_ACCESS_DISABLED = (
    "Cost Explorer access for member accounts is disabled by the management account {management}: "
    "member account {account} cannot read Cost Explorer"
)
ACCOUNT_RE = re.compile(r"^\d{12}$")


class ScopeError(ValueError):
    """A caller-scope start option that cannot work, with the option and the fix."""


def _accounts(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    parts = value.split(",") if isinstance(value, str) else value
    return frozenset(p.strip() for p in parts if p.strip())


@dataclass(frozen=True)
class OrgAccess:
    """What the management account allows its members: fixed for the life of a sandbox (start options)."""

    member_ce_access: bool = True
    delegated_admins: frozenset[str] = field(default_factory=frozenset)
    billing_view_shared_with: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "delegated_admins", _accounts(self.delegated_admins))
        object.__setattr__(self, "billing_view_shared_with", _accounts(self.billing_view_shared_with))
        for option, accounts in (
            ("--delegated-admin", self.delegated_admins),
            ("--share-billing-view", self.billing_view_shared_with),
        ):
            bad = sorted(a for a in accounts if not ACCOUNT_RE.match(a))
            if bad:
                raise ScopeError(
                    f"{option} {','.join(bad)}: account ids are 12 digits, e.g. {option} 123456789012"
                )

    def role(self, management: str, account: str | None) -> str:
        """management | delegated_administrator | member, as Organizations would call the caller."""
        if account is None or account == management:
            return "management"
        return "delegated_administrator" if account in self.delegated_admins else "member"

    def to_dict(self) -> dict[str, Any]:
        return {
            "member_ce_access": "enabled" if self.member_ce_access else "disabled",
            "delegated_admins": sorted(self.delegated_admins),
            "billing_view_shared_with": sorted(self.billing_view_shared_with),
        }

    def to_cli_args(self) -> list[str]:
        args = ["--member-ce-access", "enabled" if self.member_ce_access else "disabled"]
        if self.delegated_admins:
            args += ["--delegated-admin", ",".join(sorted(self.delegated_admins))]
        if self.billing_view_shared_with:
            args += ["--share-billing-view", ",".join(sorted(self.billing_view_shared_with))]
        return args

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> OrgAccess:
        return cls(
            member_ce_access=ns.member_ce_access == "enabled",
            delegated_admins=_accounts(ns.delegated_admin),
            billing_view_shared_with=_accounts(ns.share_billing_view),
        )


def add_scope_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("caller scope (what the management account allows its members)")
    group.add_argument(
        "--member-ce-access",
        choices=("enabled", "disabled"),
        default="enabled",
        help="member accounts may read Cost Explorer (their own costs only); disabled: AccessDeniedException",
    )
    group.add_argument(
        "--delegated-admin",
        default=None,
        help="comma-separated member accounts registered as delegated administrators of Organizations",
    )
    group.add_argument(
        "--share-billing-view",
        default=None,
        help=f"comma-separated accounts the custom billing view '{ORGANIZATION_VIEW}' (whole organisation) "
        "is shared with",
    )


@dataclass(frozen=True)
class CostView:
    """What one Cost Explorer request may see: ``accounts`` None is the whole organisation."""

    caller: str
    management: str
    role: str
    access: OrgAccess

    def _view_accounts(self, arn: Any) -> frozenset[str] | None:
        match = BILLING_VIEW_RE.match(arn) if isinstance(arn, str) else None
        if match is None:
            raise CEError(f"BillingViewArn {arn!r} is not a billing view ARN")
        owner, view = match.groups()
        if view == "primary" and owner == self.caller:
            return None if self.role == "management" else frozenset({self.caller})
        not_shared = CEError(
            f"Billing view {arn} is not shared with account {self.caller}", "AccessDeniedException"
        )
        if owner == self.management and view == ORGANIZATION_VIEW:
            if self.role == "management" or self.caller in self.access.billing_view_shared_with:
                return None
            raise not_shared
        if view == "primary":  # another account's primary view: never shareable
            raise not_shared
        raise CEError(f"Billing view {arn} does not exist", "ResourceNotFoundException")

    def apply(self, operation: str, body: dict[str, Any]) -> tuple[dict[str, Any], frozenset[str] | None]:
        """The request narrowed to what the caller may see, and those accounts (None: all); or CEError."""
        if self.role != "management" and not self.access.member_ce_access:
            raise CEError(
                MEMBER_ACCESS_DISABLED.format(management=self.management, account=self.caller),
                "AccessDeniedException",
            )
        accounts: frozenset[str] | None = None if self.role == "management" else frozenset({self.caller})
        if "BillingViewArn" in body:
            if operation not in BILLING_VIEW_OPERATIONS:
                raise CEError(f"{operation} does not take BillingViewArn")
            accounts = self._view_accounts(body["BillingViewArn"])
            body = {k: v for k, v in body.items() if k != "BillingViewArn"}
        if accounts is None or operation not in FILTERED_OPERATIONS:
            return body, accounts
        mine = {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": sorted(accounts)}}
        original = body.get("Filter")
        body = {**body, "Filter": {"And": [mine, original]} if original else mine}
        if operation != "GetRightsizingRecommendation" and body.get("AccountScope") == "PAYER":
            body["AccountScope"] = "LINKED"  # a member's recommendations are its own account's
        return body, accounts


def budgets_account_refusal(caller: str | None, body: bytes) -> str | None:
    """Why a Budgets call is refused (AccountId other than the caller's), or None."""
    try:
        wanted = json.loads(body or b"{}").get("AccountId")
    except (ValueError, AttributeError):
        return None
    if caller is None or wanted in (None, caller):
        return None
    return f"Account {caller} is not authorized to access the budgets of account {wanted}"
