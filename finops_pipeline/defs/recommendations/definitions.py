"""Recommendations domain: every way to save, in dollars (marts.recommendations)."""

import dagster as dg

from finops_pipeline.defs.recommendations.assets import build_recommendations_asset
from finops_pipeline.settings import Settings, load_settings


def build_recommendations_defs(settings: Settings) -> dg.Definitions:
    # its key check (blocking: the mart must never hold an id twice) comes from the table registry
    return dg.Definitions(assets=[build_recommendations_asset(settings)])


@dg.definitions
def defs() -> dg.Definitions:
    return build_recommendations_defs(load_settings())
