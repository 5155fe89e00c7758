"""Compliance domain: tag compliance by resources and by spend (marts.tag_compliance_*)."""

import dagster as dg

from finops_pipeline.defs.compliance.assets import build_compliance_assets
from finops_pipeline.settings import Settings, load_settings


def build_compliance_defs(settings: Settings) -> dg.Definitions:
    assets, checks = build_compliance_assets(settings)
    return dg.Definitions(assets=assets, asset_checks=checks)


@dg.definitions
def defs() -> dg.Definitions:
    return build_compliance_defs(load_settings())
