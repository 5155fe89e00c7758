"""The local AWS sandbox: one loopback endpoint serving a synthetic organisation.

``AWS_ENDPOINT_URL`` plus dummy keys is all a boto3 client needs: Cost Explorer calls (``X-Amz-Target:
AWSInsightsIndexService.*``) go to this project's emulator, everything else to moto running in-process
(as moto's ``ThreadedMotoServer`` does), in front of both a fault injector.

moto keeps its state in process-global backends, so a process holds ONE seeded sandbox at a time:
``start()`` resets moto, ``stop()`` leaves it for the next ``start()`` to reset. Tests share one sandbox per
session and start other worlds in subprocesses (``finops sandbox --background``); ``Sandbox.view(faults)``
serves the same seeded state on a second port with other faults, which is cheap and needs no reseeding.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from werkzeug.serving import ThreadedWSGIServer

from finops_sandbox import commitment_api, iam_enforcement, lambda_api, moto_seed
from finops_sandbox.caller_scope import (
    COST_VIEW_KEY,
    MEMBER_ORGANIZATIONS_OPERATIONS,
    ORGANIZATIONS_DENIED,
    CostView,
    OrgAccess,
    budgets_account_refusal,
)
from finops_sandbox.cost_explorer.common import DEFAULT_PAGE_SIZE
from finops_sandbox.faults import (
    CallInfo,
    FaultInjector,
    Faults,
    WSGIApp,
    account_of,
    call_info,
    error_response,
    read_body,
)

if TYPE_CHECKING:
    from finops_sandbox.world import World, WorldConfig

HEALTH_PATH = "/sandbox/health"
CE_TARGET_PREFIX = "AWSInsightsIndexService."
DUMMY_KEY = "testing"
DEFAULT_REGION = "us-east-1"
ACCESS_KEY = "finops.sandbox.org_access"  # WSGI environ key: the serving endpoint's OrgAccess


class SandboxError(RuntimeError):
    """The sandbox cannot start or serve as asked."""


def _exempt(path: str) -> bool:
    """Sandbox and moto control routes are never faulted: tests and tooling read them."""
    return path.startswith(("/sandbox/", "/moto-api"))


def _cost_explorer_app(world: World, page_size: int) -> WSGIApp:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

    return CostExplorerEmulator(world, page_size=page_size).wsgi_app


class Router:
    """Cost Explorer to the emulator, the rest to moto; plus AWS rules moto lacks.

    The rules: ``sts:AssumeRole`` into a SUSPENDED (closed) account is refused with AccessDenied, as in
    AWS, so a scan must skip closed accounts rather than read them; and each caller sees the bill, the
    budgets and the organisation its account may see (``caller_scope``), by the view's ``OrgAccess``.
    """

    # JSON list operations whose page the sandbox caps at its page size: AWS returns fewer items than
    # MaxResults whenever it likes ("a page can be empty while NextToken is set", Organizations
    # ListAccounts; Tagging GetResources pages 1-100), so a client must loop on the token. Small pages in
    # tests make a client without the loop lose items. (signing name, operation) -> (field, AWS's page)
    CAPPED_PAGES: ClassVar[dict[tuple[str, str], tuple[str, int]]] = {
        ("organizations", "ListAccounts"): ("MaxResults", 20),
        ("organizations", "ListAccountsForParent"): ("MaxResults", 20),
        ("tagging", "GetResources"): ("ResourcesPerPage", 100),
    }

    def __init__(self, world: World, ce_app: WSGIApp, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.page_size = page_size
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.ce_app = ce_app  # thread-safe: the emulator locks its DuckDB connection itself
        accounts = world.accounts.select(["account_id", "status"]).to_pylist()
        self.suspended = {row["account_id"] for row in accounts if row["status"] == "SUSPENDED"}
        self.management = world.management_account_id
        self.inventory = commitment_api.CommitmentInventory(world)
        self.provisioned_concurrency = lambda_api.ProvisionedConcurrency(world)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if iam_enforcement.active() and not _exempt(environ.get("PATH_INFO", "")):
            # POST /moto-api/reset-auth switched IAM enforcement on: Cost Explorer is checked too.
            return iam_enforcement.enforce(environ, start_response, self._route)
        return self._route(environ, start_response)

    def _route(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _exempt(environ.get("PATH_INFO", "")):
            return self.moto(environ, start_response)
        access: OrgAccess = environ.get(ACCESS_KEY) or OrgAccess()
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(CE_TARGET_PREFIX):
            caller = account_of(call_info(environ).access_key) or self.management
            role = access.role(self.management, caller)
            environ[COST_VIEW_KEY] = CostView(caller, self.management, role, access)
            return self.ce_app(environ, start_response)
        info = call_info(environ)
        if self.suspended and info.service == "sts" and info.operation == "AssumeRole":
            account = info.form.get("RoleArn", "").split(":")[4:5]
            if account and account[0] in self.suspended:
                message = (
                    f"Account of {info.form['RoleArn']} is suspended (closed): "
                    "sts:AssumeRole into it is not authorized"
                )
                return self._refuse(info, environ, start_response, 403, "AccessDenied", message)
        if commitment_api.serves(info):  # inventories moto 5 lacks (commitment_api.py)
            return self.inventory(info, environ, start_response, self.management)
        if lambda_api.serves(info):  # ListProvisionedConcurrencyConfigs, which moto 5 lacks (lambda_api.py)
            return self.provisioned_concurrency(info, environ, start_response, self.management)
        if info.service in ("organizations", "budgets"):
            refusal = self._scope_refusal(info, environ, access)
            if refusal is not None:
                return self._refuse(info, environ, start_response, 400, "AccessDeniedException", refusal)
        self._cap_page(info, environ)
        return self.moto(environ, start_response)

    def _cap_page(self, info: CallInfo, environ: dict[str, Any]) -> None:
        """Ask moto for at most `page_size` items of a capped list operation (see CAPPED_PAGES)."""
        capped = self.CAPPED_PAGES.get((info.service or "", info.operation or ""))
        if capped is None or self.page_size >= capped[1]:
            return
        field, aws_page = capped
        try:
            body = json.loads(read_body(environ) or b"{}")
        except ValueError:
            return  # moto answers the malformed body
        wanted = body.get(field) if isinstance(body.get(field), int) else aws_page
        body[field] = min(wanted, self.page_size)
        payload = json.dumps(body).encode()
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(payload), str(len(payload))

    def _scope_refusal(self, info: CallInfo, environ: dict[str, Any], access: OrgAccess) -> str | None:
        """Organizations and Budgets as the caller's account may use them (see ``caller_scope``)."""
        caller = account_of(info.access_key)
        if caller is None or caller == self.management:
            return None
        if info.service == "budgets":
            return budgets_account_refusal(caller, read_body(environ))
        if info.operation in MEMBER_ORGANIZATIONS_OPERATIONS:
            return None
        if caller in access.delegated_admins:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.management  # moto: answer from the management backend
            return None
        return ORGANIZATIONS_DENIED

    @staticmethod
    def _refuse(
        info: CallInfo,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        code: int,
        error: str,
        message: str,
    ) -> Iterable[bytes]:
        status, headers, body = error_response(info, environ, code, error, message)
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]


