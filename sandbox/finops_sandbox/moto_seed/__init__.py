"""Seed moto's in-process backends from a World, and patch moto where it differs from AWS.

``seed`` loads the organisation, IAM roles, SES identities and budgets (and calls ``resources`` for each
account-region's EC2, S3, RDS, Lambda and DynamoDB resources); ``fixes`` holds the moto patches a running
sandbox installs. moto is imported inside the functions only: importing this package does not load it.
"""

from finops_sandbox.moto_seed.common import (
    LAMBDA_ROLE_NAME,
    MEMBER_ROLE_NAME,
    SES_DOMAIN,
    SES_SENDER,
    SeedError,
)
from finops_sandbox.moto_seed.fixes import get_resources_body, install_moto_fixes, remove_moto_fixes
from finops_sandbox.moto_seed.seed import import_moto, reset_moto, resource_counts, seed_moto

__all__ = [
    "LAMBDA_ROLE_NAME",
    "MEMBER_ROLE_NAME",
    "SES_DOMAIN",
    "SES_SENDER",
    "SeedError",
    "get_resources_body",
    "import_moto",
    "install_moto_fixes",
    "remove_moto_fixes",
    "reset_moto",
    "resource_counts",
    "seed_moto",
]
