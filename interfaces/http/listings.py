"""Query routes answered from the read models: lists, history and balances.

Each waits for the read models to be fresh enough first: see ``consistency.py``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from domain.errors import Forbidden, WalletNotFound
from domain.money import Money
from domain.transfer import TransferStatus
from interfaces.http import render
from interfaces.http.consistency import caught_up
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok
from interfaces.http.schemas import (
    BalanceQuerySchema,
    HistoryQuerySchema,
    ReadQuerySchema,
    TransactionQuerySchema,
    load,
)
from interfaces.ids import USER, WALLET, MalformedId, parse_id, public_id
from projections import queries

routes = web.RouteTableDef()


@routes.get("/transactions")
async def list_transactions(request: web.Request) -> web.Response:
    user_id = caller(request)
    query = load(TransactionQuerySchema, dict(request.query))
    wanted = queries.TransferFilter(
        user_id=user_id,
        status=TransferStatus(query["status"]) if "status" in query else None,
        since=query.get("since"),
        until=query.get("until"),
        min_amount=_minor(query.get("min_amount")),
        max_amount=_minor(query.get("max_amount")),
        counterparty=_user(query.get("counterparty")),
        limit=query["limit"],
        offset=query["offset"],
        cursor=query.get("cursor"),
    )
    headers = await caught_up(request)
    try:
        page = await blocking(
            request, queries.transfers_for, container(request).projector.store, wanted
        )
    except queries.BadCursor as error:
        raise ApiError(400, ErrorCode.INVALID_INPUT, str(error)) from None
    pagination: dict[str, Any] = {
        "total": page.total,
        "limit": wanted.limit,
        "offset": wanted.offset,
        "hasMore": page.has_more,
        "nextCursor": page.next_cursor,
    }
    data = {"transactions": [render.transfer(t) for t in page.transfers], "pagination": pagination}
    return ok(data, headers=headers)


@routes.get("/wallets/me/history")
async def my_history(request: web.Request) -> web.Response:
    user_id = caller(request)
    query = load(HistoryQuerySchema, dict(request.query))
    wallet = await blocking(request, container(request).payflow.wallet_of, user_id)
    headers = await caught_up(request)
    store = container(request).projector.store
    movements, has_more = await blocking(
        request, queries.movements_of, store, wallet.id, query["limit"]
    )
    data = {
        "walletId": public_id(WALLET, wallet.id),
        "history": [render.movement(m) for m in movements],
        "pagination": {"limit": query["limit"], "hasMore": has_more},
    }
    return ok(data, headers=headers)


@routes.get("/wallets/me/balance")
async def my_balance(request: web.Request) -> web.Response:
    """Your balance now, or at ``asOf`` (rebuilt from the wallet's own events)."""
    user_id = caller(request)
    query = load(BalanceQuerySchema, dict(request.query))
    payflow = container(request).payflow
    wallet = await blocking(request, payflow.wallet_of, user_id)
    moment = query.get("as_of")
    if moment is None:
        balance, at = wallet.balance, wallet.modified_on
    else:
        wallets = container(request).ledger.wallets
        balance, at = await blocking(request, wallets.balance_at, wallet.id, moment), moment
    data = {
        "walletId": public_id(WALLET, wallet.id),
        "balance": render.amount(balance),
        "currency": balance.currency,
        "asOf": render.timestamp(at),
    }
    return ok(data)


@routes.get("/wallets/{id}/balance")
async def wallet_balance(request: web.Request) -> web.Response:
    user_id = caller(request)
    load(ReadQuerySchema, dict(request.query))
    try:
        wallet_id = parse_id(WALLET, request.match_info["id"])
    except MalformedId:
        raise WalletNotFound("no such wallet") from None
    headers = await caught_up(request)
    store = container(request).projector.store
    balance = await blocking(request, queries.wallet_balance, store, wallet_id)
    if balance is None:
        raise WalletNotFound("no such wallet")
    if balance.owner_id != user_id:
        raise Forbidden("that wallet belongs to someone else")
    data = {
        "walletId": public_id(WALLET, balance.wallet_id),
        "balance": render.amount(balance.balance),
        "currency": balance.balance.currency,
        "updatedAt": render.timestamp(balance.updated_at),
    }
    return ok(data, headers=headers)


def _minor(amount: Any) -> int | None:
    return None if amount is None else Money.parse(amount).minor


def _user(text: str | None) -> UUID | None:
    if text is None:
        return None
    try:
        return parse_id(USER, text)
    except MalformedId:
        raise ApiError(
            400,
            ErrorCode.VALIDATION_ERROR,
            "Validation failed",
            {"counterparty": ["must be a userId such as user_…"]},
        ) from None
