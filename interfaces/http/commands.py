"""Command routes: each one validates, calls one use case, and renders the result."""

from __future__ import annotations

import functools

from aiohttp import web

from domain.money import Money
from interfaces.http import render
from interfaces.http.context import blocking, caller, container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok, read_json
from interfaces.http.keys import OUTCOMES
from interfaces.http.schemas import (
    IDEMPOTENCY_KEY,
    DepositSchema,
    TransferSchema,
    load,
)
from interfaces.http.waiting import preferred_wait, wait_for_outcome
from interfaces.ids import DEPOSIT, USER, MalformedId, parse_id, public_id

routes = web.RouteTableDef()
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
REPLAYED_HEADER = "X-Idempotent-Replayed"


@routes.post("/wallets/me/deposit")
async def deposit(request: web.Request) -> web.Response:
    user_id = caller(request)
    body = load(DepositSchema(), await read_json(request))
    key = _idempotency_key(request, body["idempotency_key"])
    amount = Money.parse(body["amount"], body["currency"])
    payflow = container(request).payflow
    receipt = await blocking(request, payflow.deposit, user_id, amount, key)
    data = {
        "message": "Deposit successful",
        "newBalance": render.amount(receipt.deposit.balance_after),
        "operationId": public_id(DEPOSIT, receipt.deposit.id),
        "idempotent": receipt.replayed,
    }
    return ok(data, headers=_replayed(receipt.replayed))


@routes.post("/transactions")
async def create_transaction(request: web.Request) -> web.Response:
    user_id = caller(request)
    key = _idempotency_key(request, None)
    body = load(TransferSchema(), await read_json(request))
    receiver_id = None
    if body.get("receiver_id") is not None:
        try:
            receiver_id = parse_id(USER, body["receiver_id"])
        except MalformedId:
            raise ApiError(404, ErrorCode.USER_NOT_FOUND, "Receiver not found") from None
    payflow = container(request).payflow
    initiation = await blocking(
        request,
        payflow.send,
        user_id,
        Money.parse(body["amount"], body["currency"]),
        receiver_id=receiver_id,
        receiver_vpa=body.get("receiver_vpa"),
        description=body["description"],
        idempotency_key=key,
    )
    transfer, headers = initiation.transfer, _replayed(initiation.replayed)
    wait = preferred_wait(request.headers.get("Prefer"))
    if wait and not initiation.replayed:  # a replay answers as the first answer did
        reload = functools.partial(blocking, request, payflow.transfer_for, user_id, transfer.id)
        transfer = await wait_for_outcome(request.app[OUTCOMES], transfer.id, wait, reload)
        headers["Preference-Applied"] = f"wait={wait}"
    return ok({"transaction": render.transfer(transfer)}, status=201, headers=headers)


def _idempotency_key(request: web.Request, from_body: str | None) -> str | None:
    from_header = request.headers.get(IDEMPOTENCY_HEADER)
    if from_header is None:
        return from_body
    try:
        IDEMPOTENCY_KEY(from_header)
    except Exception:
        raise ApiError(
            400,
            ErrorCode.INVALID_INPUT,
            f"{IDEMPOTENCY_HEADER} must match ^[A-Za-z0-9_-]{{1,64}}$",
        ) from None
    if from_body is not None and from_body != from_header:
        raise ApiError(400, ErrorCode.INVALID_INPUT, "idempotencyKey and X-Idempotency-Key differ")
    return from_header


def _replayed(replayed: bool) -> dict[str, str]:
    return {REPLAYED_HEADER: "true"} if replayed else {}
