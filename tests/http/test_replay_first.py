"""Replay first: a retry with an idempotency key gets the outcome its key already has,
whatever the limits, balances or rate limits say now. A client told "refused" after
its money moved would pay again under a new key.

These run on the embedded default (no Redis): the event store alone answers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse

from infrastructure.settings import Settings
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, parse_id
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED
from tests.http.support import REPLAYED, Account, Api, failure, success

WAIT = {"Prefer": "wait=5"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        "memory",
        tmp_path,
        PAYFLOW_DAILY_MAX_COUNT="3",
        PAYFLOW_WALLET_BALANCE_CAP="150000",
        **UNLIMITED | {"PAYFLOW_RATE_TRANSFERS": "6/60"},
    )


async def send(
    api: Api, sender: Account, receiver: Account, amount: str, key: str, **headers: str
) -> ClientResponse:
    return await api.post_raw(
        "/transactions",
        f'{{"receiverId": "{receiver.user_id}", "amount": {amount}}}',
        sender.auth | {"X-Idempotency-Key": key} | headers,
    )


async def replayed(response: ClientResponse, original: dict[str, Any]) -> None:
    assert await success(response, 201) == original
    assert response.headers[REPLAYED] == "true"


async def test_a_retry_of_the_day_s_whole_allowance_is_replayed_not_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100000")
    original = await success(await send(api, asha, ravi, "100000", "big-one", **WAIT), 201)
    assert original["transaction"]["status"] == "COMPLETED"

    await replayed(await send(api, asha, ravi, "100000", "big-one", **WAIT), original)
    await replayed(await send(api, asha, ravi, "100000", "big-one"), original)  # as first answered
    assert await api.balance(ravi) == Decimal(100000)


async def test_a_retry_of_the_day_s_last_transfer_is_replayed_and_a_new_one_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    answers = [
        await success(await send(api, asha, ravi, "1", f"k{n}", **WAIT), 201) for n in (1, 2, 3)
    ]

    await replayed(await send(api, asha, ravi, "1", "k3", **WAIT), answers[-1])
    await failure(await send(api, asha, ravi, "1", "k4", **WAIT), 400, 3012)
    assert await api.balance(ravi) == Decimal(3)


@pytest.mark.parametrize("change", [{"amount": "99999"}, {"amount": "1"}])
async def test_the_same_key_for_another_transfer_is_a_conflict_whatever_the_limits_say(
    api: Api, asha: Account, ravi: Account, change: dict[str, str]
) -> None:
    await api.deposit(asha, "100000")
    await success(await send(api, asha, ravi, "100000", "big-one", **WAIT), 201)

    # Both would break the daily amount; the key decides first.
    await failure(await send(api, asha, ravi, change["amount"], "big-one"), 409, 3006)
    assert await api.balance(asha) == Decimal(0)


async def test_a_retry_over_the_transfer_rate_limit_is_replayed_and_counted(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    first = await send(api, asha, ravi, "1", "once", **WAIT)
    original = await success(first, 201)
    for _ in range(5):  # the limit is 6 a minute: these use it up
        await replayed(await send(api, asha, ravi, "1", "once", **WAIT), original)

    over = await send(api, asha, ravi, "1", "once", **WAIT)
    new = await send(api, asha, ravi, "1", "another", **WAIT)

    await replayed(over, original)
    assert over.headers["RateLimit-Remaining"] == "0"
    assert "Retry-After" not in over.headers
    await failure(new, 429, 4003)
    assert int(new.headers["Retry-After"]) > 0
    await failure(await send(api, asha, ravi, "2", "once", **WAIT), 409, 3006)  # over, and not it
    assert await api.balance(ravi) == Decimal(1)


async def deposit(api: Api, account: Account, amount: str, key: str) -> ClientResponse:
    return await api.post_raw(
        "/wallets/me/deposit", f'{{"amount": {amount}}}', account.auth | {"X-Idempotency-Key": key}
    )


async def test_a_deposit_retry_is_replayed_past_the_cap_and_while_the_wallet_is_frozen(
    api: Api, asha: Account
) -> None:
    original = await success(await deposit(api, asha, "100000", "top-up"))
    await success(await deposit(api, asha, "50000", "more"))  # the wallet is at its cap

    again = await success(await deposit(api, asha, "100000", "top-up"))
    ledger = api.client.app[CONTAINER].ledger
    wallets = ledger.wallets
    wallet = api.client.app[CONTAINER].payflow.wallet_of(parse_id(USER, asha.user_id))
    wallets.freeze_wallet(wallet.id, "under review")
    frozen = await success(await deposit(api, asha, "100000", "top-up"))

    assert again == frozen == original | {"idempotent": True}
    await failure(await deposit(api, asha, "1", "top-up"), 409, 3006)
    await failure(await deposit(api, asha, "1", "fresh"), 400, 3016)  # a new one is refused
    assert wallets.get_wallet(wallet.id).balance_minor == 150_000_00


async def test_two_idempotency_keys_on_one_request_are_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "10")
    headers = [*asha.auth.items(), ("X-Idempotency-Key", "one"), ("X-Idempotency-Key", "two")]
    response = await api.client.post(
        "/transactions", json={"receiverId": ravi.user_id, "amount": 1}, headers=headers
    )

    error = await failure(response, 400, 2003)
    assert "one X-Idempotency-Key" in error["message"]
    assert await api.balance(ravi) == Decimal(0)
