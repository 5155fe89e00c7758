"""The Cost Explorer emulator: the CE API (AWS JSON 1.1) answered with SQL over a bill ledger.

It reads only the narrow interface of :mod:`finops_sandbox.cost_explorer.ledger` (a ledger table, a few
companion tables and calendar facts), never the world generator. The emulator lives in
:mod:`finops_sandbox.cost_explorer.emulator`; this package file stays import-free so that modules
outside it (caller scope, faults) can use ``common`` and ``refusals`` without loading DuckDB.
"""
