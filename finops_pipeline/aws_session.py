"""The one way the pipeline reaches AWS: credentials, role assumption, retries, fan-out, call counts.

Asset code never builds a boto3 session. Endpoints come from boto3's standard settings
(``AWS_ENDPOINT_URL`` and friends), so the local sandbox and real AWS run the same code.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import dagster as dg
from botocore.config import Config
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader, create_loader
from botocore.parsers import ResponseParserError
from botocore.session import get_session
from dagster._core.events import EngineEventData
from pydantic import Field, PrivateAttr

from finops_pipeline.ce_answers import CostPageParserFactory
from finops_pipeline.clock import utc_now
from finops_pipeline.lib.remediation import HINT_MARK, REFUSAL_FIXES, add_fix_hint, error_kind
from finops_pipeline.lib.run_target import TARGET_TAG, claim_warehouse, target_name
from finops_pipeline.request_budget import CE_PRICE_PER_REQUEST_USD, RequestBudget
from finops_pipeline.settings import Settings
from finops_pipeline.warehouse import ensure_schema, open_with_lock_timeout


@functools.cache
def _shared_loader() -> Loader:
    """One botocore model loader per process: it caches the parsed service models (JSON), and every
    new session otherwise parses them again (~0.5 s for the dozen services a run or `finops doctor` uses).
    """
    return create_loader()


T = TypeVar("T")
LOGGER = logging.getLogger("finops_pipeline.aws")


class AwsAccessError(RuntimeError):
    """Raised before any AWS call when credentials cannot work, with the fix in the message."""


@dataclass(frozen=True)
class CallCount:
    service: str
    operation: str
    calls: int
    pages: int

    @property
    def estimated_cost_usd(self) -> float:
        return round(self.pages * CE_PRICE_PER_REQUEST_USD, 2) if self.service == "ce" else 0.0


class ApiCallCounter:
    """Counts HTTP requests (retries included) and successful answers per operation.

    Cost Explorer bills each successful answer ("page"), so pages is the figure that costs money.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[tuple[str, str]] = Counter()
        self._pages: Counter[tuple[str, str]] = Counter()

    def attach(self, client: Any, service: str) -> None:
        events = client.meta.events

        def on_send(event_name: str, **_: Any) -> None:
            with self._lock:
                self._calls[(service, event_name.rsplit(".", 1)[-1])] += 1

        def on_answer(http_response: Any, model: Any, **_: Any) -> None:
            if http_response is not None and http_response.status_code < 300:
                with self._lock:
                    self._pages[(service, model.name)] += 1

        events.register("before-send", on_send)
        events.register("after-call", on_answer)
        events.register("after-call", add_fix_hint)  # every final error says what to do next

    def snapshot(self) -> dict[tuple[str, str], tuple[int, int]]:
        with self._lock:
            keys = set(self._calls) | set(self._pages)
            return {key: (self._calls[key], self._pages[key]) for key in keys}

    @staticmethod
    def delta(
        before: dict[tuple[str, str], tuple[int, int]], after: dict[tuple[str, str], tuple[int, int]]
    ) -> list[CallCount]:
        counts = []
        for key in sorted(after):
            calls = after[key][0] - before.get(key, (0, 0))[0]
            pages = after[key][1] - before.get(key, (0, 0))[1]
            if calls or pages:
                counts.append(CallCount(key[0], key[1], calls, pages))
        return counts


@dataclass(frozen=True)
class ScanTarget:
    account_id: str
    region: str


@dataclass(frozen=True)
class ScanOutcome:
    """What one account × region gave: a result, or the reason it could not."""

    target: ScanTarget
    status: str  # ok | access_denied | throttled | error
    detail: str
    result: Any = None


# What one target's call can raise that is that target's problem, not the run's: AWS's error answers,
# botocore's own failures (connection reset, read timeout, endpoint unreachable) and an answer botocore
# cannot parse (ResponseParserError is not a BotoCoreError).
TARGET_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, ResponseParserError)
DETAIL_CHARS = 500


