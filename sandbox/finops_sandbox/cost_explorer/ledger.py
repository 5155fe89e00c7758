"""The narrow interface the Cost Explorer emulator reads: a bill ledger and a few calendar facts.

The emulator never sees how a bill was made (workload plans, series, resource seeding, moto): it is
given five Arrow tables and five scalars. So any source that can fill them (the synthetic world of
``finops_sandbox.world``, a restated copy of it, a hand-built table in a test, a replayed export) can be
served as Cost Explorer, and changes to the world generator stop at this boundary.
``finops_sandbox.world.World`` satisfies :class:`CostLedger` structurally, and so does the tests'
hand-built ``FixtureWorld`` (finops_pipeline_tests/sandbox/ce_fixture.py); no module of this package
imports the world generator, moto or the server.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

import pyarrow as pa

# The columns the emulator reads from each table (extra columns are carried, never required).
LEDGER_COLUMNS: tuple[str, ...] = (
    "usage_date",  # date32, a UTC day
    "account_id",
    "service",  # Cost Explorer SERVICE dimension value
    "region",
    "usage_type",
    "record_type",  # RECORD_TYPE dimension: Usage, Credit, Refund, Tax, SavingsPlanCoveredUsage, ...
    "workload_id",  # joins workload_tags; the grain tags are read at
    "unblended_cost",
    "amortized_cost",
    "net_unblended_cost",
    "blended_cost",
    "usage_quantity",
)
# Read when present: the RI recommendations tell offers apart by it (engine, licence, deployment option).
OPTIONAL_LEDGER_COLUMNS: tuple[str, ...] = ("operation",)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "ledger": LEDGER_COLUMNS,
    "workload_tags": ("workload_id", "key", "value"),
    "accounts": ("account_id", "account_name", "status", "ou_name"),
    "anomalies": ("anomaly_id", "account_id", "service", "kind", "start_date", "end_date", "impact_usd"),
    # EC2 rightsizing reads these (``resource_id``, when present, is preferred to ``resource_key``).
    "resources": (
        "resource_key",
        "account_id",
        "region",
        "resource_type",
        "name",
        "tags",
        "state",
        "instance_type",
        "monthly_cost_usd",
        "cpu_utilization_p95",
        "created_at",
    ),
}


class LedgerConfig(Protocol):
    """The generation settings the emulator needs: ids stay stable per seed, history is refused past it.

    Optional, read when present: ``inactive_tag_keys`` (cost allocation tag keys never activated) and
    ``tag_activation_dates`` ((key, day) pairs); without them every key is active from the default day.
    """

    @property
    def seed(self) -> int: ...

    @property
    def history_months(self) -> int: ...


class CostLedger(Protocol):
    """What Cost Explorer answers from: the bill (``ledger``) plus the tables and days that frame it."""

    @property
    def config(self) -> LedgerConfig: ...

    @property
    def management_account_id(self) -> str:
        """The payer: PAYER-scoped recommendations and anomaly monitor ARNs belong to it."""
        ...

    @property
    def history_start(self) -> dt.date:
        """First day Cost Explorer keeps (13 months plus the current one): older starts are refused."""
        ...

    @property
    def data_end(self) -> dt.date:
        """Exclusive end of the data: 'today' for forecasts, anomaly evaluation and lookbacks."""
        ...

    @property
    def estimated_start(self) -> dt.date:
        """First day still ``Estimated`` (may be restated); periods ending after it are estimated."""
        ...

    @property
    def ledger(self) -> pa.Table: ...

    @property
    def workload_tags(self) -> pa.Table: ...

    @property
    def accounts(self) -> pa.Table: ...

    @property
    def anomalies(self) -> pa.Table: ...

    @property
    def resources(self) -> pa.Table: ...
