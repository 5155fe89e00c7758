"""Fault injection for the sandbox: latency, throttling, AccessDenied, a region that is not enabled, a
malformed (truncated) answer, and Cost Explorer's refusals that are not IAM (``cost_explorer/refusals.py``).

Each fault answers in the wire format and with the error code the real service uses, because that is what
decides whether botocore retries it and how client code classifies it; a generic 500 would test nothing.
Faults are chosen when the sandbox starts (``finops sandbox --throttle-rate 0.2 ...``) and never change.
The service and region of a request come from its SigV4 credential scope, the operation from
``X-Amz-Target`` (JSON protocols) or the form ``Action`` (query protocols), the account from the access key
(moto maps the keys that ``sts:AssumeRole`` hands out to the role's account).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from finops_sandbox.cost_explorer.refusals import REFUSALS, CeRefusals, unknown_refusals

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ACCOUNT_RE = re.compile(r"^\d{12}$")
# Same pattern as finops_pipeline.settings.REGION_RE; not imported from there because settings pulls in
# dagster (2 s), which `finops sandbox stop` and the fault middleware have no use for.
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")

# Signing name -> protocol family. Anything else is guessed from the request (X-Amz-Target => JSON).
_JSON = {"ce", "organizations", "tagging", "budgets", "dynamodb", "logs", "kms", "events", "ssm"}
_QUERY = {
    "sts",
    "ses",
    "email",
    "rds",
    "iam",
    "sns",
    "sqs",
    "monitoring",
    "cloudformation",
    "elasticloadbalancing",
}
_THROTTLE_CODES = {  # the code each service really throttles with (all in botocore's retryable list)
    "ce": "LimitExceededException",
    "organizations": "TooManyRequestsException",
    "tagging": "ThrottledException",
    "lambda": "TooManyRequestsException",
}
_IAM_PREFIX = {"tagging": "tag", "email": "ses", "monitoring": "cloudwatch"}
SECURITY_TOKEN_INVALID = "The security token included in the request is invalid."
MALFORMED_RE = re.compile(r"[A-Z][A-Za-z0-9]+(:\d{12}(:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d)?)?")


class FaultsError(ValueError):
    """A fault setting that cannot work, with the option, the value and the fix."""


def _csv(value: Iterable[str] | str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    parts = value.split(",") if isinstance(value, str) else value
    return frozenset(part.strip() for part in parts if part.strip())


@dataclass(frozen=True)
class Faults:
    """What goes wrong, fixed for the life of a sandbox.

    ``deny_accounts`` and ``deny_operations`` combine with AND when both are given (``GetResources`` in
    account A only); either alone denies every call of those accounts / every call of those operations.
    """

    latency_ms: int = 0
    throttle_rate: float = 0.0
    seed: int = 0
    deny_accounts: frozenset[str] = field(default_factory=frozenset)
    deny_operations: frozenset[str] = field(default_factory=frozenset)
    disabled_region: str | None = None
    # "Operation[:account[:region]]": that operation's successful answers are cut short (see MalformedBody)
    malformed_responses: frozenset[str] = field(default_factory=frozenset)
    # names of finops_sandbox.cost_explorer.refusals.REFUSALS: Cost Explorer refusals that are not IAM
    ce_refusals: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ce_refusals", _csv(self.ce_refusals))
        bad = unknown_refusals(self.ce_refusals)
        if bad:
            raise FaultsError(
                f"--ce-refusals {','.join(bad)}: choose from {', '.join(REFUSALS)}, "
                "e.g. --ce-refusals rightsizing-opt-in,forecast-data-unavailable"
            )
        object.__setattr__(self, "deny_accounts", _csv(self.deny_accounts))
        object.__setattr__(self, "deny_operations", _csv(self.deny_operations))
        object.__setattr__(self, "malformed_responses", _csv(self.malformed_responses))
        bad = sorted(m for m in self.malformed_responses if not MALFORMED_RE.fullmatch(m))
        if bad:
            raise FaultsError(
                f"--malformed-responses {','.join(bad)}: give Operation[:account[:region]], "
                "e.g. --malformed-responses DescribeVolumes:123456789012:us-west-2"
            )
        if not 0 <= self.latency_ms <= 60_000:
            raise FaultsError(
                f"--latency-ms {self.latency_ms}: must be 0..60000 milliseconds, e.g. --latency-ms 50"
            )
        if not 0.0 <= self.throttle_rate <= 1.0:
            raise FaultsError(
                f"--throttle-rate {self.throttle_rate}: must be a fraction from 0 to 1, "
                "e.g. --throttle-rate 0.2"
            )
        bad = sorted(a for a in self.deny_accounts if not ACCOUNT_RE.match(a))
        if bad:
            raise FaultsError(
                f"--deny-accounts {','.join(bad)}: account ids are 12 digits, "
                "e.g. --deny-accounts 123456789012"
            )
        bad = sorted(op for op in self.deny_operations if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", op))
        if bad:
            raise FaultsError(
                f"--deny-operations {','.join(bad)}: give API operation names as AWS spells them, "
                "e.g. --deny-operations GetResources,ListAccounts"
            )
        if self.disabled_region is not None:
            if not REGION_RE.match(self.disabled_region):
                raise FaultsError(
                    f"--disabled-region {self.disabled_region}: not an AWS region code; use e.g. eu-west-1"
                )
            if self.disabled_region == "us-east-1":
                raise FaultsError(
                    "--disabled-region us-east-1: us-east-1 serves the global services (Organizations, "
                    "Cost Explorer, Budgets) and is always enabled; "
                    "disable an opt-in region such as eu-west-1"
                )

    @property
    def active(self) -> bool:
        return bool(
            self.latency_ms
            or self.throttle_rate
            or self.deny_accounts
            or self.deny_operations
            or self.disabled_region
            or self.malformed_responses
            or self.ce_refusals
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "throttle_rate": self.throttle_rate,
            "seed": self.seed,
            "deny_accounts": sorted(self.deny_accounts),
            "deny_operations": sorted(self.deny_operations),
            "disabled_region": self.disabled_region,
            "malformed_responses": sorted(self.malformed_responses),
            "ce_refusals": sorted(self.ce_refusals),
        }

    def malformed(self, info: CallInfo, account: str | None) -> bool:
        """Whether this call's answer is to be cut short."""
        for rule in self.malformed_responses:
            operation, rule_account, rule_region = [*rule.split(":"), "", ""][:3]
            if (
                operation == info.operation
                and rule_account in ("", account)
                and rule_region in ("", info.region)
            ):
                return True
        return False

    def to_cli_args(self) -> list[str]:
        """The ``finops sandbox`` flags that recreate these faults (for starting one in a subprocess)."""
        args = ["--latency-ms", str(self.latency_ms), "--throttle-rate", str(self.throttle_rate)]
        args += ["--fault-seed", str(self.seed)]
        if self.deny_accounts:
            args += ["--deny-accounts", ",".join(sorted(self.deny_accounts))]
        if self.deny_operations:
            args += ["--deny-operations", ",".join(sorted(self.deny_operations))]
        if self.disabled_region:
            args += ["--disabled-region", self.disabled_region]
        if self.malformed_responses:
            args += ["--malformed-responses", ",".join(sorted(self.malformed_responses))]
        if self.ce_refusals:
            args += ["--ce-refusals", ",".join(sorted(self.ce_refusals))]
        return args

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> Faults:
        return cls(
            latency_ms=ns.latency_ms,
            throttle_rate=ns.throttle_rate,
            seed=ns.seed if ns.fault_seed is None else ns.fault_seed,
            deny_accounts=_csv(ns.deny_accounts),
            deny_operations=_csv(ns.deny_operations),
            disabled_region=ns.disabled_region,
            malformed_responses=_csv(ns.malformed_responses),
            ce_refusals=_csv(ns.ce_refusals),
        )


