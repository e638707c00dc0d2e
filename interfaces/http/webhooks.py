"""Webhook routes: the caller's endpoints, their delivery logs, and redelivery by hand.

Subscriptions are read from their aggregates; the delivery log from the read
models (``webhook_deliveries`` and ``webhook_attempts``), after waiting for them
like every other read-model query (``consistency.py``). A URL is checked when it
is subscribed or changed, without resolving its host; the dispatcher checks the
addresses again at every attempt. It is kept as ``check_target`` normalises it,
so two spellings of one URL are one subscription.
"""

from __future__ import annotations

import secrets
from uuid import UUID

from aiohttp import web

from application.webhooks import Webhooks
from domain.errors import DeliveryNotFound, WebhookNotFound
from domain.webhook import Delivery, DeliveryStatus
from infrastructure.webhooks import UnsafeTarget, check_target
from interfaces.http import render
from interfaces.http.consistency import caught_up
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok, read_json
from interfaces.http.schemas import (
    DeliveryLogQuerySchema,
    WebhookChangeSchema,
    WebhookSchema,
    load,
)
from interfaces.ids import DELIVERY, WEBHOOK, MalformedId, parse_id
from projections import queries

routes = web.RouteTableDef()
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def new_secret() -> str:
    """A signing secret for a subscription that did not bring its own."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


@routes.post("/webhooks")
async def subscribe(request: web.Request) -> web.Response:
    user_id = caller(request)
    body = load(WebhookSchema, await read_json(request))
    url = _checked(request, body["url"])
    secret = body.get("secret") or new_secret()
    webhook = await blocking(
        request, _webhooks(request).subscribe, user_id, url, body["events"], secret
    )
    return ok({"webhook": {**render.webhook(webhook), "secret": secret}}, status=201)


@routes.get("/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    user_id = caller(request)
    webhooks = await blocking(request, _webhooks(request).webhooks_of, user_id)
    return ok({"webhooks": [render.webhook(w) for w in webhooks]})


@routes.get("/webhooks/{id}")
async def get_webhook(request: web.Request) -> web.Response:
    user_id = caller(request)
    webhook_id = _webhook_id(request)
    webhook = await blocking(request, _webhooks(request).webhook_for, user_id, webhook_id)
    return ok({"webhook": render.webhook(webhook)})


@routes.patch("/webhooks/{id}")
async def change_webhook(request: web.Request) -> web.Response:
    """Change the URL or events; ``isActive: true`` enables it again, its failures forgiven."""
    user_id = caller(request)
    webhook_id = _webhook_id(request)
    body = load(WebhookChangeSchema, await read_json(request))
    url = _checked(request, body["url"]) if "url" in body else None
    webhook = await blocking(
        request,
        _webhooks(request).change,
        user_id,
        webhook_id,
        url=url,
        events=body.get("events"),
        active=body.get("is_active"),
    )
    return ok({"webhook": render.webhook(webhook)})


@routes.delete("/webhooks/{id}")
async def delete_webhook(request: web.Request) -> web.Response:
    user_id = caller(request)
    webhook_id = _webhook_id(request)
    await blocking(request, _webhooks(request).delete, user_id, webhook_id)
    return ok({"message": "Webhook deleted"})


@routes.get("/webhooks/{id}/logs")
async def delivery_logs(request: web.Request) -> web.Response:
    """The endpoint's deliveries, newest first, each with its attempts."""
    user_id = caller(request)
    query = load(DeliveryLogQuerySchema, dict(request.query))
    webhook_id = _webhook_id(request)
    await blocking(request, _webhooks(request).webhook_for, user_id, webhook_id)
    headers = await caught_up(request)
    page = await blocking(
        request,
        queries.deliveries_of,
        container(request).projector.store,
        webhook_id,
        status=DeliveryStatus(query["status"]) if "status" in query else None,
        limit=query["limit"],
        offset=query["offset"],
    )
    pagination = {
        "total": page.total,
        "limit": query["limit"],
        "offset": query["offset"],
        "hasMore": page.has_more,
    }
    data = {"logs": [render.delivery_log(d) for d in page.deliveries], "pagination": pagination}
    return ok(data, headers=headers)


@routes.post("/webhooks/{id}/deliveries/{deliveryId}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    """Attempt a finished delivery again, from its first attempt (409 while pending)."""
    user_id = caller(request)
    webhook_id = _webhook_id(request)
    try:
        delivery_id = parse_id(DELIVERY, request.match_info["deliveryId"])
    except MalformedId:
        raise DeliveryNotFound("no such delivery") from None
    app = _webhooks(request)
    delivery = await blocking(request, _redeliver, app, user_id, webhook_id, delivery_id)
    return ok({"delivery": render.delivery(delivery)}, status=202)


def _redeliver(app: Webhooks, user_id: UUID, webhook_id: UUID, delivery_id: UUID) -> Delivery:
    """Redeliver one of the caller's deliveries, made to the endpoint in the path."""
    app.webhook_for(user_id, webhook_id)  # WebhookNotFound for anyone else's
    if app.get_delivery(delivery_id).webhook_id != webhook_id:
        raise DeliveryNotFound("no such delivery")
    return app.redeliver(delivery_id, owner_id=user_id)


def _webhooks(request: web.Request) -> Webhooks:
    return container(request).ledger.webhooks


def _webhook_id(request: web.Request) -> UUID:
    try:
        return parse_id(WEBHOOK, request.match_info["id"])
    except MalformedId:
        raise WebhookNotFound("no such webhook") from None


def _checked(request: web.Request, url: str) -> str:
    """The URL as deliveries will use it, or a 400 saying why it may not be used."""
    settings = container(request).settings
    try:
        return check_target(
            url,
            require_https=settings.is_production,
            allow_private=settings.webhooks.allow_private,
        )
    except UnsafeTarget as error:
        raise ApiError(
            400, ErrorCode.VALIDATION_ERROR, "Validation failed", {"url": [str(error)]}
        ) from None
