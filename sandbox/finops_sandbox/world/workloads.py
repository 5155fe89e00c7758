"""Workloads: what each account runs (project, team, environment, regions) and how it is tagged.

Tags carry real-world dirt on purpose (missing keys, case variants, invalid Environment values,
hostile values for CSV/HTML injection), so the pipeline's governance reports have something to find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow as pa

from finops_sandbox import catalog as cat
from finops_sandbox.world.config import DIRTY_ENVIRONMENT_VALUES, HOSTILE_TAG_VALUES, Window
from finops_sandbox.world.org import TEAMS, Account
from finops_sandbox.world.rng import entity_rng, stable_key

_PROJECTS = (
    "atlas", "orion", "zenith", "nimbus", "apollo", "phoenix", "sunbird", "vega",
    "lumen", "cobalt", "quartz", "helix", "aurora", "kepler", "sierra", "tango",
)  # fmt: skip
_CASE_VARIANTS = {
    "Environment": ("environment", "ENVIRONMENT"),
    "Owner": ("owner",),
    "Project": ("project",),
    "CostCenter": ("costcenter", "Costcenter"),
}


@dataclass
class Workload:
    gidx: int
    workload_id: str
    account: Account
    project: str
    team: str
    env: str
    tier: str  # prod / nonprod / sandbox: picks sizes and prices
    weekend_factor: float
    regions: list[str]
    tags: dict[str, str]


def build_workloads(window: Window, accounts: list[Account]) -> list[Workload]:
    """One workload for the management account, two to four per member; members cover every region."""
    seed, regions = window.seed, list(window.config.regions)
    workloads: list[Workload] = []
    dirty_ordinal = 0
    for acct in accounts:
        rng = entity_rng(seed, "workloads", acct.account_id)
        if acct.idx == 0:
            n_wl = 1
        else:
            n_wl = 2 + (rng.random() < 0.5) + (acct.ou == "Production" and rng.random() < 0.5)
        wls: list[Workload] = []
        for j in range(n_wl):
            wls.append(_workload(seed, acct, j, len(workloads) + j, rng, regions, dirty_ordinal))
            if acct.idx != 0:
                dirty_ordinal += 1
        if acct.idx != 0:
            for region in regions:  # every member account has something in every region
                if not any(region in w.regions for w in wls):
                    wls[stable_key(seed, acct.account_id, region) % len(wls)].regions.append(region)
        workloads.extend(wls)
    return workloads


def _workload(
    seed: int, acct: Account, j: int, gidx: int, rng: random.Random, regions: list[str], dirty_ordinal: int
) -> Workload:
    team = rng.choice(TEAMS)
    project = rng.choice(_PROJECTS)
    if acct.ou is None:
        env, tier, team, project = "prod", "prod", "finance", "billing"
    elif acct.ou == "Non-Production":
        env, tier = rng.choice(("staging", "dev", "test")), "nonprod"
    elif acct.ou == "Sandbox":
        env, tier = "sandbox", "sandbox"
    else:
        env, tier = "prod", "prod"
    primary = regions[0] if rng.random() < 0.5 else rng.choice(regions)
    wl_regions = [primary]
    if rng.random() < 0.2:
        other = rng.choice(regions)
        if other != primary:
            wl_regions.append(other)
    clean = {
        "Environment": env,
        "Owner": f"{team}@example.com",
        "Project": f"{project}-{team}",
        "CostCenter": f"CC-{4000 + stable_key(seed, acct.account_id, j) % 900}",
        "Application": project,
    }
    return Workload(
        gidx=gidx,
        workload_id=f"wl-{acct.account_id}-{j:02d}",
        account=acct,
        project=project,
        team=team,
        env=env,
        tier=tier,
        weekend_factor={"prod": 0.9, "staging": 0.7}.get(env, 0.55),
        regions=wl_regions,
        tags=clean if acct.idx == 0 else _dirty_tags(clean, rng, dirty_ordinal),
    )


def _dirty_tags(clean: dict[str, str], rng: random.Random, ordinal: int) -> dict[str, str]:
    """Real-world tag dirt; every 4th workload carries one hostile value (cycling the list)."""
    hostile = ordinal % 4 == 3
    if not hostile and rng.random() < 0.10:
        return {}
    tags = dict(clean)
    if rng.random() < 0.25:
        for key in rng.sample(cat.REQUIRED_TAG_KEYS, 2 if rng.random() < 0.3 else 1):
            tags.pop(key, None)
    if "Environment" in tags and rng.random() < 0.18:
        tags["Environment"] = rng.choice(DIRTY_ENVIRONMENT_VALUES)
    if rng.random() < 0.12:
        present = [k for k in cat.REQUIRED_TAG_KEYS if k in tags]
        if present:
            key = rng.choice(present)
            tags[rng.choice(_CASE_VARIANTS[key])] = tags.pop(key)
    if hostile:
        value = HOSTILE_TAG_VALUES[(ordinal // 4) % len(HOSTILE_TAG_VALUES)]
        tags[("Owner", "Project", "CostCenter", "Application")[(ordinal // 4) % 4]] = value
    return tags


def workload_tags_table(workloads: list[Workload]) -> pa.Table:
    """One row per (workload, tag key), keys sorted."""
    rows = [(w.workload_id, k, v) for w in workloads for k, v in sorted(w.tags.items())]
    return pa.table(
        {
            "workload_id": pa.array([r[0] for r in rows], pa.string()),
            "key": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([r[2] for r in rows], pa.string()),
        }
    )
