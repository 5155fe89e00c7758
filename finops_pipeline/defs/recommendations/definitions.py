"""Recommendations domain: every way to save, in dollars (marts.recommendations)."""

import dagster as dg

from finops_pipeline.defs.ingest.checks import build_key_check
from finops_pipeline.defs.recommendations.assets import build_recommendations_asset
from finops_pipeline.settings import Settings, load_settings


def build_recommendations_defs(settings: Settings) -> dg.Definitions:
    # The mart must never hold an id twice (issue #13, item 2): blocking, so reports built on it wait.
    unique = build_key_check(
        "recommendations", "marts.recommendations", ("snapshot_date", "recommendation_id"), blocking=True
    )
    return dg.Definitions(assets=[build_recommendations_asset(settings)], asset_checks=[unique])


@dg.definitions
def defs() -> dg.Definitions:
    return build_recommendations_defs(load_settings())
