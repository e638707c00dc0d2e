"""Per-request helpers: the container, the caller, and running blocking use cases."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from aiohttp import web

from infrastructure.tokens import ACCESS
from interfaces.bootstrap import Container
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.keys import CONTAINER

T = TypeVar("T")


def container(request: web.Request) -> Container:
    return request.app[CONTAINER]


async def blocking(request: web.Request, call: Callable[..., T], *args: Any, **kw: Any) -> T:
    """Run a blocking use case (store I/O, password hashing) off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        container(request).executor, functools.partial(call, *args, **kw)
    )


def caller(request: web.Request) -> UUID:
    """The user id of a valid access token in ``Authorization: Bearer``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, ErrorCode.UNAUTHORIZED, "Authentication required")
    if not token.isascii():  # a JWT is ASCII; other bytes arrive as unencodable surrogates
        raise ApiError(401, ErrorCode.INVALID_TOKEN, "token is not valid")
    return container(request).tokens.check(token.strip(), ACCESS).user_id
