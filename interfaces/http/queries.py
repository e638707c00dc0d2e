"""Query routes: read the ledger, change nothing."""

from __future__ import annotations

from aiohttp import web

from domain.errors import Forbidden
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
