"""HTTP metrics in Prometheus text format, at ``GET /metrics``.

Each app has a registry of its own (never the process-wide default), so several
apps in one process count apart. Requests are labelled by the route's path
template (``/transactions/{id}``), never by the raw path, so that ids cannot
multiply the series; a request that matches no route counts as ``unmatched``.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from interfaces.http.errors import Handler
from interfaces.http.keys import CONTAINER

UNMATCHED = "unmatched"
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class HttpMetrics:
    """The request counter and latency histogram of one app, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "payflow_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "payflow_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.cached_answers = Counter(
            "payflow_idempotent_cache_lookups",
            "Lookups of cached idempotent answers, by command and result (hit, miss, mismatch).",
            ["command", "result"],
            registry=self.registry,
        )
        # A series per method, route template and status: as few as the routes make.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, request: web.Request, status: int, seconds: float) -> None:
        method = request.method if request.method in _METHODS else "OTHER"
        series = (method, route_template(request), status)
        counted = self._series.get(series)
        if counted is None:  # the library's label lookup, once per series
            labels = (method, series[1], str(status))
            counted = self.requests.labels(*labels), self.duration.labels(*labels)
            self._series[series] = counted
        counted[0].inc()
        counted[1].observe(seconds)


METRICS = web.AppKey("metrics", HttpMetrics)
routes = web.RouteTableDef()


def route_template(request: web.Request) -> str:
    """The matched route's path template, or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request, with the status the client gets."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as http_exception:
        status = http_exception.status
        raise
    finally:
        request.app[METRICS].observe(request, status, time.perf_counter() - started)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    if CONTAINER in request.app:  # with the webhook worker's, when it runs here
        body += generate_latest(request.app[CONTAINER].webhook_worker.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
