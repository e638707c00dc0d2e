"""/ledger/simulation: credit failures on demand, refunded by the saga; 404 in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Account, Api, failure, success

ROUTES = [
    ("GET", "/ledger/simulation"),
    ("POST", "/ledger/simulation"),
    ("POST", "/ledger/simulation/reset"),
]
OFF = {"enabled": False, "failureRate": 0, "failureType": "ERROR", "failTransactionIds": []}


async def test_starts_switched_off(client: TestClient, asha: Account) -> None:
    assert await success(await client.get("/ledger/simulation", headers=asha.auth)) == OFF


async def test_an_injected_failure_makes_the_saga_refund_the_sender(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "50")
    state = await success(
        await client.post(
            "/ledger/simulation",
            json={"failureRate": 1, "failureType": "TIMEOUT"},
            headers=asha.auth,
        )
    )
    assert state == {**OFF, "enabled": True, "failureRate": 1, "failureType": "TIMEOUT"}

    doomed = await success(
        await client.post(
            "/transactions",
            json={"receiverId": ravi.user_id, "amount": 10},
            headers=asha.auth | {"Prefer": "wait=5"},
        ),
        201,
    )

    transaction = doomed["transaction"]
    assert transaction["status"] == "FAILED"
    assert transaction["failureReason"].startswith("Refunded: Injected fault: credit timed out")
    assert await api.balance(asha) == 50
    assert await api.balance(ravi) == 0
    await success(await client.post("/ledger/simulation/reset", headers=asha.auth))
    assert await success(await client.get("/ledger/simulation", headers=asha.auth)) == OFF


async def test_lists_transfers_to_fail_by_id(client: TestClient, asha: Account) -> None:
    txn = "txn_" + "a" * 32
    state = await success(
        await client.post(
            "/ledger/simulation", json={"failTransactionIds": [txn]}, headers=asha.auth
        )
    )
    assert state["failTransactionIds"] == [txn]
    assert state["enabled"] is True
    assert state["failureRate"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"failureRate": 1.5}, "failureRate"),
        ({"failureRate": -0.1}, "failureRate"),
        ({"failureRate": 0.00001}, "failureRate"),
        ({"failureRate": "0.5"}, "failureRate"),
        ({"failureType": "CRASH"}, "failureType"),
        ({"enabled": "yes"}, "enabled"),
        ({"failTransactionIds": ["nope"]}, "failTransactionIds"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_refuses_bad_settings_and_changes_nothing(
    client: TestClient, asha: Account, body: dict[str, object], field: str
) -> None:
    await failure(
        await client.post("/ledger/simulation", json=body, headers=asha.auth), 400, 2001, field
    )
    assert await success(await client.get("/ledger/simulation", headers=asha.auth)) == OFF


async def test_does_not_exist_in_production_mode(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings(
        "memory", tmp_path, PAYFLOW_ENV="production", JWT_SECRET="x" * 40, **UNLIMITED
    )
    client = await aiohttp_client(create_app(bootstrap(settings)))
    for method, path in ROUTES:
        response = await client.request(method, path, json={"failureRate": 1})
        await failure(response, 404, 2001)


async def test_needs_a_signed_in_caller(client: TestClient, asha: Account) -> None:
    for method, path in ROUTES:
        response = await client.request(method, path, json={"failureRate": 1})
        await failure(response, 401, 1001)
    assert await success(await client.get("/ledger/simulation", headers=asha.auth)) == OFF


@pytest.mark.parametrize(
    ("overrides", "embedded"),
    [
        ({"PAYFLOW_SIMULATION": "off"}, True),  # switched off, even in the embedded mode
        ({}, False),  # server mode: off unless switched on
    ],
)
async def test_can_be_switched_off_entirely(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    overrides: dict[str, str],
    embedded: bool,
) -> None:
    settings = make_settings("memory", tmp_path, **UNLIMITED | overrides)
    client = await aiohttp_client(create_app(bootstrap(settings), run_workers=embedded))
    asha = await Api(client).register()
    for method, path in ROUTES:
        response = await client.request(method, path, json={"failureRate": 1}, headers=asha.auth)
        await failure(response, 404, 2001)


async def test_server_mode_switches_it_on_when_asked(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings("memory", tmp_path, PAYFLOW_SIMULATION="on", **UNLIMITED)
    client = await aiohttp_client(create_app(bootstrap(settings), run_workers=False))
    asha = await Api(client).register()
    assert await success(await client.get("/ledger/simulation", headers=asha.auth)) == OFF