class _SeededWorld:
    """The world as the emulator sees it while moto is being seeded: ``resources`` waits for the ids."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._settled = threading.Event()

    def settle(self, world: World) -> None:
        """Publish the seeded world (or, if seeding failed, release waiters with the unseeded one)."""
        self._world = world
        self._settled.set()

    def __getattr__(self, name: str) -> Any:
        if name in ("resources", "with_resource_ids"):
            self._settled.wait()
        return getattr(self._world, name)


class _Loader:
    """Runs `build` in a thread; ``result()`` joins it and re-raises its error here."""

    def __init__(self, build: Callable[[], WSGIApp]) -> None:
        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, args=(build,), name="sandbox-ce-load", daemon=True)
        self._thread.start()

    def _run(self, build: Callable[[], WSGIApp]) -> None:
        try:
            self._outcome["app"] = build()
        except BaseException as exc:
            self._outcome["error"] = exc

    def result(self) -> WSGIApp:
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["app"]


class SandboxApp:
    """Health endpoint, then the fault injector, then the router."""

    def __init__(
        self,
        router: Router,
        faults: Faults,
        health: Callable[[], dict[str, Any]],
        access: OrgAccess | None = None,
    ) -> None:
        self.injector = FaultInjector(router, faults, _exempt)
        self.health = health
        self.access = access or OrgAccess()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[ACCESS_KEY] = self.access
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body = json.dumps(self.health(), default=str).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return self.injector(environ, start_response)


def _handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.exceptions import ClientDisconnected, InternalServerError
    from werkzeug.wsgi import LimitedStream

    class KeepAliveHandler(MotoRequestHandler):
        """moto's handler answering many requests per connection, without a log line per request.

        werkzeug's own ``run_wsgi`` ends every answer with ``Connection: close`` (it cannot tell where a
        request body ends), so every AWS call paid a TCP connect, an accept and a thread start. Here the
        answer is buffered and framed by Content-Length, and whatever the app left of the request body is
        read off, so the next request starts where this one ended. Chunked request bodies still take
        werkzeug's path, which closes.
        """

        # The head and the body are two writes: with Nagle the body would wait for the client's
        # delayed ACK (40 ms) on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass  # a scan makes thousands

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length", "0")
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit():
                super().run_wsgi()
                return
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            environ = self.make_environ()
            body = LimitedStream(self.rfile, int(length))
            environ["wsgi.input"] = body
            status, headers, payload = self._answer(environ)
            try:
                body.exhaust()  # the next request starts after this one's body
            except ClientDisconnected:
                self.close_connection = True  # the client left mid-body: nobody to answer
                return
            self._send(status, headers, payload)

        def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
            answer: list[Any] = []
            chunks: list[bytes] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                answer[:] = [status, headers]
                return chunks.append

            try:
                iterable = self.server.app(environ, start_response)
                try:
                    chunks.extend(iterable)
                finally:
                    if hasattr(iterable, "close"):
                        iterable.close()
            except Exception:
                self.server.log("error", "Error on request:\n%s", traceback.format_exc())
                self.close_connection = True
                chunks[:] = InternalServerError()(environ, start_response)
            return answer[0], answer[1], b"".join(chunks)

        def _send(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            for key, value in headers:
                self.send_header(key, value)  # "Connection: close" from the app sets close_connection
            names = {key.lower() for key, _ in headers}
            has_body = self.command != "HEAD" and int(code) >= 200 and int(code) not in (204, 304)
            if "content-length" not in names and has_body:
                self.send_header("Content-Length", str(len(payload)))
            if self.close_connection and "connection" not in names:
                self.send_header("Connection", "close")
            self.end_headers()
            if has_body:
                self.wfile.write(payload)

    return KeepAliveHandler


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, remembering its open connections so that stopping it closes idle ones."""

    def __init__(self, host: str, port: int, app: WSGIApp) -> None:
        super().__init__(host, port, app, handler=_handler())
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection: a client must not be answered by a stopped endpoint."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Endpoint:
    """A threaded werkzeug server on a loopback port, in a daemon thread."""

    def __init__(self, app: WSGIApp, host: str, port: int) -> None:
        try:
            self.server = _Server(host, port, app)
        except OSError as exc:
            raise SandboxError(
                f"cannot listen on {host}:{port} ({exc}); choose another --port or 0 for a free one"
            ) from exc
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox {self.url}",
            daemon=True,
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join()


