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
from interfaces.http.ratelimit import is_exempt

VERSION = "0.1.0"
IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "X-Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "description": "Repeat a request safely: the same key and body replay the first answer.",
}

PREFER_HEADER = {
    "in": "header",
    "name": "Prefer",
    "required": False,
    "schema": {"type": "string", "examples": ["wait=5"]},
    "description": "wait=N (seconds, at most 10): answer once the transfer has finished.",
}

WEBHOOK_ID = {"in": "path", "name": "id", "required": True, "schema": {"type": "string"}}
DELIVERY_ID = {"in": "path", "name": "deliveryId", "required": True, "schema": {"type": "string"}}


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
    media_type: str = "application/json"  # of the success answer; others have no schema
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
    ("GET", "/health/live"): Operation(
        "Liveness: the process answers", "Operations", (200, None), enveloped=False
    ),
    ("GET", "/health/ready"): Operation(
        "Readiness: 200 only when the event store (and Redis, if configured) answer",
        "Operations",
        (200, None),
        same_shape=(503,),
        enveloped=False,
    ),
    ("GET", "/metrics"): Operation(
        "Prometheus metrics (text format)",
        "Operations",
        (200, None),
        enveloped=False,
        media_type="text/plain",
    ),
    ("GET", "/api-docs.json"): Operation(
        "This OpenAPI 3.1 document", "Operations", (200, None), enveloped=False
    ),
    ("GET", "/api-docs"): Operation(
        "Interactive API reference (HTML)",
        "Operations",
        (200, None),
        enveloped=False,
        media_type="text/html",
    ),
    ("GET", "/docs"): Operation(
        "Interactive API reference (HTML), as at /api-docs",
        "Operations",
        (200, None),
        enveloped=False,
        media_type="text/html",
    ),
    ("GET", "/api-docs/assets/standalone.js"): Operation(
        "Script of the API reference page (Scalar, vendored)",
        "Operations",
        (200, None),
        enveloped=False,
        media_type="text/javascript",
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
    ("POST", "/auth/refresh"): Operation(
        "Spend a refresh token for a new pair; reusing a spent one revokes its family",
        "Auth",
        (200, out.TokensData),
        body=inp.RefreshSchema,
        errors=(400, 401, 403, 413, 415),
    ),
    ("POST", "/auth/logout"): Operation(
        "Revoke the refresh token's family",
        "Auth",
        (200, out.MessageOut),
        body=inp.RefreshSchema,
        errors=(400, 401, 413, 415),
    ),
    ("GET", "/auth/me"): Operation(
        "The signed-in user", "Auth", (200, out.UserData), auth=True, errors=(401,)
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
        parameters=(IDEMPOTENCY_HEADER, PREFER_HEADER),
    ),
    ("GET", "/transactions"): Operation(
        "Your transactions, newest first, with filters and pagination",
        "Transactions",
        (200, out.TransactionListOut),
        auth=True,
        errors=(400, 401),
        parameters=({"in": "query", "schema": inp.TransactionQuerySchema},),
    ),
    ("GET", "/wallets/me/history"): Operation(
        "Your wallet's movements, newest first",
        "Wallets",
        (200, out.HistoryOut),
        auth=True,
        errors=(400, 401),
        parameters=({"in": "query", "schema": inp.HistoryQuerySchema},),
    ),
    ("GET", "/wallets/me/balance"): Operation(
        "Your balance now, or at an instant (asOf), rebuilt from the events",
        "Wallets",
        (200, out.BalanceAsOfOut),
        auth=True,
        errors=(400, 401, 404),
        parameters=({"in": "query", "schema": inp.BalanceQuerySchema},),
    ),
    ("GET", "/wallets/{id}/balance"): Operation(
        "The balance of one of your wallets",
        "Wallets",
        (200, out.BalanceOut),
        auth=True,
        errors=(400, 401, 403, 404),
        parameters=(
            {"in": "path", "name": "id", "required": True, "schema": {"type": "string"}},
            {"in": "query", "schema": inp.ReadQuerySchema},
        ),
    ),
    ("GET", "/ledger/simulation"): Operation(
        "Credit-failure injection settings (never in production mode; 404 when switched off)",
        "Fault injection",
        (200, out.SimulationOut),
        auth=True,
        errors=(401, 404),
    ),
    ("POST", "/ledger/simulation"): Operation(
        "Make the saga's credit step fail at a rate or for given transfers",
        "Fault injection",
        (200, out.SimulationOut),
        body=inp.SimulationSchema,
        auth=True,
        errors=(400, 401, 404, 413, 415),
    ),
    ("POST", "/ledger/simulation/reset"): Operation(
        "Switch failure injection off",
        "Fault injection",
        (200, out.SimulationOut),
        auth=True,
        errors=(401, 404),
    ),
    ("GET", "/transactions/{id}"): Operation(
        "One of your transactions",
        "Transactions",
        (200, out.TransactionData),
        auth=True,
        errors=(401, 403, 404),
        parameters=({"in": "path", "name": "id", "required": True, "schema": {"type": "string"}},),
    ),
    ("POST", "/webhooks"): Operation(
        "Subscribe an endpoint to events of your transfers; the answer shows its secret, once",
        "Webhooks",
        (201, out.NewWebhookData),
        body=inp.WebhookSchema,
        auth=True,
        errors=(400, 401, 409, 413, 415),
    ),
    ("GET", "/webhooks"): Operation(
        "Your webhook endpoints, newest first",
        "Webhooks",
        (200, out.WebhookListOut),
        auth=True,
        errors=(401,),
    ),
    ("GET", "/webhooks/{id}"): Operation(
        "One of your webhook endpoints",
        "Webhooks",
        (200, out.WebhookData),
        auth=True,
        errors=(401, 404),
        parameters=(WEBHOOK_ID,),
    ),
    ("PATCH", "/webhooks/{id}"): Operation(
        "Change an endpoint's URL or events, pause it, or enable it again (isActive)",
        "Webhooks",
        (200, out.WebhookData),
        body=inp.WebhookChangeSchema,
        auth=True,
        errors=(400, 401, 404, 409, 413, 415),
        parameters=(WEBHOOK_ID,),
    ),
    ("DELETE", "/webhooks/{id}"): Operation(
        "Delete an endpoint; nothing more is delivered to it",
        "Webhooks",
        (200, out.MessageOut),
        auth=True,
        errors=(401, 404),
        parameters=(WEBHOOK_ID,),
    ),
    ("GET", "/webhooks/{id}/logs"): Operation(
        "An endpoint's deliveries, newest first, with every attempt",
        "Webhooks",
        (200, out.DeliveryLogListOut),
        auth=True,
        errors=(400, 401, 404),
        parameters=(WEBHOOK_ID, {"in": "query", "schema": inp.DeliveryLogQuerySchema}),
    ),
    ("POST", "/webhooks/{id}/deliveries/{deliveryId}/redeliver"): Operation(
        "Attempt a finished (delivered or dead-lettered) delivery again",
        "Webhooks",
        (202, out.DeliveryData),
        auth=True,
        errors=(401, 404, 409),
        parameters=(WEBHOOK_ID, DELIVERY_ID),
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
    marshmallow.map_to_openapi_type(inp.Amount, "number", None)  # type: ignore[no-untyped-call]
    marshmallow.map_to_openapi_type(inp.QueryAmount, "string", None)  # type: ignore[no-untyped-call]
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("ErrorEnvelope", schema=out.ErrorEnvelope)
    for method, path in routes_of(app):
        operation = OPERATIONS.get((method, path))
        if operation is not None:
            described = _describe(operation, limited=not is_exempt(path))
            spec.path(path=path, operations={method.lower(): described})
    return spec.to_dict()


def _describe(operation: Operation, limited: bool) -> dict[str, Any]:
    status, data = operation.ok
    schema = out.envelope(data) if operation.enveloped and data else data
    content = {operation.media_type: {"schema": schema}} if schema else {}
    if not schema and operation.media_type != "application/json":
        content = {operation.media_type: {}}
    described: dict[str, Any] = {
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {str(status): {"description": "Success", "content": content}},
        "parameters": list(operation.parameters),
    }
    for other in operation.same_shape:
        described["responses"][str(other)] = {"description": "Unavailable", "content": content}
    uses_store = operation.auth or operation.body is not None
    extra = [*([429] if limited else []), *([503] if uses_store else [])]  # 503: store down
    for error_status in (*operation.errors, *extra):
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
