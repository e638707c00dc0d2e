"""The API's own description: the OpenAPI document, built once when the app starts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from interfaces.http.encoding import dumps
from interfaces.http.openapi import build_spec

routes = web.RouteTableDef()
SPEC = web.AppKey("openapi_spec", dict[str, Any])


@routes.get("/api-docs.json")
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[SPEC], dumps=dumps)


async def _build(app: web.Application) -> None:
    app[SPEC] = build_spec(app)


def install(app: web.Application) -> None:
    """Serve the document; build it once every route is registered."""
    app.add_routes(routes)
    app.on_startup.append(_build)
