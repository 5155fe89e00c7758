"""Budgets domain: Cost Explorer's forecast, AWS Budgets, ``budget_status`` and its check."""

import dagster as dg

from finops_pipeline.defs.budgets.assets import aws_budgets, build_budget_status_asset, ce_cost_forecast
from finops_pipeline.defs.budgets.checks import forecast_available, spend_within_budgets
from finops_pipeline.settings import Settings, load_settings


def build_budgets_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[ce_cost_forecast, aws_budgets, build_budget_status_asset(settings)],
        asset_checks=[spend_within_budgets, forecast_available],
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_budgets_defs(load_settings())
