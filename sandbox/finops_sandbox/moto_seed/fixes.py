"""Patches to moto, for as long as a sandbox runs: where it would lie about AWS, and where it was slow.

Kept apart from the seeding because these replace moto internals (and must be undone in tests):
``install_moto_fixes`` records every original in ``_originals``; ``remove_moto_fixes`` restores them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from finops_sandbox.regions import describe_regions_response

if TYPE_CHECKING:
    pass


_originals: dict[str, Any] = {}
_DATA_JSON = "{0}/moto-api/data.json"


def install_moto_fixes() -> None:
    """Fix, for as long as a sandbox runs, the moto behaviours that would make it lie about AWS.

    - Tagging API ``GetResources``: moto lists every S3 bucket of the account in every region and leaves
      elastic IPs out; AWS lists a bucket only in its own region and includes ``ec2:elastic-ip``. moto
      also lists never-tagged load balancers (``include_untagged``); AWS lists only resources that have
      or had tags (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html).
    - ``GET /moto-api/data.json`` (where sent SES mail is read) fails with a 500 as soon as an RDS instance
      exists (a write-only property raises NotImplementedError) or a Lambda function does and Docker is
      absent; the fixed dump skips any attribute that cannot be read, and the backends themselves.

    And the per-request costs that made a 600-target tag scan CPU-bound in the server (same answers):

    - moto lists its package directory (~180 ``isdir`` calls) on every request to route it; the list is
      read once.
    - moto finds the account of an access key through its locking backend lookup for every account and
      partition (~1,000 lookups a request at 200 accounts); the backends are now read as plain dicts.
    - moto lists a response class's methods with ``inspect.getmembers`` on every request to find the
      action's handler; the list is kept per class.
    - ``GetResources`` answers went through moto's generic serializer (half the request's CPU); its
      body is now the same JSON written directly (``get_resources_body``).

    - Budgets ``DescribeBudgets``: moto answers every budget at once with a ``nextToken`` member AWS does
      not have (botocore drops it); the fixed answer pages as AWS does (``MaxResults``, default 100,
      ``NextToken``), so a reader without a page loop misses budgets here too.
    - EC2 ``DescribeRegions``: moto lists China and GovCloud to a commercial account and gets opt-in
      regions wrong; ``finops_sandbox.regions`` answers as AWS does.

    - IAM enforcement's signature check of a bodiless GET (Lambda ``ListFunctions``, a REST-JSON call):
      moto signs the query-string dict (headers, when there is no query) as the payload and answers
      ``SignatureDoesNotMatch`` to every such call; SigV4 signs an empty payload there
      (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).

    Idempotent; undone by ``remove_moto_fixes``.
    """
    from moto import backends
    from moto.budgets.responses import BudgetsResponse
    from moto.core import responses
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions
    from moto.iam import models as iam_models
    from moto.moto_api._internal import urls
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    if _originals:
        return
    _originals["describe_budgets"] = BudgetsResponse.describe_budgets
    BudgetsResponse.describe_budgets = _describe_budgets  # type: ignore[method-assign]
    original = ResourceGroupsTaggingAPIBackend._get_resources_generator
    _originals["generator"] = original
    _originals["data.json"] = urls.url_paths[_DATA_JSON]
    _originals["modules"] = backends.list_of_moto_modules
    _originals["account_of_key"] = iam_models.get_account_id_from
    _originals["get_resources"] = ResourceGroupsTaggingAPIResponse.get_resources
    _originals["method_names"] = responses.method_names_from_class

    def regional_resources(
        self: ResourceGroupsTaggingAPIBackend,
        tag_filters: list[dict[str, Any]] | None = None,
        resource_type_filters: list[str] | None = None,
        resource_arn_list: list[str] | None = None,
    ) -> Iterator[Any]:
        for resource in original(
            self,
            tag_filters=tag_filters,
            resource_type_filters=resource_type_filters,
            resource_arn_list=resource_arn_list,
        ):
            if not resource.tags:
                continue  # never tagged: invisible to GetResources (moto lists ELB v2 ones all the same)
            if (
                resource.resource_type != "s3:bucket"
                or _bucket_region(self, resource.arn) == self.region_name
            ):
                yield resource
        yield from _elastic_ips(self, tag_filters, resource_type_filters, resource_arn_list)

    ResourceGroupsTaggingAPIBackend._get_resources_generator = regional_resources  # type: ignore[method-assign]
    urls.url_paths[_DATA_JSON] = _model_data
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    iam_models.get_account_id_from = _account_of_key
    ResourceGroupsTaggingAPIResponse.get_resources = _get_resources  # type: ignore[method-assign,assignment]
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)
    from moto.iam.access_control import IAMRequestBase

    _originals["aws_request"] = IAMRequestBase._create_aws_request
    IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign]
    _originals["describe_regions"] = AvailabilityZonesAndRegions.describe_regions
    AvailabilityZonesAndRegions.describe_regions = describe_regions_response  # type: ignore[method-assign]


def remove_moto_fixes() -> None:
    from moto import backends
    from moto.budgets.responses import BudgetsResponse
    from moto.core import responses
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions
    from moto.iam import models as iam_models
    from moto.moto_api._internal import urls
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.resourcegroupstaggingapi.responses import ResourceGroupsTaggingAPIResponse

    if "generator" in _originals:
        ResourceGroupsTaggingAPIBackend._get_resources_generator = _originals.pop("generator")  # type: ignore[method-assign]
    if "data.json" in _originals:
        urls.url_paths[_DATA_JSON] = _originals.pop("data.json")
    if "modules" in _originals:
        backends.list_of_moto_modules = _originals.pop("modules")
    if "account_of_key" in _originals:
        iam_models.get_account_id_from = _originals.pop("account_of_key")
    if "get_resources" in _originals:
        ResourceGroupsTaggingAPIResponse.get_resources = _originals.pop("get_resources")  # type: ignore[method-assign]
    if "method_names" in _originals:
        responses.method_names_from_class = _originals.pop("method_names")
    if "describe_budgets" in _originals:
        BudgetsResponse.describe_budgets = _originals.pop("describe_budgets")  # type: ignore[method-assign]
    if "aws_request" in _originals:
        from moto.iam.access_control import IAMRequestBase

        IAMRequestBase._create_aws_request = _originals.pop("aws_request")  # type: ignore[method-assign]
    if "describe_regions" in _originals:
        AvailabilityZonesAndRegions.describe_regions = _originals.pop("describe_regions")  # type: ignore[method-assign]


def _create_aws_request(self: Any) -> Any:
    """The request moto re-signs to check a signature, with the empty payload a bodiless GET signed."""
    request = _originals["aws_request"](self)
    if self._method in ("GET", "HEAD", "DELETE") and not self._body:
        request.data = b""
    return request


def _account_of_key(access_key: str) -> str:
    """moto's ``get_account_id_from``, reading the IAM backends that exist instead of looking each one up."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    for account_id, partitions in list(iam_backends.items()):
        for backend in list(dict.values(partitions)):
            if access_key in backend.access_keys:
                return account_id
    return DEFAULT_ACCOUNT_ID


