"""Query routes: read the ledger, change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from interfaces.http import render
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok
from interfaces.ids import TRANSACTION, MalformedId, parse_id

routes = web.RouteTableDef()
VERSION = "0.1.0"


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return ok({"name": "PayFlow", "version": VERSION, "docs": "/docs"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    recorder = container(request).ledger.wallets.recorder
    try:
        await blocking(request, recorder.max_notification_id)
        store = "up"
    except Exception:
        store = "down"
    healthy = store == "up"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "services": {"eventStore": store},
        "store": container(request).settings.store,
        "timestamp": render.timestamp(datetime.now(UTC)),
    }
    # Plain, as API.md shows it and as monitors expect: no success envelope.
    return web.json_response(body, status=200 if healthy else 503)


@routes.get("/wallets/me")
async def my_wallet(request: web.Request) -> web.Response:
    user_id = caller(request)
    wallet = await blocking(request, container(request).payflow.wallet_of, user_id)
    return ok({"wallet": render.wallet(wallet)})


@routes.get("/transactions/{id}")
async def transaction(request: web.Request) -> web.Response:
    user_id = caller(request)
    try:
        transfer_id = parse_id(TRANSACTION, request.match_info["id"])
    except MalformedId:
        raise ApiError(404, ErrorCode.TRANSACTION_NOT_FOUND, "Transaction not found") from None
    payflow = container(request).payflow
    transfer = await blocking(request, payflow.transfer_for, user_id, transfer_id)
    return ok({"transaction": render.transfer(transfer)})
