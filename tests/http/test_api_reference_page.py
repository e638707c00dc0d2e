"""The interactive API reference page and its vendored script, as served over HTTP.

tests/browser renders the page in Chromium; these check what it is built from.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient


async def test_both_reference_routes_serve_one_page_that_needs_no_internet(
    client: TestClient,
) -> None:
    responses = [await client.get(path) for path in ("/docs", "/api-docs")]
    pages = [await response.text() for response in responses]

    assert [r.status for r in responses] == [200, 200]
    assert [r.content_type for r in responses] == ["text/html", "text/html"]
    assert pages[0] == pages[1]
    assert "://" not in pages[0], "no CDN, no web fonts: the page must work offline"
    assert 'src="api-docs/assets/standalone.js' in pages[0]
    assert 'url: "api-docs.json"' in pages[0]


async def test_the_reference_script_is_served_from_the_package_with_a_long_cache(
    client: TestClient,
) -> None:
    response = await client.get("/api-docs/assets/standalone.js")

    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert b"createApiReference" in await response.read()
