"""Fixtures for in-process HTTP tests: one app over an in-memory store per test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from tests.conftest import make_settings
from tests.http.support import Account, Api

AiohttpClient = Callable[[web.Application], Awaitable[TestClient]]


# Tests register, log in and send far more often than the real limits allow;
# tests/http/test_rate_limits.py sets small limits of its own.
UNLIMITED = {
    "PAYFLOW_RATE_GLOBAL": "1000000/900",
    "PAYFLOW_RATE_AUTH": "1000000/900",
    "PAYFLOW_RATE_AUTH_IP": "1000000/900",
    "PAYFLOW_RATE_TRANSFERS": "1000000/60",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings("memory", tmp_path, **UNLIMITED)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(bootstrap(settings)))


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
async def asha(api: Api) -> Account:
    return await api.register("Asha Kumar", "asha@example.com")


@pytest.fixture
async def ravi(api: Api) -> Account:
    return await api.register("Ravi Shah", "ravi@example.com")


@pytest.fixture
def store_down(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The event store stops answering (the probe the health checks use fails)."""

    def unreachable() -> int:
        raise OSError("store unreachable")

    recorder = client.app[CONTAINER].ledger.wallets.recorder
    monkeypatch.setattr(recorder, "max_notification_id", unreachable)
