"""One attempt of one webhook delivery: a single POST, bounded in time and in bytes.

The sender never retries and never raises for a network problem or an answer
it does not like: it reports what happened as an ``AttemptResult``, and the
dispatcher records it and schedules any retry (see ``retry.py``).

- The target is checked before anything is sent (``check_target``), and every
  address a name resolves to is checked again by the connector's resolver.
- Redirects are not followed: a 3xx answer is a failed attempt.
- One time budget (``timeout``) covers the whole attempt: waiting for a free
  connection, resolving, connecting, sending and the answer's status line.
- The outcome is decided by the status: once it has arrived, at most
  ``max_response_bytes`` of the body are read, within what is left of the budget,
  and a body that breaks off or runs late only shortens the excerpt.
- Connections per receiver are limited (``limit_per_host``), so a slow receiver
  queues its own deliveries and cannot hold every connection of the pool.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDict

from infrastructure.webhooks.targets import (
    GuardedResolver,
    RefusedAddress,
    UnsafeTarget,
    check_target,
)

EXCERPT_CHARS = 512
READ_CHUNK = 16 * 1024


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to; ``status`` is None when no answer arrived."""

    delivered: bool  # a 2xx answer
    status: int | None
    latency_ms: int
    error: str | None  # short human text; None when delivered
    response_excerpt: str  # the start of the answer's body, UTF-8 with replacement


class WebhookSender:
    """Sends single attempts through one client session; use ``async with`` or start/close."""

    def __init__(
        self,
        *,
        require_https: bool,
        allow_private: bool,
        timeout: float = 10.0,
        max_response_bytes: int = 64 * 1024,
        user_agent: str = "PayFlow-Webhooks/1",
        limit: int = 100,
        limit_per_host: int = 4,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._require_https = require_https
        self._allow_private = allow_private
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._user_agent = user_agent
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._guard: GuardedResolver | None = None

    async def start(self) -> None:
        """Open the session; its resolver (``resolver``, else the platform's) is guarded."""
        inner = self._resolver or aiohttp.ThreadedResolver()
        self._guard = GuardedResolver(inner, allow_private=self._allow_private)
        connector = aiohttp.TCPConnector(
            resolver=self._guard,
            limit=self._limit,
            limit_per_host=self._limit_per_host,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # each attempt's own deadline applies
            cookie_jar=aiohttp.DummyCookieJar(),  # one receiver's cookies go nowhere
            auto_decompress=False,  # bytes are counted as they arrive; no compression bombs
            trust_env=False,  # no proxy from the environment
        )

    async def close(self) -> None:
        """Close the session, then the resolver (a given one too: the sender owns it)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._guard is not None:
            await self._guard.close()
            self._guard = None

    async def __aenter__(self) -> WebhookSender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        """POST ``body`` as JSON to ``url`` once, with ``headers`` added, and report the outcome."""
        started = time.monotonic()
        try:
            check_target(url, require_https=self._require_https, allow_private=self._allow_private)
            status, excerpt = await self._post(url, body, headers)
        except (UnsafeTarget, aiohttp.ClientError, OSError) as exc:
            return AttemptResult(False, None, _elapsed_ms(started), self._describe(exc), "")
        error = _status_error(status)
        return AttemptResult(error is None, status, _elapsed_ms(started), error, excerpt)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        if self._session is None:
            raise RuntimeError("WebhookSender.start() has not been called")
        request_headers = CIMultiDict(
            {
                "Content-Type": "application/json",
                "User-Agent": self._user_agent,
                "Accept-Encoding": "identity",
            }
        )
        request_headers.update(headers)
        deadline = asyncio.get_running_loop().time() + self._timeout
        async with asyncio.timeout_at(deadline):
            response = await self._session.post(
                url, data=body, headers=request_headers, allow_redirects=False
            )
        try:
            received = await self._read_body(response, deadline)
        finally:
            if response.content.at_eof():
                response.release()  # read to the end: the connection may be reused
            else:
                response.close()  # cut short: the rest is never read
        return response.status, _excerpt(received)

    async def _read_body(self, response: aiohttp.ClientResponse, deadline: float) -> bytes:
        """Up to ``max_response_bytes`` of the body: less if it ends, breaks off or runs late."""
        received = bytearray()
        try:
            async with asyncio.timeout_at(deadline):
                while len(received) < self._max_response_bytes:
                    wanted = min(READ_CHUNK, self._max_response_bytes - len(received))
                    chunk = await response.content.read(wanted)
                    if not chunk:
                        break
                    received += chunk
        except (aiohttp.ClientError, OSError):  # TimeoutError is an OSError
            pass
        return bytes(received)

    def _describe(self, exc: BaseException) -> str:
        """A short text for a failed attempt, e.g. "connection refused"."""
        if isinstance(exc, UnsafeTarget):
            return str(exc)
        if isinstance(exc, TimeoutError):
            return f"timed out after {self._timeout} s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            return _connect_error(exc)
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "connection closed before an answer"
        return f"{type(exc).__name__}: {exc}"[:200]


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    """Why no connection was made: a refused address, DNS, TLS, or the socket."""
    match exc:
        case aiohttp.ClientConnectorDNSError() if isinstance(exc.os_error, RefusedAddress):
            return str(exc.os_error)
        case aiohttp.ClientConnectorDNSError():
            return f"could not resolve {exc.host}"
        case aiohttp.ClientConnectorCertificateError():
            return f"TLS certificate refused: {exc.certificate_error}"
        case _ if exc.os_error.errno == errno.ECONNREFUSED:
            return "connection refused"
        case _:
            return f"could not connect: {exc.os_error.strerror or exc.os_error}"


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"redirect not followed (HTTP {status})"
    return f"HTTP {status}"


def _excerpt(body: bytes) -> str:
    """The first ``EXCERPT_CHARS`` characters; a character takes at most four bytes."""
    return body[: EXCERPT_CHARS * 4].decode(errors="replace")[:EXCERPT_CHARS]


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