def _number(kind: type, name: str, example: str) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return kind(value)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{value!r} is not {noun}; e.g. {name} {example}") from None

    return parse


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fault injection")
    group.add_argument(
        "--latency-ms", type=_number(int, "--latency-ms", "50"), default=0, help="added to every AWS call"
    )
    group.add_argument(
        "--throttle-rate",
        type=_number(float, "--throttle-rate", "0.2"),
        default=0.0,
        help="fraction 0..1 of calls answered with the service's throttling error",
    )
    group.add_argument(
        "--fault-seed",
        type=_number(int, "--fault-seed", "7"),
        default=None,
        help="seed of the throttling draw (default: --seed)",
    )
    group.add_argument(
        "--deny-accounts", default=None, help="comma-separated account ids answered AccessDenied"
    )
    group.add_argument(
        "--deny-operations", default=None, help="comma-separated operations answered AccessDenied"
    )
    group.add_argument("--disabled-region", default=None, help="a region that answers as not enabled")
    group.add_argument(
        "--malformed-responses",
        default=None,
        help="comma-separated Operation[:account[:region]] whose answers are cut short (unparseable)",
    )
    group.add_argument(
        "--ce-refusals",
        default=None,
        help="comma-separated Cost Explorer refusals that are not IAM, answered as AWS does: "
        + ", ".join(REFUSALS),
    )


