"""A deterministic synthetic AWS organisation: accounts, resources, a daily cost ledger and its truth.

Why: every sandbox emulator (Cost Explorer, moto seeding) answers from this one World, so tests can
compare what the pipeline ingested with what "AWS" really billed, to the cent.

Determinism: all randomness is counter/hash based (splitmix64 of seed, entity and absolute day),
never sequential draws whose count depends on the history length. Hence a ledger value for a day
older than as_of-3 does not depend on as_of, except the month-close credit (see `world_ledger`), and
structural choices only move when as_of crosses into another month (see `world_config`).

One module per concern, in build order: `world_config` (config, constants, the observed window),
`world_rng` (randomness), `world_org` (accounts, OUs), `world_workloads` (workloads and their tags),
`world_resources` (a table of per-service resource specs and the series they bill, `world_series`;
the reservable offers instances and databases run, `world_offers`),
`world_anomalies`, `world_ledger` (rows collected by `world_rows`), `world_budgets`. This module
holds the World, builds it, and re-exports what callers import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from finops_sandbox.world.anomalies import (
    ANOMALY_SCHEMA,
    anomalies_table,
    plan_anomalies,
    register_anomalies,
)
from finops_sandbox.world.budgets import budgets_table
from finops_sandbox.world.config import (
    ANOMALY_KINDS,
    DIRTY_ENVIRONMENT_VALUES,
    HOSTILE_TAG_VALUES,
    MANAGEMENT_ACCOUNT_ID,
    OU_NAMES,
    Window,
    WorldConfig,
    month_days_start,
)
from finops_sandbox.world.ledger import build_ledger
from finops_sandbox.world.org import accounts_table, build_accounts, ous_table
from finops_sandbox.world.resources import build_resources, resources_table, tag_facts
from finops_sandbox.world.rows import ledger_table
from finops_sandbox.world.scoped_budgets import scoped_budgets
from finops_sandbox.world.series import SeriesBuilder
from finops_sandbox.world.stops import add_stop_times
from finops_sandbox.world.workloads import build_workloads, workload_tags_table

__all__ = [
    "ANOMALY_KINDS",
    "ANOMALY_SCHEMA",
    "DIRTY_ENVIRONMENT_VALUES",
    "HOSTILE_TAG_VALUES",
    "MANAGEMENT_ACCOUNT_ID",
    "OU_NAMES",
    "World",
    "WorldConfig",
    "build_baseline_world",
    "build_world",
    "month_days_start",
    "tag_facts",
]


_DIMENSIONS = {
    "SERVICE": "service",
    "LINKED_ACCOUNT": "account_id",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RECORD_TYPE": "record_type",
}
_METRICS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
    "BlendedCost": "blended_cost",
    "UsageQuantity": "usage_quantity",
}


@dataclass(frozen=True, eq=False)
class World:
    """The generated organisation and its ground truth (see the sandbox contract for every column)."""

    config: WorldConfig
    management_account_id: str
    history_start: dt.date
    data_end: dt.date
    estimated_start: dt.date  # the trailing days that move from one as_of to the next
    estimated_from: dt.date  # first day Cost Explorer marks Estimated (its month's bill not final yet)
    ous: pa.Table
    accounts: pa.Table
    ledger: pa.Table
    workload_tags: pa.Table
    anomalies: pa.Table
    resources: pa.Table
    budgets: pa.Table

    def with_resource_ids(self, mapping: Mapping[str, tuple[str, str]]) -> World:
        """A copy whose resources carry the ids/ARNs a seeder (moto) assigned; unmapped rows keep theirs."""
        keys = self.resources.column("resource_key").to_pylist()
        ids = self.resources.column("resource_id").to_pylist()
        arns = self.resources.column("arn").to_pylist()
        for i, key in enumerate(keys):
            if key in mapping:
                ids[i], arns[i] = mapping[key]
        table = self.resources
        table = table.set_column(
            table.schema.get_field_index("resource_id"), "resource_id", pa.array(ids, pa.string())
        )
        table = table.set_column(table.schema.get_field_index("arn"), "arn", pa.array(arns, pa.string()))
        return dataclasses.replace(self, resources=table)

    def truth_totals(
        self, granularity: str, group_by: Sequence[str] = (), metric: str = "UnblendedCost"
    ) -> pa.Table:
        """Ground-truth totals per period (and group) straight from the ledger.

        Columns: period_start (date), one column per group_by entry named as given (e.g. "SERVICE",
        "TAG:Environment"; untagged spend has tag value ""), and amount (decimal(18,6)).
        """
        if granularity not in ("DAILY", "MONTHLY"):
            raise ValueError(f"granularity must be DAILY or MONTHLY, not {granularity!r}")
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(_METRICS)}")
        period = "usage_date" if granularity == "DAILY" else "CAST(date_trunc('month', usage_date) AS DATE)"
        selects, joins, params = [f"{period} AS period_start"], [], []
        for i, dim in enumerate(group_by):
            alias = '"' + dim.replace('"', '""') + '"'
            if dim.startswith("TAG:"):
                joins.append(
                    f"LEFT JOIN (SELECT workload_id, value FROM workload_tags WHERE key = ?) t{i} "
                    f"ON t{i}.workload_id = l.workload_id"
                )
                params.append(dim[4:])
                selects.append(f"coalesce(t{i}.value, '') AS {alias}")
            elif dim in _DIMENSIONS:
                selects.append(f"l.{_DIMENSIONS[dim]} AS {alias}")
            else:
                raise ValueError(f"unsupported group_by {dim!r}")
        sql = (
            f"SELECT {', '.join(selects)}, CAST(sum(l.{_METRICS[metric]}) AS DECIMAL(18, 6)) AS amount "
            f"FROM ledger l {' '.join(joins)} GROUP BY ALL ORDER BY ALL"
        )
        con = duckdb.connect()
        try:
            con.register("ledger", self.ledger)
            con.register("workload_tags", self.workload_tags)
            return con.sql(sql, params=params).to_arrow_table()
        finally:
            con.close()


def build_world(config: WorldConfig) -> World:
    """Generate the World for `config` (deterministic)."""
    return _build(config, inject_anomalies=True)


def build_baseline_world(config: WorldConfig) -> World:
    """The same World without injected anomalies: what spend would have been (used to verify impacts)."""
    return _build(config, inject_anomalies=False)


def _build(config: WorldConfig, *, inject_anomalies: bool) -> World:
    """Organisation, workloads, resources (and the series they bill), anomalies, ledger, budgets."""
    window = Window.of(config)
    accounts = build_accounts(window)
    workloads = build_workloads(window, accounts)
    series = SeriesBuilder()
    resources = build_resources(window, accounts, workloads, series)
    add_stop_times(config.seed, window.history_start, resources)  # no shared draw: nothing else moves
    plans = register_anomalies(
        plan_anomalies(window, accounts, workloads, series), series, inject=inject_anomalies
    )
    ledger_cols, labels = build_ledger(window, accounts, series, plans, inject=inject_anomalies)
    budgets = budgets_table(window, accounts, ledger_cols)  # before ledger_table consumes the columns
    ledger = ledger_table(ledger_cols, accounts, workloads)
    accounts_t, tags_t = accounts_table(accounts), workload_tags_table(workloads)
    if config.scoped_budgets:
        budgeted = set(budgets.column("account_id").to_pylist())
        budgets = pa.concat_tables(
            [budgets, scoped_budgets(config, MANAGEMENT_ACCOUNT_ID, ledger, tags_t, accounts_t, budgeted)]
        )
    return World(
        config=config,
        management_account_id=MANAGEMENT_ACCOUNT_ID,
        history_start=window.history_start,
        data_end=window.data_end,
        estimated_start=window.estimated_start,
        estimated_from=window.estimated_from,
        ous=ous_table(config.seed),
        accounts=accounts_t,
        ledger=ledger,
        workload_tags=tags_t,
        anomalies=anomalies_table(labels),
        resources=resources_table(resources),
        budgets=budgets,
    )
