"""Operations: liveness, health and readiness, answered without the store's threads.

With PostgreSQL, ``/health`` and ``/health/ready`` answer from the store probe,
which asks the server every second with a short timeout: a health check never
waits through the store client's retries while the database is away. Otherwise
they ask the event store on a thread of their own (``Container.checks``), one
question at a time for every request that came while the previous one was being
answered: a flood on the store's threads, or of health checks, leaves them
answering in their normal time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from infrastructure.bulkhead import SharedCall
from infrastructure.redis_ratelimit import answers
from interfaces.http import render
from interfaces.http.context import container
from interfaces.http.keys import CONTAINER

routes = web.RouteTableDef()
STORE_CHECK = web.AppKey("store_check", SharedCall[int | None])


def install(app: web.Application) -> None:
    holder = app[CONTAINER]

    def ask_the_store() -> int | None:
        return holder.ledger.wallets.recorder.max_notification_id()

    app[STORE_CHECK] = SharedCall(ask_the_store, holder.checks)
    app.add_routes(routes)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """200 while the event store answers ("degraded" if Redis, which only speeds things
    up and shares counters, does not); 503 when the store does not."""
    store = await _store_state(request)
    services = {"eventStore": store}
    redis = container(request).redis
    if redis is not None:
        services["redis"] = "up" if await answers(redis) else "down"
    healthy = store == "up"
    status = "unhealthy" if not healthy else "healthy"
    if healthy and "down" in services.values():
        status = "degraded"
    body = {
        "status": status,
        "services": services,
        "store": container(request).settings.store,
        "timestamp": render.timestamp(datetime.now(UTC)),
    }
    # Plain, as API.md shows it and as monitors expect: no success envelope.
    return web.json_response(body, status=200 if healthy else 503)


@routes.get("/health/live")
async def live(request: web.Request) -> web.Response:
    """The process answers; its stores are /health/ready's business."""
    return web.json_response({"status": "alive"})


@routes.get("/health/ready")
async def ready(request: web.Request) -> web.Response:
    """200 only when the event store, and Redis where configured, answer; else 503."""
    services = {"eventStore": await _store_state(request)}
    redis = container(request).redis
    if redis is not None:
        services["redis"] = "up" if await answers(redis) else "down"
    is_ready = all(state == "up" for state in services.values())
    body = {"status": "ready" if is_ready else "not ready", "services": services}
    return web.json_response(body, status=200 if is_ready else 503)


async def _store_state(request: web.Request) -> str:
    probe = container(request).probe
    if probe is not None and probe.watching:
        return "up" if probe.is_up else "down"
    try:
        await request.app[STORE_CHECK]()
    except Exception:
        return "down"
    return "up"
