"""Per-request helpers: the container, the caller, and running blocking use cases.

Blocking work runs on the container's bounded pools, shared fairly: each party
(the signed-in caller, or the client's address when there is none) may have half
of a pool's threads at once, and its further calls wait their turn on the event
loop, at most ``LINE`` of them. So one user's flood queues behind itself, and is
refused with 429 past its line, while everyone else still finds threads free.
A request is refused, if at all, at its first call on a pool, before it has done
anything there; its later calls wait their turn however long the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web

from infrastructure.bulkhead import FairShare
from infrastructure.logs import note_in_context
from infrastructure.tokens import ACCESS
from interfaces.bootstrap import Container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, public_id

T = TypeVar("T")
LINE = 64  # a party's calls waiting for its share of a pool, at most
CALLER = web.RequestKey("caller", UUID)
BEGUN = web.RequestKey("pools_begun", set[str])  # the pools this request has had a turn on


@dataclass(frozen=True)
class Shares:
    """The container's pools, each shared fairly between parties."""

    commands: FairShare
    queries: FairShare
    hashing: FairShare

    @classmethod
    def of(cls, held: Container) -> Shares:
        pools = (held.commands, held.queries, held.hashing)
        return cls(*(FairShare(pool, max(1, pool.threads // 2), LINE) for pool in pools))


SHARES = web.AppKey("fair_shares", Shares)


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


async def blocking(request: web.Request, call: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run blocking store access off the event loop: a query's (GET, HEAD) on the query
    threads, a command's on the command threads, so neither can starve the other;
    Overloaded at once when the threads and their queue are full."""
    shares = request.app[SHARES]
    pool = shares.queries if request.method in ("GET", "HEAD") else shares.commands
    return await _in_turn(request, pool, call, *args, **kw)


async def continuing(request: web.Request, call: Callable[..., T], *args: Any) -> T:
    """``blocking``, for a call that follows what the request has done already (a
    commit it waited for): it waits its turn, and is never refused."""
    shares = request.app[SHARES]
    pool = shares.queries if request.method in ("GET", "HEAD") else shares.commands
    request.setdefault(BEGUN, set()).add(pool.pool.name)
    return await _in_turn(request, pool, call, *args)


async def hashing(request: web.Request, call: Callable[..., T], *args: Any) -> T:
    """Run password hashing on its own threads, so a flood of logins cannot hold the
    threads the ledger needs; Overloaded at once when they and their queue are full."""
    return await _in_turn(request, request.app[SHARES].hashing, call, *args)


async def _in_turn(
    request: web.Request, share: FairShare, call: Callable[..., T], *args: Any, **kw: Any
) -> T:
    begun = request.setdefault(BEGUN, set())
    first = share.pool.name not in begun
    begun.add(share.pool.name)  # from here on, this request is only ever made to wait
    return await share.run(party(request), call, *args, refusable=first, **kw)


def party(request: web.Request) -> str:
    """Whose turn a request's blocking work waits for: its caller's, or its address's."""
    user_id = request.get(CALLER)
    return f"user:{user_id}" if user_id is not None else f"address:{request.remote}"


def caller(request: web.Request) -> UUID:
    """The user id of a valid access token in ``Authorization: Bearer``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "Authentication required")
    if not token.isascii():  # a JWT is ASCII; other bytes arrive as unencodable surrogates
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "token is not valid")
    user_id = container(request).tokens.check(token.strip(), ACCESS).user_id
    request[CALLER] = user_id
    note_in_context("user_id", public_id(USER, user_id))  # every line of this request names them
    return user_id
