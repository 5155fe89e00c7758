"""Anomalies domain: ``cost_anomalies`` (our detector beside AWS's anomalies) and its checks."""

import dagster as dg

from finops_pipeline.defs.anomalies.assets import build_cost_anomalies_asset
from finops_pipeline.defs.anomalies.checks import build_checks
from finops_pipeline.settings import Settings, load_settings


def build_anomalies_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[build_cost_anomalies_asset(settings)], asset_checks=build_checks())


@dg.definitions
def defs() -> dg.Definitions:
    return build_anomalies_defs(load_settings())