def get_resources_body(result: dict[str, Any]) -> str:
    """The JSON moto's serializer writes for a ``GetResources`` result, byte for byte, in far less CPU.

    The output members in the model's order, None left out; moto builds the nested mappings and tags in the
    model's order already.
    """
    from moto.core.utils import get_service_model

    output = get_service_model("resourcegroupstaggingapi").operation_model("GetResources").output_shape
    return json.dumps({name: result[name] for name in output.members if result.get(name) is not None})


def _get_resources(self: Any) -> tuple[str, dict[str, str]]:
    """moto's ``GetResources`` (validation, paging) and headers, with the body of ``get_resources_body``."""
    from moto.core.responses import ActionResult

    answer = _originals["get_resources"](self)
    _, headers, _ = self.serialized(ActionResult({}))  # an empty result: moto's headers for this call
    return get_resources_body(answer.result), headers


def _model_data(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    """moto's ``/moto-api/data.json`` dump, skipping attributes whose getter raises anything.

    Backends are left out too: moto tracks each EC2 backend as a model, and its 3 MB instance-type catalogue
    made the dump of a 12-account world take 10 s.
    """
    from moto.core.base_backend import BaseBackend
    from moto.core.model_instances import model_data

    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for service in sorted(model_data):
        models = model_data[service]
        results[service] = {}
        for name in sorted(models):
            instances = []
            for instance in models[name].instances_tracked:  # type: ignore[attr-defined]
                if isinstance(instance, BaseBackend):
                    continue
                fields = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:
                        continue
                    fields[attr] = value
                instances.append(fields)
            results[service][name] = instances
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


def _bucket_region(tagging: Any, arn: str) -> str | None:
    from moto.s3.models import s3_backends

    bucket = s3_backends[tagging.account_id][tagging.partition].buckets.get(arn.rsplit(":", 1)[-1])
    return None if bucket is None else bucket.region_name


def _elastic_ips(
    tagging: Any,
    tag_filters: list[dict[str, Any]] | None,
    resource_type_filters: list[str] | None,
    resource_arn_list: list[str] | None,
) -> Iterator[Any]:
    from moto.core.resource_tagging import TaggedResource, make_tag_matcher, match_resource_type
    from moto.ec2.models import ec2_backends

    if tagging.account_id not in ec2_backends or not match_resource_type(
        "ec2:elastic-ip", resource_type_filters
    ):
        return
    backend = ec2_backends[tagging.account_id].get(tagging.region_name)
    if backend is None:
        return
    matches = make_tag_matcher(tag_filters)
    for address in backend.addresses:
        tags = dict(backend.tags.get(address.allocation_id, {}))
        arn = f"arn:aws:ec2:{tagging.region_name}:{tagging.account_id}:elastic-ip/{address.allocation_id}"
        if tags and matches(tags) and (not resource_arn_list or arn in resource_arn_list):
            yield TaggedResource(arn=arn, tags=tags, resource_type="ec2:elastic-ip")


BUDGETS_PAGE = 100  # DescribeBudgets' MaxResults: "The default is 100" (botocore budgets model; max 1000)


def _describe_budgets(self: Any) -> str:
    """DescribeBudgets paged as AWS pages it: ``MaxResults`` (1-1000, default 100) and ``NextToken``."""
    budgets = self.backend.describe_budgets(account_id=self._get_param("AccountId"))
    size = max(1, min(int(self._get_param("MaxResults") or BUDGETS_PAGE), 1000))
    token = self._get_param("NextToken")
    start = int(token) if token and str(token).isdigit() else 0
    answer: dict[str, Any] = {"Budgets": budgets[start : start + size]}
    if start + size < len(budgets):
        answer["NextToken"] = str(start + size)
    return json.dumps(answer)
