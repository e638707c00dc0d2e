"""Isolation: a flood on one kind of blocking work cannot stall the others.

Store access, password hashing and health checks run on bounded pools of their
own, and read-your-writes waits hold no thread at all. Each test fills one of
them for as long as it likes (a gate it opens itself, or waits far longer than
the test takes), then shows transfers and /health answering meanwhile, and the
next request for the full pool refused at once with 503 and Retry-After.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http import consistency, context
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, parse_id
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import PASSWORD, Account, Api, failure, success

GATE_TIMEOUT = 30.0  # a held thread gives up after this, so a failing test still ends


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        "memory",
        tmp_path,
        PAYFLOW_WORKER_THREADS="2",
        PAYFLOW_STORE_QUEUE="64",
        PAYFLOW_HASH_THREADS="1",
        PAYFLOW_HASH_QUEUE="1",
        PAYFLOW_READ_WAIT_MS="10000",
        **UNLIMITED,
    )


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Held threads wait on this; it opens at the end of the test whatever happens."""
    opened = threading.Event()
    yield opened
    opened.set()


async def transfer_completes(api: Api, asha: Account, ravi: Account) -> None:
    response = await api.client.post(
        "/transactions",
        json={"receiverId": ravi.user_id, "amount": 1},
        headers=asha.auth | {"Prefer": "wait=10"},
    )
    data = await success(response, 201)
    assert data["transaction"]["status"] == "COMPLETED"


async def healthy(client: TestClient) -> None:
    response = await client.get("/health")
    assert response.status == 200, await response.text()


async def refused_as_overloaded(response: ClientResponse) -> None:
    await failure(response, 503, 5007)
    assert response.headers["Retry-After"] == "1"


async def test_a_position_past_the_end_of_the_log_is_refused_at_once(
    client: TestClient, asha: Account
) -> None:
    response = await client.get(
        "/transactions", params={"position": "Transfers:999999999999"}, headers=asha.auth
    )

    error = await failure(response, 400, 2003)
    assert "beyond the end of the log" in error["message"]