# ------------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class CallInfo:
    """What the fault rules look at, parsed once per request."""

    service: str | None
    region: str | None
    access_key: str | None
    operation: str | None
    form: dict[str, str]


_PC_LIST_RE = re.compile(r"/2019-09-30/functions/[^/]+/provisioned-concurrency")


def _is_pc_list(environ: dict[str, Any]) -> bool:
    """Lambda REST-JSON: GET /2019-09-30/functions/{FunctionName}/provisioned-concurrency?List=ALL."""
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and bool(_PC_LIST_RE.fullmatch(environ.get("PATH_INFO", "")))
        and "List=ALL" in environ.get("QUERY_STRING", "")
    )


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back so the next application can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def call_info(environ: dict[str, Any]) -> CallInfo:
    match = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key, region, service = match.groups() if match else (None, None, None)
    target = environ.get("HTTP_X_AMZ_TARGET")
    form: dict[str, str] = {}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        parsed = parse_qs(read_body(environ).decode("utf-8", "replace"))
        form = {key: values[0] for key, values in parsed.items()}
    operation = target.split(".", 1)[-1] if target else form.get("Action")
    if operation is None and service == "savingsplans":  # REST-JSON: the operation is the path
        operation = environ.get("PATH_INFO", "").strip("/") or None
    if operation is None and service == "lambda" and _is_pc_list(environ):
        operation = "ListProvisionedConcurrencyConfigs"
    return CallInfo(service, region, access_key, operation, form)


def account_of(access_key: str | None) -> str | None:
    """The account moto attributes `access_key` to (assumed-role keys map to the role's account)."""
    if access_key is None:
        return None
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key)


def _protocol(info: CallInfo, environ: dict[str, Any]) -> str:
    if info.service == "ec2":
        return "ec2"
    if info.service == "s3":
        return "rest-xml"
    if info.service == "lambda":
        return "rest-json"
    if info.service in _JSON or environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if info.service in _QUERY or info.form.get("Action"):
        return "query"
    return "rest-json"


