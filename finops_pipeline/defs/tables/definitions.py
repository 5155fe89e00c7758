"""Checks derived from the table registry (finops_pipeline/tables) for every table an asset writes."""

import dagster as dg

from finops_pipeline.defs.tables.checks import build_table_checks


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=build_table_checks())