async def test_waiting_queries_hold_no_thread_while_transfers_and_health_go_on(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    client.app[CONTAINER].projector.stop()  # nothing will reach the position: they wait
    deposited = await client.post("/wallets/me/deposit", json={"amount": 1}, headers=asha.auth)
    position = deposited.headers["X-PayFlow-Position"]
    waiting = [
        asyncio.create_task(
            client.get("/wallets/me/history", headers=asha.auth | {"X-PayFlow-Position": position})
        )
        for _ in range(40)  # twenty times the store's threads
    ]
    progress = client.app[consistency.PROGRESS]

    async def all_waiting() -> bool:
        return progress.waiting == len(waiting)

    await until(all_waiting)
    await transfer_completes(api, asha, ravi)
    await healthy(client)

    assert not any(task.done() for task in waiting)  # still waiting, holding nothing
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_past_its_bound_a_waiting_query_is_refused_at_once(
    client: TestClient, api: Api, asha: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consistency, "MAX_WAITING", 2)
    client.app[CONTAINER].projector.stop()
    deposited = await client.post("/wallets/me/deposit", json={"amount": 1}, headers=asha.auth)
    insist = asha.auth | {"X-PayFlow-Position": deposited.headers["X-PayFlow-Position"]}
    waiting = [asyncio.create_task(client.get("/transactions", headers=insist)) for _ in range(2)]
    progress = client.app[consistency.PROGRESS]

    async def both_waiting() -> bool:
        return progress.waiting == 2

    await until(both_waiting)
    await refused_as_overloaded(await client.get("/transactions", headers=insist))
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_full_store_pool_refuses_at_once_and_health_still_answers(
    aiohttp_client: AiohttpClient, tmp_path: Path, gate: threading.Event
) -> None:
    settings = make_settings(
        "memory", tmp_path, PAYFLOW_WORKER_THREADS="2", PAYFLOW_STORE_QUEUE="2", **UNLIMITED
    )
    client = await aiohttp_client(create_app(bootstrap(settings)))
    api = Api(client)
    users = [await api.register(f"User {n}", f"user{n}@example.com") for n in range(5)]
    payflow = client.app[CONTAINER].payflow
    real = payflow.wallet_of

    def slow_wallet_of(*args: Any, **kwargs: Any) -> Any:
        gate.wait(GATE_TIMEOUT)
        return real(*args, **kwargs)

    payflow.wallet_of = slow_wallet_of  # type: ignore[method-assign]
    stuck = [  # four users: two threads and a queue of two
        asyncio.create_task(client.get("/wallets/me", headers=user.auth)) for user in users[:4]
    ]

    async def pool_full() -> bool:
        return client.app[CONTAINER].queries.in_use == 4

    await until(pool_full)
    await refused_as_overloaded(await client.get("/wallets/me", headers=users[4].auth))
    await healthy(client)
    gate.set()
    payflow.wallet_of = real  # type: ignore[method-assign]
    for answer in await asyncio.gather(*stuck):
        await success(answer)


async def test_one_user_s_flood_waits_in_its_own_line_while_others_are_served(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    gate: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "LINE", 8)
    settings = make_settings("memory", tmp_path, PAYFLOW_WORKER_THREADS="2", **UNLIMITED)
    client = await aiohttp_client(create_app(bootstrap(settings)))
    asha, ravi = await Api(client).register(), await Api(client).register("Ravi", "r@x.com")
    payflow = client.app[CONTAINER].payflow
    real = payflow.wallet_of

    def slow_wallet_of(*args: Any, **kwargs: Any) -> Any:
        gate.wait(GATE_TIMEOUT)
        return real(*args, **kwargs)

    payflow.wallet_of = slow_wallet_of  # type: ignore[method-assign]
    flood = [  # asha's share is one of the two query threads; eight wait in her line
        asyncio.create_task(client.get("/wallets/me", headers=asha.auth)) for _ in range(9)
    ]
    queries = client.app[context.SHARES].queries

    async def lined_up() -> bool:
        return queries.lined_up(f"user:{parse_id(USER, asha.user_id)}") == 8

    await until(lined_up)
    await failure(await client.get("/wallets/me", headers=asha.auth), 429, 4001)
    ravis = asyncio.create_task(client.get("/wallets/me", headers=ravi.auth))

    async def ravi_has_a_thread() -> bool:
        return client.app[CONTAINER].queries.in_use == 2

    await until(ravi_has_a_thread)  # not behind asha's nine
    gate.set()
    payflow.wallet_of = real  # type: ignore[method-assign]
    await success(await ravis)
    for answer in await asyncio.gather(*flood):
        await success(answer)


async def test_a_login_flood_holds_only_the_hashing_threads_and_its_own_line(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    gate: threading.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "LINE", 1)
    settings = make_settings(
        "memory", tmp_path, PAYFLOW_HASH_THREADS="1", PAYFLOW_HASH_QUEUE="1", **UNLIMITED
    )
    client = await aiohttp_client(create_app(bootstrap(settings)))
    api = Api(client)
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "100")
    hasher = client.app[CONTAINER].payflow.hasher
    real = hasher.verify

    def slow_verify(password_hash: str, password: str) -> bool:
        gate.wait(GATE_TIMEOUT)
        return real(password_hash, password)

    hasher.verify = slow_verify  # type: ignore[method-assign]
    flood = [  # one hashing for this address, and one waiting in its line
        asyncio.create_task(login(client, f"nobody{n}@example.com")) for n in range(2)
    ]
    hashing = client.app[context.SHARES].hashing

    async def line_full() -> bool:
        return hashing.lined_up(f"address:{client.server.host}") == 1

    await until(line_full)
    refused = await login(client, asha.email)
    await failure(refused, 429, 4001)
    assert refused.headers["Retry-After"] == "1"
    await transfer_completes(api, asha, ravi)
    await healthy(client)
    gate.set()
    hasher.verify = real  # type: ignore[method-assign]
    for answer in await asyncio.gather(*flood):
        await failure(answer, 401, 1004)
    await success(await login(client, asha.email))


async def test_logins_are_limited_per_address_whatever_the_email(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    limits = UNLIMITED | {"PAYFLOW_RATE_AUTH_IP": "3/900"}
    client = await aiohttp_client(
        create_app(bootstrap(make_settings("memory", tmp_path, **limits)))
    )
    for n in range(3):
        await failure(await login(client, f"made-up{n}@example.com"), 401, 1004)

    refused = await login(client, "made-up-again@example.com")

    error = await failure(refused, 429, 4002)
    assert "from this address" in error["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert client.app[CONTAINER].hashing.in_use == 0  # refused before any hashing


async def login(client: TestClient, email: str) -> ClientResponse:
    return await client.post("/auth/login", json={"email": email, "password": PASSWORD})


async def until(condition: Any, seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)  # polling a condition, with a deadline
