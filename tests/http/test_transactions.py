"""Transfers: accepting them, the saga's outcome, idempotency, and who may read them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.http.support import (
    REPLAYED,
    TRANSACTION_KEYS,
    Account,
    Api,
    failure,
    success,
)


async def test_a_transfer_by_user_id_is_accepted_then_completes_and_moves_money_exactly(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100.10")
    body = {"receiverId": ravi.user_id, "amount": 40.05, "description": "chai"}

    response = await api.send(asha, body)

    data = await success(response, 201)
    transaction = data["transaction"]
    assert set(transaction) >= TRANSACTION_KEYS
    assert transaction["transactionId"].startswith("txn_")
    assert transaction["senderId"] == asha.user_id
    assert transaction["receiverId"] == ravi.user_id
    assert transaction["amount"] == Decimal("40.05")
    assert transaction["currency"] == "INR"
    assert transaction["status"] == "INITIATED"
    assert transaction["description"] == "chai"
    assert transaction["failureReason"] is None
    assert datetime.fromisoformat(transaction["initiatedAt"]).tzinfo is not None
    assert transaction["completedAt"] is None
    assert REPLAYED not in response.headers

    settled = await api.settled(asha, transaction["transactionId"])
    assert settled["status"] == "COMPLETED"
    assert settled["failureReason"] is None
    assert datetime.fromisoformat(settled["completedAt"]).tzinfo is not None
    assert await api.balance(asha) == Decimal("60.05")
    assert await api.balance(ravi) == Decimal("40.05")


async def test_a_transfer_by_handle_reaches_the_handles_owner(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "10")

    data = await success(await api.send(asha, {"receiverVpa": ravi.vpa, "amount": 2.5}), 201)

    assert data["transaction"]["receiverId"] == ravi.user_id
    settled = await api.settled(ravi, data["transaction"]["transactionId"])
    assert settled["status"] == "COMPLETED"
    assert await api.balance(asha) == Decimal("7.5")
    assert await api.balance(ravi) == Decimal("2.5")


async def test_a_transfer_without_enough_funds_fails_and_moves_nothing(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "5")

    data = await success(await api.send(asha, {"receiverId": ravi.user_id, "amount": 10}), 201)

    settled = await api.settled(asha, data["transaction"]["transactionId"])
    assert settled["status"] == "FAILED"
    assert settled["failureReason"]
    assert await api.balance(asha) == Decimal(5)
    assert await api.balance(ravi) == 0


async def test_sending_to_yourself_is_refused(api: Api, asha: Account) -> None:
    await api.deposit(asha, "10")

    by_id = await api.send(asha, {"receiverId": asha.user_id, "amount": 1})
    by_vpa = await api.send(asha, {"receiverVpa": asha.vpa, "amount": 1})

    await failure(by_id, 400, 3005)
    await failure(by_vpa, 400, 3005)
    assert await api.balance(asha) == Decimal(10)


@pytest.mark.parametrize(
    "receiver",
    [
        {"receiverId": f"user_{uuid.uuid4().hex}"},
        {"receiverId": "user_zzz"},
        {"receiverId": f"wallet_{uuid.uuid4().hex}"},
        {"receiverId": "abc"},
        {"receiverVpa": "nobody@payflow"},
    ],
)
async def test_a_transfer_to_an_unknown_receiver_is_not_found(
    api: Api, asha: Account, receiver: dict[str, str]
) -> None:
    await api.deposit(asha, "10")

    await failure(await api.send(asha, receiver | {"amount": 1}), 404, 3002)
    assert await api.balance(asha) == Decimal(10)


@pytest.mark.parametrize("receivers", ["both", "neither"])
async def test_a_transfer_needs_exactly_one_receiver(
    api: Api, asha: Account, ravi: Account, receivers: str
) -> None:
    body: dict[str, Any] = {"amount": 1}
    if receivers == "both":
        body |= {"receiverId": ravi.user_id, "receiverVpa": ravi.vpa}

    response = await api.send(asha, body)

    await failure(response, 400, {2001, 2003, 2004}, "receiverId")


async def test_a_description_over_255_characters_is_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    body = {"receiverId": ravi.user_id, "amount": 1, "description": "x" * 256}

    await failure(await api.send(asha, body), 400, 2001, "description")
    await success(await api.send(asha, body | {"description": "x" * 255}), 201)


@pytest.mark.parametrize("amount", ["1.001", "0", "-1", '"1"', "true", "NaN", "1e400"])
async def test_a_transfer_of_an_invalid_amount_is_refused(
    api: Api, asha: Account, ravi: Account, amount: str
) -> None:
    text = f'{{"receiverId": "{ravi.user_id}", "amount": {amount}}}'

    await failure(await api.post_raw("/transactions", text, asha.auth), 400, 2002, "amount")


async def test_a_transfer_over_the_per_transfer_limit_is_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    text = f'{{"receiverId": "{ravi.user_id}", "amount": 100000.01}}'

    error = await failure(await api.post_raw("/transactions", text, asha.auth), 400, 3011)
    assert "limit" in error["message"]


async def test_a_transfer_with_a_malformed_key_header_is_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    body = {"receiverId": ravi.user_id, "amount": 1}

    await failure(await api.send(asha, body, key="not a key!"), 400, 2003)


async def test_a_transfer_needs_a_token(client: TestClient, ravi: Account) -> None:
    response = await client.post("/transactions", json={"receiverId": ravi.user_id, "amount": 1})

    await failure(response, 401, 1001)


async def test_a_repeated_transfer_key_replays_the_original_answer_and_moves_money_once(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 30, "description": "rent"}
    first = await api.send(asha, body, key="txn-key-1")
    original = await success(first, 201)
    transaction_id = original["transaction"]["transactionId"]
    assert (await api.settled(asha, transaction_id))["status"] == "COMPLETED"

    again = await api.send(asha, body, key="txn-key-1")

    assert again.headers[REPLAYED] == "true"
    assert await success(again, 201) == original
    assert await api.balance(ravi) == Decimal(30)
    assert await api.balance(asha) == Decimal(70)


@pytest.mark.parametrize(
    "change",
    [{"amount": 31}, {"description": "other"}, {"receiverId": "third"}],
)
async def test_a_transfer_key_reused_for_another_transfer_is_a_conflict(
    api: Api, asha: Account, ravi: Account, change: dict[str, Any]
) -> None:
    third = await api.register("Meera Iyer", "meera@example.com")
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 30, "description": "rent"}
    first = await success(await api.send(asha, body, key="k"), 201)
    await api.settled(asha, first["transaction"]["transactionId"])
    if change.get("receiverId") == "third":
        change = {"receiverId": third.user_id}

    await failure(await api.send(asha, body | change, key="k"), 409, 3006)
    assert await api.balance(asha) == Decimal(70)
    assert await api.balance(third) == 0


async def test_transfer_keys_of_different_senders_do_not_collide(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "10")
    await api.deposit(ravi, "10")
    from_asha = await success(
        await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}, "k"), 201
    )

    response = await api.send(ravi, {"receiverId": asha.user_id, "amount": 1}, "k")

    from_ravi = await success(response, 201)
    assert REPLAYED not in response.headers
    assert from_ravi["transaction"]["transactionId"] != from_asha["transaction"]["transactionId"]


async def test_concurrent_requests_with_one_key_create_exactly_one_transfer(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 12.34}

    responses = await asyncio.gather(*(api.send(asha, body, key="race") for _ in range(20)))

    datas = [await success(response, 201) for response in responses]
    ids = {data["transaction"]["transactionId"] for data in datas}
    assert len(ids) == 1
    originals = [r for r in responses if r.headers.get(REPLAYED) != "true"]
    assert len(originals) == 1
    assert (await api.settled(asha, ids.pop()))["status"] == "COMPLETED"
    assert await api.balance(ravi) == Decimal("12.34")
    assert await api.balance(asha) == Decimal("87.66")


async def test_both_parties_can_read_a_transfer(api: Api, asha: Account, ravi: Account) -> None:
    data = await success(await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}), 201)
    transaction_id = data["transaction"]["transactionId"]

    for party in (asha, ravi):
        read = await success(await api.transaction(party, transaction_id))
        assert read["transaction"]["transactionId"] == transaction_id
        assert read["transaction"]["senderId"] == asha.user_id


async def test_a_third_user_cannot_read_a_transfer(api: Api, asha: Account, ravi: Account) -> None:
    meera = await api.register("Meera Iyer", "meera@example.com")
    data = await success(await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}), 201)

    response = await api.transaction(meera, data["transaction"]["transactionId"])

    await failure(response, 403, 1005)


@pytest.mark.parametrize(
    "transaction_id",
    [f"txn_{uuid.uuid4().hex}", "txn_zzz", "abc", f"user_{uuid.uuid4().hex}"],
)
async def test_reading_an_unknown_or_malformed_transfer_id_is_not_found(
    api: Api, asha: Account, transaction_id: str
) -> None:
    await failure(await api.transaction(asha, transaction_id), 404, 3004)


async def test_reading_a_transfer_needs_a_token(client: TestClient) -> None:
    await failure(await client.get(f"/transactions/txn_{uuid.uuid4().hex}"), 401, 1001)


async def test_a_transfer_in_a_currency_that_is_not_enabled_is_refused(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "10")
    body = {"receiverId": ravi.user_id, "amount": 1, "currency": "USD"}

    await failure(await api.send(asha, body), 400, 3015)
    assert await api.balance(asha) == Decimal(10)
