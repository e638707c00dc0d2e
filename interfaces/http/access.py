"""One JSON log line per request, and the correlation id every line of it carries.

The line (logger ``payflow.access``) says the method, the route template and path,
the status the client got, how long it took, the correlation id (the client's
``X-Correlation-Id`` when it is sane, a new one otherwise) and the caller's user id
once known. Health checks and metrics scrapes are logged at DEBUG, everything else
at INFO; every line logged while handling the request carries the same ids.
"""

from __future__ import annotations

import logging
import re
import time

from aiohttp import web

from infrastructure.logs import request_context
from interfaces.http.errors import (
    CORRELATION_HEADER,
    CORRELATION_ID,
    Handler,
    new_correlation_id,
)
from interfaces.http.metrics import route_template

access = logging.getLogger("payflow.access")
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def correlation_id_of(request: web.Request) -> str:
    given = request.headers.get(CORRELATION_HEADER, "")
    return given if _SANE_ID.fullmatch(given) else new_correlation_id()


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    correlation_id = correlation_id_of(request)
    request[CORRELATION_ID] = correlation_id
    started = time.perf_counter()
    status = 500
    with request_context(correlation_id=correlation_id):
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as http_error:
            status = http_error.status
            raise
        finally:
            quiet = request.path.startswith("/health") or request.path == "/metrics"
            access.log(
                logging.DEBUG if quiet else logging.INFO,
                f"{request.method} {request.path} {status}",
                extra={
                    "method": request.method,
                    "route": route_template(request),
                    "path": request.path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
