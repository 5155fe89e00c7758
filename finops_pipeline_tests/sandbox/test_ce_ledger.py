"""The Cost Explorer emulator reads only the narrow ledger interface (cost_explorer/ledger.py).

So a change to the world generator, moto seeding or the server cannot reach the emulator except through
the tables and facts named there, and any source that fills them can be served as Cost Explorer.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import finops_sandbox.cost_explorer as cost_explorer
from finops_pipeline_tests.sandbox.ce_fixture import build_fixture_world
from finops_sandbox.cost_explorer.ledger import TABLE_COLUMNS, CostLedger, LedgerConfig
from finops_sandbox.world import WorldConfig, build_world

PACKAGE = Path(cost_explorer.__file__).parent
FORBIDDEN = ("finops_sandbox.world", "finops_sandbox.moto_seed", "finops_sandbox.server", "moto")


def _members(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


def test_the_emulator_imports_no_world_generator_moto_or_server() -> None:
    imported = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {m for m in imported if m.startswith(FORBIDDEN)}


@pytest.mark.parametrize("source", ["world", "fixture"])
def test_worlds_and_hand_built_ledgers_both_provide_the_interface(source: str) -> None:
    ledger = (
        build_world(WorldConfig(accounts=2, seed=3, as_of=dt.date(2026, 3, 10)))
        if source == "world"
        else build_fixture_world()
    )
    assert all(hasattr(ledger, name) for name in _members(CostLedger))
    assert all(hasattr(ledger.config, name) for name in _members(LedgerConfig))
    for table, columns in TABLE_COLUMNS.items():
        present = set(getattr(ledger, table).column_names)
        optional = {"resource_key"} if table == "resources" else set()  # resource_id can stand in
        assert set(columns) - optional <= present, (table, set(columns) - present)
