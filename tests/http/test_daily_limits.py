"""Daily sending limits over HTTP: 400 with its own code once a wallet has used its day."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import ClientResponse

from infrastructure.settings import Settings
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED
from tests.http.support import Account, Api, failure, success


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        "memory",
        tmp_path,
        PAYFLOW_DAILY_MAX_COUNT="2",
        PAYFLOW_DAILY_MAX_AMOUNT="50",
        **UNLIMITED,
    )


async def send(api: Api, sender: Account, receiver: Account, amount: str) -> ClientResponse:
    return await api.post_raw(
        "/transactions",
        f'{{"receiverId": "{receiver.user_id}", "amount": {amount}}}',
        sender.auth | {"Prefer": "wait=5"},
    )


async def test_refuses_the_transfer_after_the_daily_count_is_used(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    for _ in range(2):
        data = await success(await send(api, asha, ravi, "1"), 201)
        assert data["transaction"]["status"] == "COMPLETED"

    error = await failure(await send(api, asha, ravi, "1"), 400, 3012)

    assert "2 transfers" in error["message"]
    assert await api.balance(ravi) == 2


async def test_refuses_the_transfer_that_would_pass_the_daily_amount(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    await success(await send(api, asha, ravi, "30"), 201)

    error = await failure(await send(api, asha, ravi, "20.01"), 400, 3012)

    assert "INR 50.00" in error["message"]
    assert await api.balance(asha) == 70
