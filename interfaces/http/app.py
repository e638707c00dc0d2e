"""``create_app``: the aiohttp application over one container."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from interfaces.bootstrap import Container
from interfaces.http import commands, docs, queries
from interfaces.http.errors import envelope_middleware
from interfaces.http.keys import CONTAINER


def create_app(container: Container, run_saga: bool = True) -> web.Application:
    """The HTTP API; with ``run_saga`` the saga runs in this process for its lifetime."""
    app = web.Application(
        middlewares=[envelope_middleware],
        client_max_size=container.settings.max_body_bytes,
    )
    app[CONTAINER] = container
    app.add_routes(commands.routes)
    app.add_routes(queries.routes)
    docs.install(app)  # last: documents every route added above

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if run_saga:
            container.saga.start()
        yield
        container.close()

    app.cleanup_ctx.append(lifecycle)
    return app
