"""PostgreSQL goes away and comes back: commands fail fast with 503, nothing is written
in part, and everything resumes without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from tests.conftest import PG, make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Api, failure, success
from tests.support.proxy import CuttableProxy
from tests.support.saga import checked_audit

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    through = CuttableProxy(int(PG["port"]))
    through.restore()
    yield through
    through.cut()


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, settings: Settings, proxy: CuttableProxy
) -> AsyncIterator[TestClient]:
    """The app, closed (its saga and projector stopped) while the proxy still carries
    their connections: the proxy's own teardown must not cut a running app."""
    served = await aiohttp_client(create_app(bootstrap(settings)))
    yield served
    await served.close()


@pytest.fixture
def settings(tmp_path: Path, postgres_schema: str, proxy: CuttableProxy) -> Settings:
    return make_settings(
        "postgres",
        tmp_path,
        postgres_schema,
        POSTGRES_PORT=str(proxy.port),
        PAYFLOW_SAGA_POLL_MS="100",
        **UNLIMITED,
    )


async def until(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)  # polling a condition, with a deadline


async def test_commands_fail_fast_during_an_outage_and_all_resumes_after(
    client: TestClient, api: Api, proxy: CuttableProxy
) -> None:
    asha = await api.register("Asha Kumar", "asha@example.com")
    ravi = await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "100")

    proxy.cut()

    async def not_ready() -> bool:
        return (await client.get("/health/ready")).status == 503

    await until(not_ready)  # the probe has noticed: from now on writes fail at once
    deposit = await asyncio.wait_for(
        client.post("/wallets/me/deposit", json={"amount": 5}, headers=asha.auth), 5
    )
    error = await failure(deposit, 503, 5002)
    assert "nothing was written" in error["message"]
    assert deposit.headers["Retry-After"] == "1"
    send = await asyncio.wait_for(
        api.send(asha, {"receiverId": ravi.user_id, "amount": 1}, key="during-outage"), 5
    )
    await failure(send, 503, 5002)

    proxy.restore()

    async def ready_again() -> bool:
        return (await client.get("/health/ready")).status == 200

    await until(ready_again)
    assert await api.balance(asha) == Decimal(100)  # the failed deposit wrote nothing
    again = await success(
        await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}, key="during-outage"), 201
    )
    assert (await api.settled(asha, again["transaction"]["transactionId"]))["status"] == "COMPLETED"
    assert await api.balance(ravi) == Decimal(1)
    report = await asyncio.to_thread(checked_audit, client.app[CONTAINER].ledger)
    assert report.violations == []
