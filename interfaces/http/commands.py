"""Command routes: each one validates, calls one use case, and renders the result.

A command with an idempotency key is first looked up in the response cache
(``infrastructure/response_cache.py``): a cached answer to the same request is
sent again, marked replayed, without the store. Anything else (no entry, an
entry for a different request, Redis down) goes to the use case, where the
event store decides, as if there were no cache; its first answer is then cached.
A keyed command over a rate limit is still answered when it is a replay; only a
new one is refused (``deferred_refusal``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web
from eventsourcing.persistence import IntegrityError

from application.service import TransferOrder
from application.transfers import Initiation
from domain.money import Money
from infrastructure import response_cache as cache
from infrastructure.response_cache import CachedResponse, fingerprint
from interfaces.http import render
from interfaces.http.context import SHARES, blocking, caller, container, continuing, party
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.jsonio import ok, read_json
from interfaces.http.keys import OUTCOMES, REPLIES
from interfaces.http.metrics import METRICS
from interfaces.http.ratelimit import IDEMPOTENCY_HEADER, deferred_refusal
from interfaces.http.schemas import (
    IDEMPOTENCY_KEY,
    DepositSchema,
    TransferSchema,
    load,
)
from interfaces.http.waiting import preferred_wait, waited_answer
from interfaces.ids import DEPOSIT, USER, MalformedId, parse_id, public_id

log = logging.getLogger(__name__)
T = TypeVar("T")
routes = web.RouteTableDef()
REPLAYED_HEADER = "X-Idempotent-Replayed"


@routes.post("/wallets/me/deposit")
async def deposit(request: web.Request) -> web.Response:
    user_id = caller(request)
    body = load(DepositSchema, await read_json(request))
    key = _idempotency_key(request, body["idempotency_key"])
    amount = Money.parse(body["amount"], body["currency"])
    asked = fingerprint({"amount": amount.minor, "currency": amount.currency})
    cached = await _cached(request, user_id, cache.DEPOSIT, key, asked)
    if cached is not None:
        data = {**cached.data, "idempotent": True}
        return ok(data, status=cached.status, headers=_replayed(True))
    payflow = container(request).payflow
    receipt = await _admitted(
        request, payflow.deposit, payflow.earlier_deposit, user_id, amount, key
    )
    data = {
        "message": "Deposit successful",
        "newBalance": render.amount(receipt.deposit.balance_after),
        "operationId": public_id(DEPOSIT, receipt.deposit.id),
        "idempotent": receipt.replayed,
    }
    if not receipt.replayed:
        await _keep(request, user_id, cache.DEPOSIT, key, CachedResponse(200, data, asked))
    return ok(data, headers=_replayed(receipt.replayed))


@routes.post("/transactions")
async def create_transaction(request: web.Request) -> web.Response:
    user_id = caller(request)
    key = _idempotency_key(request, None)
    wait = preferred_wait(request.headers.get("Prefer"))
    body = load(TransferSchema, await read_json(request))
    order, asked = _transfer_order(user_id, key, wait, body)
    cached = await _cached(request, user_id, cache.TRANSFER, key, asked)
    if cached is not None:  # the first answer as it was sent
        return ok(cached.data, status=cached.status, headers=_replayed(True))
    payflow = container(request).payflow
    initiation = await _placed(request, order)
    transfer, headers = initiation.transfer, _replayed(initiation.replayed)
    if transfer.wait_until is not None:  # the first request waited: its replays answer alike
        as_of = functools.partial(blocking, request, payflow.transfer_for, user_id, transfer.id)
        transfer = await waited_answer(request.app[OUTCOMES], transfer, as_of)
        if not initiation.replayed:
            headers["Preference-Applied"] = f"wait={wait}"
    data = {"transaction": render.transfer(transfer)}
    if not initiation.replayed:
        await _keep(request, user_id, cache.TRANSFER, key, CachedResponse(201, data, asked))
    return ok(data, status=201, headers=headers)


async def _placed(request: web.Request, order: TransferOrder) -> Initiation:
    """The transfer the order starts, or the one its key started. A key is looked up
    first, on a command thread: a retry is answered whatever the writer's queue
    holds. Where this process writes wallets alone, the Transfers writer checks the
    order from memory (``PayFlow.begin_place_in_memory``), and a command thread only
    if that is not enough; elsewhere a command thread checks it. The commit is
    awaited here, holding no thread, so as many transfers as arrive while one
    commit runs share the next."""
    payflow = container(request).payflow
    # A party's transfers waiting for their commit are bounded as its calls on the
    # command threads are: refused (429) before anything is queued, never after.
    with request.app[SHARES].commands.waiting_off(party(request)):
        refusal = deferred_refusal(request)
        if order.idempotency_key is not None or refusal is not None:
            found = await blocking(request, payflow.earlier_transfer, order)
            if found is not None:
                return found
            if refusal is not None:  # over the rate limit: only what its key already did
                raise refusal
        try:
            if payflow.checks_in_memory:
                decided, reply = request.app[REPLIES].expect()
                payflow.begin_place_in_memory(order, reply)
                try:
                    placed: Initiation | None = await decided
                finally:  # a refusal's traceback holds this frame: no cycle through them
                    del decided, reply
                if placed is not None:
                    return placed
            return await asyncio.wrap_future(await blocking(request, payflow.begin_place, order))
        except IntegrityError:
            if order.idempotency_key is None:
                raise  # not a twin: the store refused it, and the answer says so
            # A twin with the same key was accepted first: its answer is this one's too.
            return await continuing(request, payflow.place, order)


def _transfer_order(
    user_id: UUID, key: str | None, wait: int, body: dict[str, Any]
) -> tuple[TransferOrder, str]:
    """The order a validated body asks for, and the fingerprint its key stands for."""
    receiver_id = None
    if body.get("receiver_id") is not None:
        try:
            receiver_id = parse_id(USER, body["receiver_id"])
        except MalformedId:
            raise ApiError(404, ErrorCode.USER_NOT_FOUND, "Receiver not found") from None
    amount = Money.parse(body["amount"], body["currency"])
    order = TransferOrder(
        user_id,
        amount,
        receiver_id,
        body.get("receiver_vpa"),
        body["description"],
        key,
        wait_until=datetime.now(UTC) + timedelta(seconds=wait) if wait else None,
    )
    asked = fingerprint(
        {
            "amount": amount.minor,
            "currency": amount.currency,
            "receiverId": None if receiver_id is None else str(receiver_id),
            "receiverVpa": order.receiver_vpa,
            "description": order.description,
        }
    )
    return order, asked


async def _admitted(
    request: web.Request,
    act: Callable[..., T],
    earlier: Callable[..., T | None],
    *args: Any,
) -> T:
    """``act(*args)``, off the loop; over a rate limit, only the outcome this keyed
    command already has (``earlier(*args)``), and the limit's refusal if none."""
    refusal = deferred_refusal(request)
    if refusal is None:
        return await blocking(request, act, *args)
    found = await blocking(request, earlier, *args)
    if found is None:
        raise refusal
    return found


async def _cached(
    request: web.Request, user_id: UUID, command: str, key: str | None, asked: str
) -> CachedResponse | None:
    """The cached answer to this very request, if there is one."""
    if key is None:
        return None
    cached = await container(request).responses.get(user_id, command, key)
    if cached is None:
        result = "miss"
    elif cached.fingerprint != asked:
        result, cached = "mismatch", None  # the store decides what a reused key means
    else:
        result = "hit"
    request.app[METRICS].cached_answers.labels(command, result).inc()
    return cached


async def _keep(
    request: web.Request, user_id: UUID, command: str, key: str | None, answer: CachedResponse
) -> None:
    """Cache a first answer; the command is committed already, so nothing here fails it."""
    if key is None:
        return
    try:
        await container(request).responses.put(user_id, command, key, answer)
    except Exception:
        log.exception("could not cache the answer to a %s", command)


def _idempotency_key(request: web.Request, from_body: str | None) -> str | None:
    given = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if len(given) > 1:
        raise ApiError(400, ErrorCode.INVALID_INPUT, f"Send one {IDEMPOTENCY_HEADER}, not several")
    from_header = given[0] if given else None
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