def client_env(url: str) -> dict[str, str]:
    """Exactly what a boto3 client needs to talk to the sandbox at `url` as the management account."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "AWS_REGION": DEFAULT_REGION,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }


_active_lock = threading.Lock()
_active: Sandbox | None = None


class Sandbox:
    """A world generated, seeded into moto and served on one loopback endpoint.

    >>> with Sandbox(WorldConfig(accounts=12)) as sandbox:
    ...     boto3.client("organizations", **...)  # or os.environ.update(sandbox.env())

    One per process (moto is process-global); see the module docstring.
    """

    def __init__(
        self,
        config: WorldConfig,
        faults: Faults | None = None,
        port: int = 0,
        ce_page_size: int = DEFAULT_PAGE_SIZE,
        *,
        host: str = "127.0.0.1",
        world: World | None = None,
        access: OrgAccess | None = None,
    ) -> None:
        self.config = config
        self.faults = faults or Faults()
        self.access = access or OrgAccess()
        self.port, self.ce_page_size, self.host = port, ce_page_size, host
        self._world = world
        self._endpoint: _Endpoint | None = None
        self._app: SandboxApp | None = None
        self._router: Router | None = None
        self._views: list[SandboxView] = []
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> Sandbox:
        global _active
        with _active_lock:
            if _active is not None:
                raise SandboxError(
                    f"a sandbox is already running in this process at {_active.url}: moto's state is "
                    "process-global, so stop it first or start this one in a subprocess "
                    "(finops sandbox --background)"
                )
            _active = self
        try:
            self._start()
        except BaseException:
            with _active_lock:
                _active = None
            raise
        return self

    def _start(self) -> None:
        started = time.perf_counter()
        moto_seed.import_moto()
        imported = time.perf_counter()
        if self._world is None:
            from finops_sandbox.world import build_world

            self._world = build_world(self.config)
        built = time.perf_counter()
        moto_seed.reset_moto()
        moto_seed.install_moto_fixes()
        # The emulator's DuckDB load runs in C++ without the GIL while seeding is pure Python, so the two
        # overlap; the emulator only waits for the resource ids (its last table) to come out of seeding.
        pending = _SeededWorld(self._world)
        loader = _Loader(lambda: _cost_explorer_app(pending, self.ce_page_size))
        try:
            self._world = moto_seed.seed_moto(self._world)
        finally:
            pending.settle(self._world)
        seeded = time.perf_counter()
        ce_app = loader.result()
        self._router = Router(self._world, ce_app, self.ce_page_size)
        self._app = SandboxApp(self._router, self.faults, self.health, self.access)
        self._endpoint = _Endpoint(self._app, self.host, self.port)
        served = time.perf_counter()
        self.timings = {
            "imports_s": round(imported - started, 3),
            "world_s": round(built - imported, 3),
            "seed_s": round(seeded - built, 3),
            "serve_s": round(served - seeded, 3),
            "total_s": round(served - started, 3),
        }

    def stop(self) -> None:
        global _active
        for view in self._views:
            view.stop()
        self._views.clear()
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None
            moto_seed.remove_moto_fixes()
        with _active_lock:
            if _active is self:
                _active = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------- accessors

    @property
    def url(self) -> str:
        if self._endpoint is None:
            raise SandboxError("the sandbox is not running: call start() first")
        return self._endpoint.url

    @property
    def world(self) -> World:
        """The served world, with moto's resource ids and ARNs."""
        if self._world is None or self._endpoint is None:
            raise SandboxError("the sandbox is not running: call start() first")
        return self._world

    def env(self) -> dict[str, str]:
        return client_env(self.url)

    @property
    def stats(self) -> dict[str, int]:
        """Fault-injector counters: requests, throttled, access_denied, region_disabled, latency_ms."""
        return self._app.injector.stats.snapshot() if self._app else {}

    def health(self) -> dict[str, Any]:
        world = self._world
        assert world is not None
        config = world.config
        return {
            "status": "ok",
            "url": self._endpoint.url if self._endpoint else None,
            "pid": os.getpid(),
            "as_of": config.as_of.isoformat(),
            "config": {
                "accounts": config.accounts,
                "as_of": config.as_of.isoformat(),
                "history_months": config.history_months,
                "regions": list(config.regions),
                "seed": config.seed,
                "resources_per_account_region": config.resources_per_account_region,
                "inactive_tag_keys": list(config.inactive_tag_keys),
                "tag_activation_dates": {key: day.isoformat() for key, day in config.tag_activation_dates},
            },
            "management_account_id": world.management_account_id,
            "accounts": world.accounts.column("account_id").to_pylist(),
            "resources": moto_seed.resource_counts(world),
            "faults": self.faults.to_dict(),
            "org_access": self.access.to_dict(),
            "stats": self.stats,
            "timings": self.timings,
            "ce_page_size": self.ce_page_size,
        }

    def view(self, faults: Faults, port: int = 0, access: OrgAccess | None = None) -> SandboxView:
        """Serve this sandbox's seeded state on another port with other faults or other member access
        (stopped with the sandbox)."""
        if self._router is None:
            raise SandboxError("the sandbox is not running: call start() first")
        view = SandboxView(self, faults, port, access)
        self._views.append(view)
        return view


class SandboxView:
    """A second endpoint over a running sandbox's state, with its own faults and counters."""

    def __init__(self, sandbox: Sandbox, faults: Faults, port: int, access: OrgAccess | None = None) -> None:
        assert sandbox._router is not None
        self.sandbox, self.faults = sandbox, faults
        self.access = access or OrgAccess()
        self._app = SandboxApp(sandbox._router, faults, self.health, self.access)
        self._endpoint: _Endpoint | None = _Endpoint(self._app, sandbox.host, port)
        self.url = self._endpoint.url

    def health(self) -> dict[str, Any]:
        return {
            **self.sandbox.health(),
            "url": self.url,
            "faults": self.faults.to_dict(),
            "org_access": self.access.to_dict(),
            "stats": self.stats,
        }

    @property
    def world(self) -> World:
        return self.sandbox.world

    @property
    def stats(self) -> dict[str, int]:
        return self._app.injector.stats.snapshot()

    def env(self) -> dict[str, str]:
        return client_env(self.url)

    def stop(self) -> None:
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None

    def __enter__(self) -> SandboxView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