def error_response(
    info: CallInfo, environ: dict[str, Any], status: int, code: str, message: str
) -> tuple[str, list[tuple[str, str]], bytes]:
    """An AWS error in the wire format of the request's service."""
    request_id = str(uuid.uuid4())
    protocol = _protocol(info, environ)
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}
    status_line = f"{status} {reason.get(status, 'Service Unavailable')}"
    if protocol in ("json", "rest-json"):
        content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
        return status_line, headers, body
    if protocol == "ec2":
        xml = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{_xml(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol == "rest-xml":
        xml = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{_xml(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status_line, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def throttle_error(info: CallInfo, environ: dict[str, Any]) -> tuple[int, str, str]:
    protocol = _protocol(info, environ)
    code = _THROTTLE_CODES.get(info.service or "")
    if protocol == "ec2":
        return 503, "RequestLimitExceeded", "Request limit exceeded."
    if protocol == "rest-xml":
        return 503, "SlowDown", "Please reduce your request rate."
    if protocol == "query":
        return 400, "Throttling", "Rate exceeded"
    if protocol == "rest-json":
        return 429, code or "TooManyRequestsException", "Rate exceeded"
    return 400, code or "ThrottlingException", "Rate exceeded"


def access_denied_error(info: CallInfo, environ: dict[str, Any], principal: str) -> tuple[int, str, str]:
    prefix = _IAM_PREFIX.get(info.service or "", info.service or "aws")
    action = f"{prefix}:{info.operation or '*'}"
    message = f"User: {principal} is not authorized to perform: {action}"
    protocol = _protocol(info, environ)
    if protocol == "ec2":
        return 403, "UnauthorizedOperation", "You are not authorized to perform this operation."
    if protocol in ("query", "rest-xml"):
        return 403, "AccessDenied", message
    return (403 if protocol == "rest-json" else 400), "AccessDeniedException", message


def region_disabled_error(info: CallInfo, environ: dict[str, Any]) -> tuple[int, str, str]:
    protocol = _protocol(info, environ)
    if protocol == "ec2":
        return 401, "AuthFailure", "AWS was not able to validate the provided access credentials"
    if protocol == "query":
        return 403, "InvalidClientTokenId", SECURITY_TOKEN_INVALID
    if protocol == "rest-xml":
        return 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
    return (403 if protocol == "rest-json" else 400), "UnrecognizedClientException", SECURITY_TOKEN_INVALID


def principal_of(access_key: str | None, account: str | None) -> str:
    """The caller ARN an AccessDenied message names, as AWS does."""
    if account is None:
        return "anonymous"
    from moto.sts.models import sts_backends

    if account in sts_backends:
        role = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key or "")
        if role is not None:
            return role.arn
    return f"arn:aws:iam::{account}:root"


def truncated_answer(
    app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any]
) -> list[bytes]:
    """The real answer, cut in the middle, with a Content-Length that matches the cut.

    AWS can hand botocore a successful answer it cannot parse (the AWS SDK team: "in some cases the SDK
    will receive a successful response but receive malformed XML", aws/aws-sdk-js#1913; an empty or cut
    body in boto/boto3#3508 and, for SNS 408s, kalaspuff/tomodachi#1664). botocore then raises
    ``ResponseParserError`` ("Unable to parse response (...), invalid XML received. Further retries may
    succeed", botocore/parsers.py): not a ``ClientError``, not a ``BotoCoreError``, and its message carries
    the body received. This is what that looks like: a 200 with half the XML document, tags and all.
    """
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        captured.update(status=status, headers=headers)
        return lambda _data: None

    body = b"".join(app(environ, capture))
    cut = body[: max(1, len(body) // 2)]
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    start_response(captured["status"], [*headers, ("Content-Length", str(len(cut)))])
    return [cut]


# ------------------------------------------------------------------------------------------------ middleware


class FaultStats:
    """Counters the tests and the health endpoint read (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[key] += amount

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class FaultInjector:
    """WSGI middleware answering some AWS calls with faults before `app` sees them.

    Order: latency (every call), region not enabled, AccessDenied, throttling, Cost Explorer refusals.
    Paths for which `exempt` is true (health, ``/moto-api/``) pass untouched.
    """

    def __init__(self, app: WSGIApp, faults: Faults, exempt: Callable[[str], bool]) -> None:
        self.app, self.faults, self.exempt = app, faults, exempt
        self.refusals = CeRefusals(faults.ce_refusals)
        self.stats = FaultStats()
        self._rng = random.Random(faults.seed)
        self._rng_lock = threading.Lock()

    def _throttled(self) -> bool:
        if not self.faults.throttle_rate:
            return False
        with self._rng_lock:
            return self._rng.random() < self.faults.throttle_rate

    def _denied(self, info: CallInfo, account: str | None) -> bool:
        faults = self.faults
        if not (faults.deny_accounts or faults.deny_operations):
            return False
        if info.service == "sts" and info.operation == "GetCallerIdentity":
            return False  # AWS never denies GetCallerIdentity, even under an explicit Deny
        account_hit = not faults.deny_accounts or account in faults.deny_accounts
        operation_hit = not faults.deny_operations or info.operation in faults.deny_operations
        return account_hit and operation_hit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.exempt(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        self.stats.add("requests")
        if not self.faults.active:
            return self.app(environ, start_response)
        info = call_info(environ)
        if self.faults.latency_ms:
            time.sleep(
                self.faults.latency_ms / 1000
            )  # the injected latency itself, not a synchronisation wait
            self.stats.add("latency_ms", self.faults.latency_ms)
        fault: tuple[int, str, str] | None = None
        if self.faults.disabled_region and info.region == self.faults.disabled_region:
            fault, kind = region_disabled_error(info, environ), "region_disabled"
        else:
            account = account_of(info.access_key) if self.faults.deny_accounts else None
            if self._denied(info, account):
                principal = principal_of(info.access_key, account or account_of(info.access_key))
                fault, kind = access_denied_error(info, environ, principal), "access_denied"
            elif self._throttled():
                fault, kind = throttle_error(info, environ), "throttled"
            elif self.faults.ce_refusals and info.service == "ce":
                fault = self.refusals.answer(info.operation, read_body(environ))
                kind = "refused"
        if fault is None:
            if self.faults.malformed_responses and self.faults.malformed(info, account_of(info.access_key)):
                self.stats.add(f"malformed:{info.service}:{info.operation}")
                return truncated_answer(self.app, environ, start_response)
            return self.app(environ, start_response)
        self.stats.add(kind)
        self.stats.add(f"{kind}:{info.service}:{info.operation}")
        status, headers, body = error_response(info, environ, *fault)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]
