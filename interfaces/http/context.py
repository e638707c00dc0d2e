"""Per-request helpers: the container, the caller, and running blocking use cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web

from infrastructure.bulkhead import Bulkhead
from infrastructure.logs import note_in_context
from infrastructure.tokens import ACCESS
from interfaces.bootstrap import Container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, public_id

T = TypeVar("T")


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


async def blocking(request: web.Request, call: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run blocking store access off the event loop: a query's (GET, HEAD) on the query
    threads, a command's on the command threads, so neither can starve the other;
    Overloaded at once when the threads and their queue are full."""
    return await store_pool(request).run(call, *args, **kw)


def store_pool(request: web.Request) -> Bulkhead:
    held = container(request)
    return held.queries if request.method in ("GET", "HEAD") else held.commands


async def hashing(request: web.Request, call: Callable[..., T], *args: Any) -> T:
    """Run password hashing on its own threads, so a flood of logins cannot hold the
    threads the ledger needs; Overloaded at once when they and their queue are full."""
    return await container(request).hashing.run(call, *args)


def caller(request: web.Request) -> UUID:
    """The user id of a valid access token in ``Authorization: Bearer``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "Authentication required")
    if not token.isascii():  # a JWT is ASCII; other bytes arrive as unencodable surrogates
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "token is not valid")
    user_id = container(request).tokens.check(token.strip(), ACCESS).user_id
    note_in_context("user_id", public_id(USER, user_id))  # every line of this request names them
    return user_id
