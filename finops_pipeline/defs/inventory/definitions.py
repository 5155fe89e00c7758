"""Inventory domain: raw EC2 describe data (instances, volumes, snapshots, elastic IPs)."""

import dagster as dg

from finops_pipeline.defs.inventory.ec2 import ec2_every_account_region_scanned, ec2_inventory
from finops_pipeline.settings import Settings, load_settings


def build_inventory_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(assets=[ec2_inventory], asset_checks=[ec2_every_account_region_scanned])


@dg.definitions
def defs() -> dg.Definitions:
    return build_inventory_defs(load_settings())
