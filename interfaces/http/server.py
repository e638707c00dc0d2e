"""Serving the app: the listening socket, clean shutdown, and the requests nobody parsed.

aiohttp answers a request its parser refuses (a request line over 8 KB, bytes that
are not HTTP) before any middleware runs, in plain text. ``EnvelopeRunner`` serves
the app with a protocol handler that answers those in the contract's error
envelope too, so every answer a client gets is JSON it can read.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
from http import HTTPStatus
from typing import Any

import uvloop
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from interfaces.http.errors import (
    CORRELATION_HEADER,
    ApiError,
    ErrorCode,
    error_response,
    new_correlation_id,
)

log = logging.getLogger("payflow")
# The requests in hand get this long to finish at shutdown: the longest a client may
# ask to wait (Prefer: wait=10), or to send its body, and a little more.
SHUTDOWN_SECONDS = 15.0


class ListenFailed(Exception):
    """The address to listen on could not be bound (in use, or not this machine's)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}: {hint}")


class EnvelopeRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering what it could not parse in the envelope."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response has begun: nothing else can go out
            raise ConnectionError("the response was already being sent")
        if status >= 500:
            self.log_exception("error handling a request from %s", request.remote, exc_info=exc)
        else:
            log.info(
                "refused a request that is not valid HTTP",
                extra={"status": status, "reason": type(exc).__name__, "remote": request.remote},
            )
        correlation_id = new_correlation_id()
        code = ErrorCode.VALIDATION_ERROR if status < 500 else ErrorCode.INTERNAL_ERROR
        response = error_response(ApiError(status, code, _said(status, exc)), correlation_id)
        response.headers[CORRELATION_HEADER] = correlation_id
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """An unread body that cannot be decoded fails again when aiohttp drains it
        after the answer; that is the client's garbage, not an error of ours."""
        if isinstance(kwargs.get("exc_info"), RequestPayloadError):
            log.info("closed a connection whose request body could not be decoded")
            return
        super().log_exception(*args, **kwargs)


def _said(status: int, exc: BaseException | None) -> str:
    """What went wrong, without echoing the client's bytes back."""
    if isinstance(exc, LineTooLong):
        return "A request line or header is too long (at most 8190 bytes)"
    if status < 500:
        return f"The request is not valid HTTP ({HTTPStatus(status).phrase})"
    return "Internal server error"


class EnvelopeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


class EnvelopeRunner(web.AppRunner):
    """An ``AppRunner`` whose server makes ``EnvelopeRequestHandler`` connections."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = EnvelopeServer  # the same server, answering parse errors in JSON
        return server


_HINTS = {
    errno.EADDRINUSE: "is another PayFlow running there? Set PORT or --port",
    errno.EADDRNOTAVAIL: "HOST is not an address of this machine",
    errno.EACCES: "ports below 1024 need privileges; set PORT or --port",
}


def serve(app: web.Application, host: str, port: int, **announced: Any) -> None:
    """Serve ``app`` until the first SIGTERM or Ctrl-C, then shut down cleanly: the
    requests in hand are answered and the app's cleanup runs. Later signals (a
    terminal signals the whole group, and scripts/server-mode forwards one too)
    do not cut that short. ListenFailed if the address cannot be bound."""
    uvloop.run(_serve(app, host, port, announced))


async def _serve(app: web.Application, host: str, port: int, announced: dict[str, Any]) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    runner = EnvelopeRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            hint = _HINTS.get(error.errno or 0, "set HOST and PORT, or --host and --port")
            raise ListenFailed(f"cannot listen on {host}:{port}: {reason.lower()}", hint) from error
        url = f"http://{host}:{port}"
        log.info(f"PayFlow is listening on {url}", extra={"url": url, **announced})
        await stopping.wait()
        log.info("PayFlow is stopping: answering the requests in hand")
    finally:
        await runner.cleanup()
