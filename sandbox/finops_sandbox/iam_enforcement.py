"""IAM enforcement in the sandbox, for tests that prove the policies in ``iam/`` against the code.

moto enforces IAM once ``POST /moto-api/reset-auth`` (body: the number of requests still let through, e.g.
``0``) is called; ``inf`` switches it off again. Two gaps are filled here while it is on:

- Cost Explorer is served by this project's emulator, which moto never sees: its calls are checked against
  the caller's IAM policies with moto's own evaluator (``ce:<Operation>``), as AWS does.
- moto answers AccessDenied of JSON-protocol services (Organizations, Tagging, Budgets, Support, and Lambda's
  REST-JSON) in XML, which botocore cannot parse into an error code; those answers are rewritten to the
  JSON AWS sends.

Only the sandbox imports this module. moto's state (and so enforcement) is process-global.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from finops_sandbox import commitment_api, lambda_api
from finops_sandbox.faults import call_info, error_response, read_body

CE_TARGET_PREFIX = "AWSInsightsIndexService."
_XML_CODE_START, _XML_CODE_END = b"<Code>", b"</Code>"
_XML_MESSAGE_START, _XML_MESSAGE_END = b"<Message>", b"</Message>"


def active() -> bool:
    """Whether moto enforces IAM right now (``/moto-api/reset-auth`` was given a finite count, used up)."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def authorize_sandbox_served(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(error code, message) when the caller's policies do not allow this call, else None: for what the
    sandbox answers itself (Cost Explorer, ``commitment_api``), moto never sees the request."""
    from moto.iam.access_control import IAMRequest
    from moto.iam.models import get_account_id_from

    headers = _headers(environ)
    info = call_info(environ)
    if "Authorization" not in headers or info.access_key is None:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    body = read_body(environ)
    try:
        request = IAMRequest(
            account_id=get_account_id_from(info.access_key),
            method=environ.get("REQUEST_METHOD", "POST"),
            path=environ.get("PATH_INFO", "/"),
            data={},
            body=body,
            headers=headers,
            action=info.operation or "",
        )
        request.check_action_permitted("*")
    except Exception as exc:  # moto raises its REST errors (AccessDenied, InvalidClientTokenId)
        code = getattr(exc, "error_type", None)
        if code is None:
            raise
        if code == "AccessDenied":  # each service's own denial code
            code = {"ec2": "UnauthorizedOperation", "rds": "AccessDenied"}.get(
                info.service or "", "AccessDeniedException"
            )
        return code, getattr(exc, "message", str(exc))
    return None


def _xml_field(body: bytes, start: bytes, end: bytes) -> str:
    _, found, tail = body.partition(start)
    return tail.partition(end)[0].decode("utf-8", "replace") if found else ""


def enforce(
    environ: dict[str, Any], start_response: Callable[..., Any], app: Callable[..., Iterable[bytes]]
) -> Iterable[bytes]:
    """Serve one request while enforcement is on: CE authorised here, moto's XML denials made JSON."""
    rest_json = call_info(environ).service == "lambda"  # REST-JSON: JSON errors without X-Amz-Target
    is_json = bool(environ.get("HTTP_X_AMZ_TARGET")) or rest_json
    # Cost Explorer and the inventories the sandbox serves itself (commitment_api) are authorised here.
    info = call_info(environ)
    own = commitment_api.serves(info) or lambda_api.serves(info)
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith(CE_TARGET_PREFIX) or own:
        refusal = authorize_sandbox_served(environ)
        if refusal is not None:
            status = 400 if refusal[0] == "AccessDeniedException" else 403
            line, headers, body = error_response(call_info(environ), environ, status, *refusal)
            start_response(line, [*headers, ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)
    if not is_json:
        return app(environ, start_response)
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    answer = app(environ, capture)
    try:
        body = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    status = captured["status"]
    if status.startswith(("401", "403")) and body.lstrip().startswith(b"<") and _XML_CODE_START in body:
        code = _xml_field(body, _XML_CODE_START, _XML_CODE_END)
        message = _xml_field(body, _XML_MESSAGE_START, _XML_MESSAGE_END)
        code = "AccessDeniedException" if code == "AccessDenied" else code
        # Lambda answers AccessDeniedException with 403, the JSON-protocol services with 400.
        status, headers, body = error_response(
            call_info(environ), environ, 403 if rest_json else 400, code, message
        )
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]
    start_response(status, captured["headers"])
    return [body]
