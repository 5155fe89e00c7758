"""Ingest domain: raw tables from Cost Explorer, Organizations and the Tagging API."""

import dagster as dg

from finops_pipeline.defs.ingest.accounts import aws_accounts
from finops_pipeline.defs.ingest.anomalies import build_anomalies_asset
from finops_pipeline.defs.ingest.checks import build_checks
from finops_pipeline.defs.ingest.cost_allocation_tags import build_cost_allocation_tags_asset
from finops_pipeline.defs.ingest.costs import build_cost_assets
from finops_pipeline.defs.ingest.partitions import daily_partitions
from finops_pipeline.defs.ingest.recommendations import (
    ce_recommendations,
    every_recommendation_kind_answered,
)
from finops_pipeline.defs.ingest.tagged_resources import tagged_resources
from finops_pipeline.settings import Settings, load_settings


def build_ingest_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[
            aws_accounts,
            *build_cost_assets(settings, daily_partitions(settings)),
            build_cost_allocation_tags_asset(settings),
            tagged_resources,
            build_anomalies_asset(settings),
            ce_recommendations,
        ],
        asset_checks=[*build_checks(settings), every_recommendation_kind_answered],
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_ingest_defs(load_settings())
