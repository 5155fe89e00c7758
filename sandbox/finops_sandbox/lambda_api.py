"""``lambda:ListProvisionedConcurrencyConfigs``, which moto 5 does not serve, answered from the world.

AWS Lambda API reference, ListProvisionedConcurrencyConfigs
(https://docs.aws.amazon.com/lambda/latest/api/API_ListProvisionedConcurrencyConfigs.html): REST-JSON
``GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL`` with ``Marker`` and
``MaxItems`` (1-50); the answer is ``ProvisionedConcurrencyConfigs`` [{FunctionArn (qualified with the alias),
RequestedProvisionedConcurrentExecutions, AvailableProvisionedConcurrentExecutions,
AllocatedProvisionedConcurrentExecutions, Status (IN_PROGRESS | READY | FAILED), StatusReason,
LastModified}] and ``NextMarker``. ``FunctionName`` may be the name, the ARN or the partial ARN; a function
the caller's account does not have in the region it signed for answers 404 ResourceNotFoundException.

The world's functions with provisioned concurrency (``world/idle.py``) have one READY config on their
``live`` alias, allocated = requested = available; the caller sees its own account's functions only.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from finops_sandbox.faults import CallInfo, account_of, error_response
from finops_sandbox.world.idle import PC_ALIAS

if TYPE_CHECKING:
    from finops_sandbox.world import World

OPERATION = "ListProvisionedConcurrencyConfigs"
_PATH_RE = re.compile(r"/2019-09-30/functions/(?P<name>[^/]+)/provisioned-concurrency")


def serves(info: CallInfo) -> bool:
    return info.service == "lambda" and info.operation == OPERATION


class ProvisionedConcurrency:
    """Answers ListProvisionedConcurrencyConfigs for one world's Lambda functions."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._functions: dict[tuple[str, str, str], dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _function(self, account: str, region: str, name: str) -> dict[str, Any] | None:
        """Read on first use: the world carries moto's ARNs only once seeding is done."""
        with self._lock:
            if self._functions is None:
                columns = ["account_id", "region", "resource_type", "resource_id", "arn", "created_at"]
                rows = self._world.resources.select([*columns, "provisioned_concurrency"]).to_pylist()
                self._functions = {
                    (r["account_id"], r["region"], r["resource_id"]): r
                    for r in rows
                    if r["resource_type"] == "lambda:function"
                }
        return self._functions.get((account, region, name))

    def __call__(
        self, info: CallInfo, environ: dict[str, Any], start_response: Callable[..., Any], management: str
    ) -> Iterable[bytes]:
        account = account_of(info.access_key) or management
        try:
            status, body = 200, self._list(account, info.region or "", environ)
        except LookupError as exc:
            status, body = 404, ("ResourceNotFoundException", str(exc))
        except ValueError as exc:
            status, body = 400, ("InvalidParameterValueException", str(exc))
        if status != 200:
            line, headers, payload = error_response(info, environ, status, *body)
            start_response(line, [*headers, ("Content-Length", str(len(payload)))])
            return [payload]
        payload = json.dumps(body).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [payload]

    def _list(self, account: str, region: str, environ: dict[str, Any]) -> dict[str, Any]:
        match = _PATH_RE.fullmatch(environ.get("PATH_INFO", ""))
        name = unquote(match["name"]) if match else ""
        name = name.split(":function:", 1)[-1].split(":", 1)[0]  # an ARN or partial ARN names it too
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        size = int(query.get("MaxItems", 50))
        if not 1 <= size <= 50:
            raise ValueError("MaxItems must be between 1 and 50")
        row = self._function(account, region, name)
        if row is None:
            raise LookupError(f"Function not found: arn:aws:lambda:{region}:{account}:function:{name}")
        configs = []
        if row["provisioned_concurrency"]:
            count = int(row["provisioned_concurrency"])
            configs.append(
                {
                    "FunctionArn": f"{row['arn']}:{PC_ALIAS}",
                    "RequestedProvisionedConcurrentExecutions": count,
                    "AvailableProvisionedConcurrentExecutions": count,
                    "AllocatedProvisionedConcurrentExecutions": count,
                    "Status": "READY",
                    "LastModified": row["created_at"].strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                }
            )
        first = int(query.get("Marker") or 0)
        answer: dict[str, Any] = {"ProvisionedConcurrencyConfigs": configs[first : first + size]}
        if first + size < len(configs):
            answer["NextMarker"] = str(first + size)
        return answer
