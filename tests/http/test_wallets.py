"""The caller's wallet, and deposits: exact amounts, idempotency, limits."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient

from tests.http.support import (
    IDEMPOTENCY,
    REPLAYED,
    WALLET_KEYS,
    Account,
    Api,
    failure,
    success,
)

DEPOSIT = "/wallets/me/deposit"


async def test_a_new_user_has_an_empty_active_inr_wallet(client: TestClient, asha: Account) -> None:
    data = await success(await client.get("/wallets/me", headers=asha.auth))

    wallet = data["wallet"]
    assert set(wallet) >= WALLET_KEYS
    assert wallet["walletId"].startswith("wallet_")
    assert wallet["userId"] == asha.user_id
    assert wallet["vpa"] == asha.vpa
    assert wallet["balance"] == 0
    assert wallet["currency"] == "INR"
    assert wallet["isActive"] is True
    assert datetime.fromisoformat(wallet["createdAt"]).tzinfo is not None
    assert datetime.fromisoformat(wallet["updatedAt"]).tzinfo is not None


async def test_deposits_add_up_exactly_on_the_wire(api: Api, asha: Account) -> None:
    first = await api.post_raw(DEPOSIT, '{"amount": 0.1}', asha.auth)
    assert (await success(first))["newBalance"] == Decimal("0.1")

    second = await api.post_raw(DEPOSIT, '{"amount": 0.2}', asha.auth)

    text = await second.text()
    assert re.search(r'"newBalance":\s*0\.3\s*[,}]', text), text
    data = await success(second)
    assert data["message"]
    assert data["operationId"]
    assert data["idempotent"] is False
    assert REPLAYED not in second.headers
    wallet = await api.client.get("/wallets/me", headers=asha.auth)
    assert re.search(r'"balance":\s*0\.3\s*[,}]', await wallet.text())


@pytest.mark.parametrize(
    ("amount", "expected"), [("250", "250"), ("99.5", "99.5"), ("0.01", "0.01")]
)
async def test_a_deposit_is_credited_exactly_as_sent(
    api: Api, asha: Account, amount: str, expected: str
) -> None:
    data = await api.deposit(asha, amount)

    assert data["newBalance"] == Decimal(expected)
    assert await api.balance(asha) == Decimal(expected)


@pytest.mark.parametrize("via", ["header", "body"])
async def test_a_repeated_deposit_key_replays_without_a_second_credit(
    api: Api, asha: Account, via: str
) -> None:
    def request() -> tuple[str, dict[str, str]]:
        if via == "header":
            return '{"amount": 50}', asha.auth | {IDEMPOTENCY: "dep-1"}
        return '{"amount": 50, "idempotencyKey": "dep-1"}', asha.auth

    first = await api.post_raw(DEPOSIT, *request())
    original = await success(first)
    assert original["idempotent"] is False

    again = await api.post_raw(DEPOSIT, *request())

    replay = await success(again)
    assert again.headers[REPLAYED] == "true"
    assert replay["idempotent"] is True
    assert replay["operationId"] == original["operationId"]
    assert replay["newBalance"] == original["newBalance"] == Decimal(50)
    assert await api.balance(asha) == Decimal(50)


async def test_a_deposit_key_in_the_header_and_the_same_key_in_the_body_are_one_key(
    api: Api, asha: Account
) -> None:
    first = await api.post_raw(DEPOSIT, '{"amount": 7}', asha.auth | {IDEMPOTENCY: "k-1"})
    await success(first)

    again = await api.post_raw(
        DEPOSIT, '{"amount": 7, "idempotencyKey": "k-1"}', asha.auth | {IDEMPOTENCY: "k-1"}
    )

    assert (await success(again))["idempotent"] is True
    assert await api.balance(asha) == Decimal(7)


async def test_a_deposit_key_reused_for_another_amount_is_a_conflict(
    api: Api, asha: Account
) -> None:
    await success(await api.post_raw(DEPOSIT, '{"amount": 10}', asha.auth | {IDEMPOTENCY: "k"}))

    response = await api.post_raw(DEPOSIT, '{"amount": 11}', asha.auth | {IDEMPOTENCY: "k"})

    await failure(response, 409, 3006)
    assert await api.balance(asha) == Decimal(10)


async def test_deposit_keys_of_different_users_do_not_collide(
    api: Api, asha: Account, ravi: Account
) -> None:
    await success(await api.post_raw(DEPOSIT, '{"amount": 10}', asha.auth | {IDEMPOTENCY: "k"}))

    response = await api.post_raw(DEPOSIT, '{"amount": 20}', ravi.auth | {IDEMPOTENCY: "k"})

    assert (await success(response))["idempotent"] is False
    assert await api.balance(ravi) == Decimal(20)
    assert await api.balance(asha) == Decimal(10)


async def test_a_deposit_with_different_header_and_body_keys_is_refused(
    api: Api, asha: Account
) -> None:
    response = await api.post_raw(
        DEPOSIT, '{"amount": 10, "idempotencyKey": "a"}', asha.auth | {IDEMPOTENCY: "b"}
    )

    await failure(response, 400, 2003)
    assert await api.balance(asha) == 0


@pytest.mark.parametrize("key", ["", "has space", "semi;colon", "k" * 65, "tab\tkey"])
async def test_a_deposit_with_a_malformed_key_header_is_refused(
    api: Api, asha: Account, key: str
) -> None:
    headers = asha.auth | {IDEMPOTENCY: key}
    response = await api.post_raw(DEPOSIT, '{"amount": 10}', headers)

    await failure(response, 400, 2003)
    assert await api.balance(asha) == 0


@pytest.mark.parametrize(
    "amount",
    ["10.001", "0", "0.00", "-5", "-0", '"10"', "true", "null", "1e400", "NaN", "Infinity", "[1]"],
)
async def test_a_deposit_of_an_invalid_amount_is_refused(
    api: Api, asha: Account, amount: str
) -> None:
    response = await api.post_raw(DEPOSIT, f'{{"amount": {amount}}}', asha.auth)

    await failure(response, 400, 2002, "amount")
    assert await api.balance(asha) == 0


async def test_a_deposit_without_an_amount_is_missing_a_field(api: Api, asha: Account) -> None:
    response = await api.post_raw(DEPOSIT, "{}", asha.auth)

    await failure(response, 400, 2004, "amount")


async def test_a_deposit_over_the_limit_is_refused_and_the_limit_itself_is_allowed(
    api: Api, asha: Account
) -> None:
    response = await api.post_raw(DEPOSIT, '{"amount": 100000.01}', asha.auth)

    error = await failure(response, 400, 3011)
    assert "limit" in error["message"]
    assert await api.balance(asha) == 0
    assert (await api.deposit(asha, "100000.00"))["newBalance"] == Decimal(100000)


async def test_a_deposit_needs_a_token(api: Api) -> None:
    await failure(await api.post_raw(DEPOSIT, '{"amount": 10}'), 401, 1001)


@pytest.mark.parametrize(
    ("currency", "code", "fields"), [("USD", 3015, ()), ("inr", 2001, ("currency",))]
)
async def test_a_deposit_in_a_currency_that_is_not_enabled_is_refused(
    api: Api, asha: Account, currency: str, code: int, fields: tuple[str, ...]
) -> None:
    text = f'{{"amount": 10, "currency": "{currency}"}}'

    await failure(await api.post_raw(DEPOSIT, text, asha.auth), 400, code, *fields)
    assert await api.balance(asha) == 0
