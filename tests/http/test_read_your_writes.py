"""X-PayFlow-Position: a command says where it left the logs; a query can insist on it."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.consistency import parse_position
from interfaces.http.keys import CONTAINER
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Account, Api, failure, success

POSITION = "X-PayFlow-Position"
LOGS = {"Transfers", "Wallets", "Webhooks"}


async def deposit(client: TestClient, account: Account, amount: int) -> str:
    response = await client.post(
        "/wallets/me/deposit", json={"amount": amount}, headers=account.auth
    )
    await success(response)
    return response.headers[POSITION]


async def test_a_command_answer_carries_the_positions_it_produced(
    client: TestClient, asha: Account
) -> None:
    first = parse_position(await deposit(client, asha, 5), LOGS)
    second = parse_position(await deposit(client, asha, 5), LOGS)

    assert set(first) == LOGS
    assert second["Wallets"] > first["Wallets"]  # each deposit appends to the Wallets log


async def test_a_query_with_the_position_sees_the_write(client: TestClient, asha: Account) -> None:
    position = await deposit(client, asha, 7)

    response = await client.get("/wallets/me/history", headers=asha.auth | {POSITION: position})

    data = await success(response)
    assert [m["amount"] for m in data["history"]] == [7]
    reached = parse_position(response.headers[POSITION], LOGS)
    assert all(reached[name] >= at for name, at in parse_position(position, LOGS).items())
    by_parameter = await client.get(
        "/transactions", params={"position": position}, headers=asha.auth
    )
    await success(by_parameter)


async def test_says_so_when_the_read_models_cannot_reach_the_position_in_time(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    waits_briefly = make_settings("memory", tmp_path, PAYFLOW_READ_WAIT_MS="300", **UNLIMITED)
    client = await aiohttp_client(create_app(bootstrap(waits_briefly)))
    asha = await Api(client).register()
    client.app[CONTAINER].projector.stop()  # nothing will project the write
    position = await deposit(client, asha, 7)

    insisted = await client.get("/wallets/me/history", headers=asha.auth | {POSITION: position})
    error = await failure(insisted, 503, 5006)
    assert position in error["message"]
    assert insisted.headers["Retry-After"] == "1"

    relaxed = await client.get("/wallets/me/history", headers=asha.auth)
    data = await success(relaxed)
    assert relaxed.headers["X-PayFlow-Consistency"] == "stale"
    assert data["history"] == []  # stale, and said to be


async def test_refuses_a_position_it_cannot_read(client: TestClient, asha: Account) -> None:
    for bad in ("Wallets", "Wallets:x", "Ledger:3", "Wallets:1,,"):
        response = await client.get("/transactions", headers=asha.auth | {POSITION: bad})
        await failure(response, 400, 2003)


async def test_queries_say_how_far_their_read_models_were(
    client: TestClient, api: Api, asha: Account
) -> None:
    response = await client.get("/transactions", headers=asha.auth)

    await success(response)
    assert set(parse_position(response.headers[POSITION], LOGS)) == LOGS
