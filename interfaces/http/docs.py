"""The API's own description: the OpenAPI document, built once when the app starts,
and an interactive reference for it (Scalar, vendored, so it works with no internet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from interfaces.http.encoding import dumps
from interfaces.http.openapi import build_spec

routes = web.RouteTableDef()
SPEC = web.AppKey("openapi_spec", dict[str, Any])

SCALAR_VERSION = "1.76.0"
SCALAR_BUNDLE = Path(__file__).parent / "static" / "scalar" / "standalone.js"
# Relative URLs, so that the page works under a path prefix too; the version busts caches.
PAGE = f"""<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>PayFlow API reference</title>
    <link rel="icon" href="data:,">
  </head>
  <body>
    <div id="app"></div>
    <script src="api-docs/assets/standalone.js?v={SCALAR_VERSION}"></script>
    <script>
      Scalar.createApiReference("#app", {{
        url: "api-docs.json",
        withDefaultFonts: false,
        defaultOpenAllTags: true,
        telemetry: false,
        authentication: {{ preferredSecurityScheme: "bearer" }},
        showDeveloperTools: "never",
        agent: {{ disabled: true }},
        mcp: {{ disabled: true }},
      }});
    </script>
  </body>
</html>
"""


@routes.get("/api-docs.json")
async def openapi_document(request: web.Request) -> web.Response:
    """The document, naming as its server the address it was asked for at, so that the
    reference page's examples (curl and the rest) are complete commands."""
    here = {"url": f"{request.scheme}://{request.host}", "description": "This PayFlow server"}
    document = request.app[SPEC] | {"servers": [here]}
    return web.json_response(document, dumps=dumps, headers={"Vary": "Host"})


@routes.get("/api-docs")
@routes.get("/docs")
async def reference_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@routes.get("/api-docs/assets/standalone.js")
async def reference_bundle(request: web.Request) -> web.FileResponse:
    headers = {
        "Content-Type": "text/javascript; charset=utf-8",
        "Cache-Control": "public, max-age=31536000, immutable",
    }
    return web.FileResponse(SCALAR_BUNDLE, headers=headers)


async def _build(app: web.Application) -> None:
    app[SPEC] = build_spec(app)


def install(app: web.Application) -> None:
    """Serve the document and its reference page; build the document once every route is
    registered."""
    app.add_routes(routes)
    app.on_startup.append(_build)
