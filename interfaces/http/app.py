"""``create_app``: the aiohttp application over one container."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from infrastructure.redis_ratelimit import answers
from interfaces.bootstrap import Container
from interfaces.http import (
    access,
    auth_routes,
    commands,
    consistency,
    context,
    docs,
    health,
    listings,
    metrics,
    queries,
    simulation,
    webhooks,
)
from interfaces.http.errors import envelope_middleware, store_guard_middleware
from interfaces.http.keys import CONTAINER, OUTCOMES, REPLIES
from interfaces.http.ratelimit import rate_limit_headers, rate_limit_middleware
from interfaces.http.replies import WriterReplies
from interfaces.http.waiting import OutcomeWatch, TransferOutcomes

log = logging.getLogger(__name__)


def create_app(container: Container, run_workers: bool = True) -> web.Application:
    """The HTTP API; with ``run_workers`` the saga and projector run in this process too."""
    app = web.Application(
        middlewares=[
            access.access_log_middleware,
            metrics.metrics_middleware,
            envelope_middleware,
            rate_limit_middleware,
            store_guard_middleware,
            consistency.position_middleware,
        ],
        client_max_size=container.settings.max_body_bytes,
    )
    app[CONTAINER] = container
    app[context.SHARES] = context.Shares.of(container)
    app[OUTCOMES] = TransferOutcomes()
    app[REPLIES] = WriterReplies()
    app[metrics.METRICS] = metrics.HttpMetrics()
    consistency.install(app, only_writer=run_workers)
    app[simulation.SIMULATION] = container.settings.simulation_routes(embedded=run_workers)
    app.on_response_prepare.append(rate_limit_headers)
    app.add_routes(auth_routes.routes)
    app.add_routes(commands.routes)
    health.install(app)
    app.add_routes(queries.routes)
    app.add_routes(listings.routes)
    app.add_routes(simulation.routes)
    app.add_routes(webhooks.routes)
    app.add_routes(metrics.routes)
    docs.install(app)  # last: documents every route added above

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        outcomes = app[OUTCOMES]
        outcomes.bind(asyncio.get_running_loop())
        app[REPLIES].bind(asyncio.get_running_loop())
        container.ledger.transfers.lead(outcomes)
        watch = None
        if not run_workers:  # the saga commits elsewhere: watch the log for outcomes
            transfers = container.ledger.transfers
            watch = OutcomeWatch(outcomes, transfers.recorder, log_name=transfers.name)
            watch.start()
        container.share_commits(
            listen=run_workers, on_hint=None if watch is None else watch.heard_of
        )
        if container.probe is not None:
            container.probe.start()
        if run_workers:
            container.saga.start()
            container.projector.start(container.settings.saga_poll_interval)
            await container.webhook_worker.start()
        yield
        if run_workers:
            await container.webhook_worker.stop()
        if watch is not None:
            await asyncio.to_thread(watch.stop)
        container.close()

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.append(redis_connection)
    return app


async def redis_connection(app: web.Application) -> AsyncIterator[None]:
    """Connect to Redis when configured (a warning, not a failure, if it does not
    answer: rate limits then count per process), and close it on shutdown."""
    redis = app[CONTAINER].redis
    if redis is not None and not await answers(redis):
        log.warning("Redis does not answer; rate limits count per process until it does")
    yield
    if redis is not None:
        await redis.aclose()
