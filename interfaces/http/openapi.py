"""The OpenAPI 3.1 document, generated with apispec from the schemas that validate requests.

Every route of the application must have an entry in ``OPERATIONS``; the tests
fail for one that has not, so the document cannot silently fall behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from interfaces.http import responses as out
from interfaces.http import schemas as inp

VERSION = "0.1.0"
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "X-Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "description": "Repeat a request safely: the same key and body replay the first answer.",
}


@dataclass(frozen=True)
class Operation:
    """How one route is documented."""

    summary: str
    tag: str
    ok: tuple[int, type[Schema] | None]
    body: type[Schema] | None = None
    auth: bool = False
    errors: tuple[int, ...] = ()
    same_shape: tuple[int, ...] = ()  # other statuses answered in the success shape
    parameters: tuple[dict[str, Any], ...] = ()
    enveloped: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/"): Operation("Service name and version", "Operations", (200, out.ServiceOut)),
    ("GET", "/health"): Operation(
        "Health of the service and its stores",
        "Operations",
        (200, out.HealthOut),
        same_shape=(503,),
        enveloped=False,
    ),
    ("GET", "/api-docs.json"): Operation(
        "This OpenAPI 3.1 document", "Operations", (200, None), enveloped=False
    ),
    ("POST", "/auth/register"): Operation(
        "Register a user, open their INR wallet and handle",
        "Auth",
        (201, out.AuthOut),
        body=inp.RegisterSchema,
        errors=(400, 409, 413, 415),
    ),
    ("POST", "/auth/login"): Operation(
        "Sign in with email and password",
        "Auth",
        (200, out.AuthOut),
        body=inp.LoginSchema,
        errors=(400, 401, 403, 413, 415),
    ),
    ("GET", "/wallets/me"): Operation(
        "Your wallet", "Wallets", (200, out.WalletData), auth=True, errors=(401,)
    ),
    ("POST", "/wallets/me/deposit"): Operation(
        "Deposit money into your wallet",
        "Wallets",
        (200, out.DepositOut),
        body=inp.DepositSchema,
        auth=True,
        errors=(400, 401, 409, 413, 415),
        parameters=(IDEMPOTENCY_HEADER,),
    ),
    ("POST", "/transactions"): Operation(
        "Send money to another user (by userId or vpa)",
        "Transactions",
        (201, out.TransactionData),
        body=inp.TransferSchema,
        auth=True,
        errors=(400, 401, 404, 409, 413, 415),
        parameters=(IDEMPOTENCY_HEADER,),
    ),
    ("GET", "/transactions/{id}"): Operation(
        "One of your transactions",
        "Transactions",
        (200, out.TransactionData),
        auth=True,
        errors=(401, 403, 404),
        parameters=({"in": "path", "name": "id", "required": True, "schema": {"type": "string"}},),
    ),
}


def routes_of(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the application serves, HEAD aside."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method not in ("HEAD", "*"):
            found.append((route.method, path))
    return found


def build_spec(app: web.Application) -> dict[str, Any]:
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="PayFlow",
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[marshmallow],
        info={"description": "Event-sourced UPI-like wallets and transfers."},
    )
    marshmallow.map_to_openapi_type(inp.Amount, "number", None)
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("ErrorEnvelope", schema=out.ErrorEnvelope)
    for method, path in routes_of(app):
        operation = OPERATIONS.get((method, path))
        if operation is not None:
            spec.path(path=path, operations={method.lower(): _describe(operation)})
    return spec.to_dict()


def _describe(operation: Operation) -> dict[str, Any]:
    status, data = operation.ok
    schema = out.envelope(data) if operation.enveloped and data else data
    content = {"application/json": {"schema": schema}} if schema else {}
    described: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {str(status): {"description": "Success", "content": content}},
        "parameters": list(operation.parameters),
    }
    for other in operation.same_shape:
        described["responses"][str(other)] = {"description": "Unavailable", "content": content}
    for error_status in operation.errors:
        described["responses"][str(error_status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": "ErrorEnvelope"}},
        }
    if operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": operation.body}},
        }
    if operation.auth:
        described["security"] = [{"bearer": []}]
    return described
