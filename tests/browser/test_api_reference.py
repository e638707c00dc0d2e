"""The interactive API reference, rendered by a real headless Chromium, with no internet.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; Playwright's own browser
download cannot work on these machines. Without Chromium the test skips, except in CI.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright, expect

from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.openapi import OPERATIONS
from tests.conftest import make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RENDER_TIMEOUT_MS = 30_000
SHOWN = [
    OPERATIONS[("POST", "/transactions")].summary,
    OPERATIONS[("POST", "/wallets/me/deposit")].summary,
]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def require_chromium() -> None:
    """In CI Chromium is mandatory: its absence fails the run instead of skipping."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing, and CI requires it (.ci/run installs it)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI=true makes this fail)")


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    """The real application on a free loopback port, in this test's event loop."""
    runner = web.AppRunner(create_app(bootstrap(make_settings("memory", tmp_path))))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def is_local(url: str) -> bool:
    """True for loopback and for URLs that never touch the network (data:, blob:)."""
    parts = urlsplit(url)
    return not parts.netloc or parts.hostname == "127.0.0.1"


async def test_docs_page_renders_the_operations_without_leaving_the_machine(
    base_url: str, browser: Browser, tmp_path: Path
) -> None:
    context = await browser.new_context()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = await context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    await context.route(lambda url: not is_local(url), lambda route: route.abort())
    document = await (await context.request.get(f"{base_url}/api-docs.json")).json()
    summaries = [op["summary"] for ops in document["paths"].values() for op in ops.values()]

    await page.goto(f"{base_url}/docs")
    for summary in summaries:
        await expect(page.get_by_text(summary).first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    await page.evaluate("document.fonts.ready.then(() => true)")  # fonts requested, loaded
    await page.screenshot(path=tmp_path / "api-reference.png")  # kept by pytest, to look at
    await context.close()

    assert f"{base_url}/api-docs.json" in requested
    assert [url for url in requested if not is_local(url)] == []
    assert page_errors == []