def classify_error(exc: BaseException, operation: str = "") -> tuple[str, str]:
    """(status, short detail) of a failed call. The detail never carries a response body.

    A parse error's message embeds the whole body (every resource and tag of the account), and other
    messages can be long: keep the exception class and the first line, cut short.
    """
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "") or ""
        operation = getattr(exc, "operation_name", "") or operation
        detail = f"{operation}: {code}: {(message.splitlines() or [''])[0]}"[:DETAIL_CHARS]
        kind = error_kind(code, exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"), message)
        if kind in REFUSAL_FIXES:  # Cost Explorer refusals keep their own status, and the whole fix
            said = message.split(HINT_MARK, 1)[0].splitlines()[0] if message else ""
            return kind, f"{operation}: {code}: {said[:200]}{HINT_MARK}{REFUSAL_FIXES[kind]}"
        if kind in ("access_denied", "throttled"):
            return kind, detail
        if kind == "region":
            return "error", f"region not enabled or credentials rejected: {detail}"
        return "error", detail
    prefix = f"{operation}: " if operation else ""
    if isinstance(exc, ResponseParserError):
        return "error", f"{prefix}ResponseParserError: the answer could not be parsed (body not kept)"
    first_line = (str(exc).splitlines() or [""])[0]
    return "error", f"{prefix}{type(exc).__name__}: {first_line}"[:DETAIL_CHARS]


def attempt(target: ScanTarget, task: Callable[[], T], operation: str = "") -> ScanOutcome:
    """Run one call (or a few) of ``target``; an AWS or botocore failure becomes the outcome, not a raise."""
    try:
        return ScanOutcome(target, "ok", "", task())
    except TARGET_ERRORS as exc:
        status, detail = classify_error(exc, operation)
        LOGGER.warning("scan of %s in %s: %s (%s)", target.account_id, target.region, status, detail)
        return ScanOutcome(target, status, detail)


def accounts_first(targets: Sequence[ScanTarget]) -> list[int]:
    """Indexes of ``targets``: every account's first target, then every account's second, and so on."""
    visits: Counter[str] = Counter()
    rounds = []
    for target in targets:
        rounds.append(visits[target.account_id])
        visits[target.account_id] += 1
    return sorted(range(len(targets)), key=lambda i: (rounds[i], i))


_MEMBER_ACCOUNT: ContextVar[str | None] = ContextVar("finops_member_account", default=None)


class _MemberCredentials(Credentials):
    """Signs each request as the member account the calling thread acts for (see MemberClient)."""

    def __init__(self, lookup: Callable[[str], Credentials]) -> None:
        super().__init__(access_key="", secret_key="", method="finops-member-role")
        self._lookup = lookup

    def get_frozen_credentials(self) -> Any:
        account_id = _MEMBER_ACCOUNT.get()
        if account_id is None:
            raise AwsAccessError("a member-account client was called outside MemberClient")
        return self._lookup(account_id).get_frozen_credentials()


class _MemberPaginator:
    def __init__(self, paginator: Any, account_id: str) -> None:
        self._paginator, self._account_id = paginator, account_id

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        pages = iter(self._paginator.paginate(**kwargs))
        while True:
            token = _MEMBER_ACCOUNT.set(self._account_id)
            try:
                page = next(pages)
            except StopIteration:
                return
            finally:
                _MEMBER_ACCOUNT.reset(token)
            yield page


class MemberClient:
    """A shared per-region client bound to one member account for every call made through it."""

    def __init__(self, client: Any, account_id: str) -> None:
        self._client, self.account_id = client, account_id

    def get_paginator(self, operation: str) -> _MemberPaginator:
        return _MemberPaginator(self._client.get_paginator(operation), self.account_id)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in ("meta", "exceptions") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            token = _MEMBER_ACCOUNT.set(self.account_id)
            try:
                return attr(*args, **kwargs)
            finally:
                _MEMBER_ACCOUNT.reset(token)

        return call


def _read_billing_view(client: Any, arn: str) -> None:
    """Every request of ``client`` that takes ``BillingViewArn`` reads that billing view.

    A member account's Cost Explorer shows only its own costs; a billing view shared by the management
    account is how it sees more (caller_scope.py). Set once here, no call site can forget it.
    """

    def add(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.input_shape is not None and "BillingViewArn" in model.input_shape.members:
            params.setdefault("BillingViewArn", arn)

    client.meta.events.register("provide-client-params.*", add)


class AwsResource(dg.ConfigurableResource):
    """AWS access for every asset: lazy sessions and clients, never created at load time."""

    region: str = "us-east-1"
    role_arn: str | None = None
    member_role_name: str = "FinOpsMemberReadOnly"
    scan_regions: list[str] = Field(default_factory=lambda: ["us-east-1"])
    max_concurrency: int = 8
    single_account_mode: bool = False
    billing_view_arn: str | None = None
    max_attempts: int = 10
    session_name: str = "finops-pipeline"
    # The warehouse the run writes: the first AWS call of a run claims it for the run's target.
    warehouse_path: str | None = None
    lock_timeout_seconds: float = 30.0
    run_request_budget: int = 2000  # Cost Explorer requests per run (request_budget.py)

    _counter: ApiCallCounter = PrivateAttr(default_factory=ApiCallCounter)
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _key_locks: dict[Any, threading.Lock] = PrivateAttr(default_factory=dict)
    _base: boto3.Session | None = PrivateAttr(default=None)
    _member_creds: dict[str, Credentials] = PrivateAttr(default_factory=dict)
    _clients: dict[tuple[str, str, str], Any] = PrivateAttr(default_factory=dict)
    _caller_account: str | None = PrivateAttr(default=None)
    _run_memo: dict[Any, Any] = PrivateAttr(default_factory=dict)
    _run: Any = PrivateAttr(default=None)  # (instance, dagster run) while a run uses this resource
    _target: str | None = PrivateAttr(default=None)
    _budget: RequestBudget | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsResource:
        return cls(
            region=settings.aws_region,
            role_arn=settings.role_arn,
            member_role_name=settings.member_role_name,
            scan_regions=list(settings.scan_regions),
            max_concurrency=settings.max_concurrency,
            single_account_mode=settings.single_account_mode,
            billing_view_arn=settings.billing_view_arn,
            warehouse_path=str(settings.duckdb_path),
            lock_timeout_seconds=settings.duckdb_lock_timeout_seconds,
            run_request_budget=settings.run_request_budget,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Remember the run (not a sensor tick or a script) that uses the resource: its target is recorded."""
        if context.instance is not None and context.run is not None:
            self._run = (context.instance, context.run)

    @property
    def counter(self) -> ApiCallCounter:
        return self._counter

    @property
    def budget(self) -> RequestBudget:
        """This run's Cost Explorer request budget: every CE client charges it before each call."""
        with self._lock:
            if self._budget is None:
                self._budget = RequestBudget(self.run_request_budget)
            return self._budget

    def _attach(self, client: Any, service: str) -> None:
        """Count the client's calls, and charge the run's budget before each Cost Explorer call."""
        self._counter.attach(client, service)
        if service == "ce":
            budget = self.budget

            def charge(model: Any, **_: Any) -> None:
                budget.charge(model.name)  # returns None: a value here would replace the answer

            client.meta.events.register("before-call.ce", charge)

    def run_memo(self) -> dict[Any, Any]:
        """Answers the steps of one run share (this resource lives for one run), such as which regions an
        account has enabled: both scans need it, and asking AWS once is enough."""
        return self._run_memo

    def _config(self) -> Config:
        return Config(
            retries={"mode": "adaptive", "max_attempts": self.max_attempts},
            max_pool_connections=max(10, self.max_concurrency * 2),
            user_agent_extra="finops-pipeline",
        )

    def preflight(self) -> None:
        """Fail with the fix when no credentials can be found, or when the run's target is not the one
        whose data the warehouse holds, before anything is fetched."""
        self._base_session()
        if self._run is not None:
            self.run_target()

    def run_target(self) -> str:
        """The run's target (``lib/run_target.py``), once per run: tagged on the run, reported as an
        event with its metadata, and checked against (or claimed in) the warehouse."""
        with self._lock:
            if self._target is not None:
                return self._target
            endpoint = self.client("sts").meta.endpoint_url
            account = self.caller_account_id()
            target = target_name(endpoint, account)
            if self._run is not None:
                instance, run = self._run
                if self.warehouse_path:
                    conn = open_with_lock_timeout(self.warehouse_path, self.lock_timeout_seconds)
                    try:
                        ensure_schema(conn)
                        claim_warehouse(
                            conn, self.warehouse_path, target, endpoint, account, run.run_id, utc_now()
                        )
                    finally:
                        conn.close()
                instance.add_run_tags(run.run_id, {TARGET_TAG: target})
                instance.report_engine_event(
                    f"Run target: {target}",
                    run,
                    EngineEventData(metadata={"target": target, "endpoint": endpoint, "account_id": account}),
                )
            self._target = target
            return target

    def _base_session(self) -> boto3.Session:
        with self._lock:
            if self._base is not None:
                return self._base
            plain = boto3.Session(region_name=self.region)
            plain._session.register_component("data_loader", _shared_loader())
            plain._session.register_component("response_parser_factory", CostPageParserFactory())
            try:
                has_credentials = plain.get_credentials() is not None
            except BotoCoreError as exc:
                raise AwsAccessError(f"AWS credentials could not be loaded: {exc}") from exc
            if not has_credentials:
                what = (
                    "AWS_ROLE_ARN is set but there are no base credentials to assume it with"
                    if (self.role_arn)
                    else "No AWS credentials were found"
                )
                raise AwsAccessError(
                    f"{what}. Fix: configure a profile (AWS_PROFILE), SSO (aws sso login), static keys "
                    "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) or an instance/task role; for the local "
                    "sandbox, source .sandbox/sandbox.env."
                )
            if self.role_arn:
                sts = plain.client("sts", region_name=self.region, config=self._config())
                self._counter.attach(sts, "sts")
                self._base = self._assumed(plain, sts, self.role_arn)
            else:
                self._base = plain
            return self._base

    def _key_lock(self, key: Any) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def _role_credentials(self, sts: Any, role_arn: str) -> RefreshableCredentials:
        """Credentials that re-assume the role before they expire."""

        def refresh() -> dict[str, str]:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=self.session_name)["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        return RefreshableCredentials.create_from_metadata(
            metadata=refresh(), refresh_using=refresh, method="sts-assume-role"
        )

    def _assumed(self, source: boto3.Session, sts: Any, role_arn: str) -> boto3.Session:
        """A session signing as the role, sharing the source session's model loader."""
        return self._session_with(source, self._role_credentials(sts, role_arn))

    def _session_with(self, source: boto3.Session, credentials: Credentials) -> boto3.Session:
        botocore_session = get_session()
        botocore_session.register_component("data_loader", source._session.get_component("data_loader"))
        factory = source._session.get_component("response_parser_factory")
        botocore_session.register_component("response_parser_factory", factory)
        botocore_session._credentials = credentials
        return boto3.Session(botocore_session=botocore_session, region_name=self.region)

    def caller_account_id(self) -> str:
        with self._lock:
            if self._caller_account is None:
                self._caller_account = self.client("sts").get_caller_identity()["Account"]
            return self._caller_account

    def _member_credentials(self, account_id: str) -> Credentials:
        """The member role's credentials in ``account_id``: one AssumeRole per account, in parallel."""
        with self._key_lock(("member", account_id)):
            if account_id not in self._member_creds:
                role = f"arn:aws:iam::{account_id}:role/{self.member_role_name}"
                self._member_creds[account_id] = self._role_credentials(self.client("sts"), role)
            return self._member_creds[account_id]

    def _member_client(self, service: str, region: str) -> Any:
        """One client per service and region for every member account.

        Building a botocore client costs ~25 ms of CPU; one per account x region made a 600-target
        scan CPU-bound. Each call signs with the account the caller acts for (``MemberClient``).
        """
        key = ("member", service, region)
        with self._key_lock(key):
            if key not in self._clients:
                session = self._session_with(
                    self._base_session(), _MemberCredentials(self._member_credentials)
                )
                client = session.client(service, region_name=region, config=self._config())
                self._attach(client, service)
                self._clients[key] = client
            return self._clients[key]

    def client(self, service: str, *, region: str | None = None, account_id: str | None = None) -> Any:
        """A cached, counted client; ``account_id`` other than the caller's assumes the member role."""
        region = region or ("us-east-1" if service == "ce" else self.region)
        if account_id is not None and account_id != self.caller_account_id():
            self._member_credentials(account_id)  # assume the role now: a denial surfaces here
            return MemberClient(self._member_client(service, region), account_id)
        key = ("", service, region)
        with self._key_lock(key):
            if key not in self._clients:
                client = self._base_session().client(service, region_name=region, config=self._config())
                self._attach(client, service)
                if service == "ce" and self.billing_view_arn:
                    _read_billing_view(client, self.billing_view_arn)
                self._clients[key] = client
            return self._clients[key]

    def fan_out(
        self,
        targets: Sequence[ScanTarget],
        task: Callable[[ScanTarget], T],
    ) -> list[ScanOutcome]:
        """Run ``task`` per account × region with bounded concurrency; failures become outcomes.

        Outcomes come back in ``targets`` order, but each account's first target runs before any
        account's second: a worker given another region of an account whose role is still being
        assumed would only wait for that AssumeRole, idling one of ``max_concurrency`` slots.
        """

        def run(target: ScanTarget) -> ScanOutcome:
            return attempt(target, lambda: task(target))

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="aws-scan") as pool:
            order = accounts_first(targets)
            outcomes = dict(zip(order, pool.map(run, [targets[i] for i in order]), strict=True))
        return [outcomes[i] for i in range(len(targets))]

    @contextmanager
    def tracked(self) -> Iterator[list[CallCount]]:
        """Collect the calls made inside the block (the list is filled when the block ends).

        The block starts with the credential preflight, so a missing credential fails before any
        call, and a central-role AssumeRole is counted against the asset that caused it.
        """
        counts: list[CallCount] = []
        before = self._counter.snapshot()
        try:
            self.preflight()
            yield counts
        finally:
            counts.extend(ApiCallCounter.delta(before, self._counter.snapshot()))


def call_metadata(counts: Sequence[CallCount]) -> dict[str, Any]:
    """Numbers the UI plots over time: requests and their price, plus a per-operation table."""
    ce_pages = sum(c.pages for c in counts if c.service == "ce")
    rows = "\n".join(f"| {c.service} | {c.operation} | {c.calls} | {c.pages} |" for c in counts)
    return {
        "aws_requests": sum(c.calls for c in counts),
        "ce_requests": ce_pages,
        "ce_cost_usd": round(ce_pages * CE_PRICE_PER_REQUEST_USD, 2),
        "api_calls": dg.MetadataValue.md(
            "| service | operation | requests | pages |\n|---|---|---|---|\n" + rows if rows else "none"
        ),
    }
