"""``DescribeRegions`` as AWS answers a commercial (``aws`` partition) account, which moto does not.

moto lists China and GovCloud regions to every account, calls opt-in regions such as af-south-1
"opt-in-not-required", and lists not-opted-in regions even without ``AllRegions``. AWS
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html):

- only the regions of the caller's partition exist for it (a commercial account never sees cn-* or
  us-gov-*);
- ``AllRegions`` "Indicates whether to display all Regions, including Regions that are disabled for your
  account"; without it only enabled regions are listed;
- ``OptInStatus`` is ``opt-in-not-required`` for the regions enabled by default, ``opted-in`` or
  ``not-opted-in`` for the opt-in regions (those launched after 20 March 2019,
  https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).

No account of the sandbox has enabled an opt-in region (``OPTED_IN``), so each is ``not-opted-in``.
"""

from __future__ import annotations

import functools
from typing import Any

# The aws partition's opt-in regions (AWS Account Management reference, "Specify which AWS Regions your
# account can use"); every other region of the partition is enabled by default.
OPT_IN_REGIONS = frozenset(
    {
        "af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4",
        "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1",
        "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
    }
)  # fmt: skip
OPTED_IN: frozenset[str] = frozenset()
PARTITION = "aws"


@functools.cache
def partition_regions() -> tuple[str, ...]:
    """The EC2 regions of the commercial partition, as botocore's endpoint data lists them.

    Read once per process: a new botocore session re-reads its endpoint JSON files, which was 91% of
    the sandbox's CPU while 100 accounts' commitment inventory asked each region for DescribeRegions.
    """
    from botocore.session import get_session

    return tuple(sorted(get_session().get_available_regions("ec2", partition_name=PARTITION)))


def opt_in_status(region: str) -> str:
    if region not in OPT_IN_REGIONS:
        return "opt-in-not-required"
    return "opted-in" if region in OPTED_IN else "not-opted-in"


def describe_regions(region_names: list[str], all_regions: bool) -> list[dict[str, Any]]:
    """The ``Regions`` of a DescribeRegions answer: the partition's, the disabled ones only on request."""
    wanted = set(region_names)
    regions = []
    for name in partition_regions():
        status = opt_in_status(name)
        if (wanted and name not in wanted) or (status == "not-opted-in" and not all_regions):
            continue
        regions.append({"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com", "OptInStatus": status})
    return regions


def describe_regions_response(self: Any) -> Any:
    """moto's ``EC2Response.describe_regions`` with AWS's answer (installed by ``install_moto_fixes``)."""
    from moto.core.responses import ActionResult

    self.error_on_dryrun()
    names = self._get_param("RegionNames", [])
    all_regions = str(self._get_param("AllRegions", "false")).lower() == "true"
    return ActionResult({"Regions": describe_regions(names, all_regions)})
