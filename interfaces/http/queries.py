"""Query routes: read the ledger, change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from domain.errors import Forbidden
from infrastructure.redis_ratelimit import answers
from interfaces.http import render
from interfaces.http.consistency import caught_up
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok
from interfaces.ids import TRANSACTION, MalformedId, parse_id
from projections import queries as read

routes = web.RouteTableDef()
VERSION = "0.1.0"


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return ok({"name": "PayFlow", "version": VERSION, "docs": "/docs"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    store = await _store_state(request)
    healthy = store == "up"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "services": {"eventStore": store},
        "store": container(request).settings.store,
        "timestamp": render.timestamp(datetime.now(UTC)),
    }
    # Plain, as API.md shows it and as monitors expect: no success envelope.
    return web.json_response(body, status=200 if healthy else 503)


@routes.get("/health/live")
async def live(request: web.Request) -> web.Response:
    """The process answers; its stores are /health/ready's business."""
    return web.json_response({"status": "alive"})


@routes.get("/health/ready")
async def ready(request: web.Request) -> web.Response:
    """200 only when the event store, and Redis where configured, answer; else 503."""
    services = {"eventStore": await _store_state(request)}
    redis = container(request).redis
    if redis is not None:
        services["redis"] = "up" if await answers(redis) else "down"
    is_ready = all(state == "up" for state in services.values())
    body = {"status": "ready" if is_ready else "not ready", "services": services}
    return web.json_response(body, status=200 if is_ready else 503)


async def _store_state(request: web.Request) -> str:
    probe = container(request).probe
    if probe is not None and not probe.is_up:
        return "down"  # known unreachable: do not wait through the client's retries
    recorder = container(request).ledger.wallets.recorder
    try:
        await blocking(request, recorder.max_notification_id)
    except Exception:
        return "down"
    return "up"


@routes.get("/wallets/me")
async def my_wallet(request: web.Request) -> web.Response:
    user_id = caller(request)
    wallet = await blocking(request, container(request).payflow.wallet_of, user_id)
    headers = await caught_up(request)
    store = container(request).projector.store
    row = await blocking(request, read.wallet_row, store, wallet.id)
    return ok({"wallet": render.wallet(row or wallet)}, headers=headers)  # row: unless stale


@routes.get("/transactions/{id}")
async def transaction(request: web.Request) -> web.Response:
    user_id = caller(request)
    try:
        transfer_id = parse_id(TRANSACTION, request.match_info["id"])
    except MalformedId:
        raise ApiError(404, ErrorCode.TRANSACTION_NOT_FOUND, "Transaction not found") from None
    headers = await caught_up(request)
    row = await blocking(
        request, read.transfer_row, container(request).projector.store, transfer_id
    )
    if row is None:  # unknown, or the read model is behind: the aggregate decides
        payflow = container(request).payflow
        transfer = await blocking(request, payflow.transfer_for, user_id, transfer_id)
        return ok({"transaction": render.transfer(transfer)}, headers=headers)
    if user_id not in (row.sender_id, row.receiver_id):
        raise Forbidden("you are not a party to that transfer")
    return ok({"transaction": render.transfer(row)}, headers=headers)
