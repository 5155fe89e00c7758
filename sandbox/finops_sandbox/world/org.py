"""The organisation: the management account, its members and their OUs, commitments and discounts.

Exactly one member is suspended (its history stays, its resources go), some join late inside the
observed window, and every feature the tests and emulators rely on (a Savings Plan, a Reserved
Instance, a discount, a credit) exists at least once whatever the seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from finops_sandbox.world.config import (
    EPOCH,
    MANAGEMENT_ACCOUNT_ID,
    OU_NAMES,
    Window,
    date_of,
    day_number,
)
from finops_sandbox.world.rng import entity_rng, stable_key, unit

_OU_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
_OU_SLUG = {"Production": "prod", "Non-Production": "nonprod", "Sandbox": "sbx", "Shared Services": "shared"}
TEAMS = (
    "payments", "checkout", "search", "identity", "analytics", "platform", "data", "mobile",
    "catalog", "billing", "ml", "media", "logistics", "crm", "risk", "growth",
)  # fmt: skip
_COMMITTED_OUS = ("Production", "Shared Services")


@dataclass
class Account:
    idx: int  # 0 = management, members 1..n
    account_id: str
    name: str
    email: str
    ou: str | None
    joined_at: dt.datetime
    late: bool
    suspended_at: dt.date | None = None
    tags: dict[str, str] = field(default_factory=dict)
    sp: bool = False
    ri: bool = False
    discount: float = 0.0
    credit_rate: float = 0.0
    tax_rate: float = 0.0
    support: bool = False

    @property
    def start_day(self) -> int:
        return (self.joined_at.date() - EPOCH).days

    @property
    def end_day(self) -> int:
        return (self.suspended_at - EPOCH).days if self.suspended_at else 1 << 40


def build_accounts(window: Window) -> list[Account]:
    """The management account (index 0), then members 1..n."""
    mgmt = Account(
        idx=0,
        account_id=MANAGEMENT_ACCOUNT_ID,
        name="finops-management",
        email="aws-management@example.com",
        ou=None,
        joined_at=dt.datetime(2016, 3, 1, 9, 0, tzinfo=dt.UTC),
        late=False,
        tags={"Environment": "prod", "Owner": "cloud-finance@example.com", "CostCenter": "CC-1000"},
        support=True,
    )
    accounts = [mgmt]
    used = {MANAGEMENT_ACCOUNT_ID}
    for i in range(1, window.config.accounts + 1):
        account_id = _account_id(window.seed, i, used)
        used.add(account_id)
        accounts.append(_member(window, i, account_id))
    members = accounts[1:]
    _suspend_one(window, members)
    _ensure_features(members)
    return accounts


def _account_id(seed: int, i: int, used: set[str]) -> str:
    attempt = 0
    while True:
        account_id = str(100_000_000_000 + stable_key(seed, "account-id", i, attempt) % 899_999_999_999)
        if account_id not in used:
            return account_id
        attempt += 1


def _member(window: Window, i: int, account_id: str) -> Account:
    rng = entity_rng(window.seed, "account", i)
    ou = rng.choices(OU_NAMES, weights=_OU_WEIGHTS)[0]
    team = rng.choice(TEAMS)
    name = f"{_OU_SLUG[ou]}-{team}-{i:04d}"
    late = rng.random() < 0.15
    if late:
        join_day = window.d0 + 45 + rng.randrange(max(1, window.span - 120))
    else:
        join_day = day_number(dt.date(2017, 1, 1)) + rng.randrange(2000)
    joined_at = dt.datetime.combine(date_of(join_day), dt.time(rng.randrange(24), rng.randrange(60)), dt.UTC)
    env = {"Production": "prod", "Non-Production": "staging", "Sandbox": "sandbox"}.get(ou, "prod")
    acct = Account(
        idx=i,
        account_id=account_id,
        name=name,
        email=f"aws+{name}@example.com",
        ou=ou,
        joined_at=joined_at,
        late=late,
        tags={"Environment": env, "Owner": f"{team}@example.com", "CostCenter": f"CC-{2000 + i}"},
    )
    _draw_billing(acct, rng)
    return acct


def _draw_billing(acct: Account, rng: random.Random) -> None:
    """Commitments, discount, credits, tax and support of a member (late joiners commit to nothing)."""
    steady = not acct.late
    acct.sp = steady and acct.ou in _COMMITTED_OUS and rng.random() < 0.7
    acct.ri = steady and acct.ou in _COMMITTED_OUS and rng.random() < 0.5
    acct.discount = rng.choice((0.03, 0.05, 0.07, 0.10)) if rng.random() < 0.35 else 0.0
    acct.credit_rate = rng.uniform(0.02, 0.12) if (acct.ou == "Sandbox" or rng.random() < 0.15) else 0.0
    acct.tax_rate = rng.choices((0.0, 0.0625, 0.0825, 0.20), weights=(0.5, 0.2, 0.2, 0.1))[0]
    acct.support = acct.ou in _COMMITTED_OUS


def _suspend_one(window: Window, members: list[Account]) -> None:
    """Exactly one member is suspended: prefer a steady account without commitments."""
    seed = window.seed
    candidates = [a for a in members if not a.late and not a.sp and not a.ri] or members
    susp = candidates[stable_key(seed, "suspended") % len(candidates)]
    susp.sp = susp.ri = False
    susp_day = window.d0 + int(window.span * (0.55 + 0.2 * unit(seed, "suspended-at")))
    susp_day = min(max(susp_day, susp.start_day + 30), window.d1 - 5)
    susp.suspended_at = date_of(susp_day)


def _ensure_features(members: list[Account]) -> None:
    """Make sure every feature the tests and emulators rely on exists at least once."""
    steady = [a for a in members if not a.late and a.suspended_at is None]
    steady.sort(key=lambda a: a.ou not in _COMMITTED_OUS)
    for flag in ("sp", "ri"):
        if steady and not any(getattr(a, flag) for a in members):
            setattr(steady[0], flag, True)
    if not any(a.discount for a in members):
        members[-1].discount = 0.05
    if not any(a.credit_rate for a in members):
        members[-1].credit_rate = 0.05


def _json_tags(tags: Mapping[str, str]) -> str:
    return json.dumps(dict(tags), ensure_ascii=False, sort_keys=True)


def ous_table(seed: int) -> pa.Table:
    ou_ids = {
        ou: f"ou-{stable_key(seed, 'root') % 36**4:04x}-{stable_key(seed, 'ou', ou) % 16**8:08x}"
        for ou in OU_NAMES
    }
    return pa.table({"ou_id": list(ou_ids.values()), "name": list(ou_ids)})


def accounts_table(accounts: list[Account]) -> pa.Table:
    return pa.table(
        {
            "account_id": [a.account_id for a in accounts],
            "account_name": [a.name for a in accounts],
            "email": [a.email for a in accounts],
            "status": ["SUSPENDED" if a.suspended_at else "ACTIVE" for a in accounts],
            "ou_name": pa.array([a.ou for a in accounts], pa.string()),
            "joined_at": pa.array([a.joined_at for a in accounts], pa.timestamp("us", tz="UTC")),
            "suspended_at": pa.array([a.suspended_at for a in accounts], pa.date32()),
            "tags": [_json_tags(a.tags) for a in accounts],
        }
    )
