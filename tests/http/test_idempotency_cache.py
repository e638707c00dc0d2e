"""Idempotent answers cached in Redis: a repeat skips the store, yet the store still decides."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from infrastructure.redis_ratelimit import connect
from infrastructure.response_cache import IDEMPOTENT_RESPONSE_TTL, CachedResponse
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, parse_id
from tests.conftest import REDIS_URL, closed_port_url, make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import REPLAYED, Account, Api, body_of, failure, success


@pytest.fixture
def settings(tmp_path: Path, redis_prefix: str) -> Settings:
    return make_settings(
        "memory", tmp_path, REDIS_URL=REDIS_URL, PAYFLOW_REDIS_PREFIX=redis_prefix, **UNLIMITED
    )


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[Redis]:
    client = connect(REDIS_URL)
    yield client
    await client.aclose()


def entry_key(prefix: str, command: str, account: Account, key: str) -> str:
    return f"{prefix}idem:{command}:{parse_id(USER, account.user_id)}:{key}"


async def flush(redis: Redis, prefix: str) -> None:
    """What FLUSHALL would do to this deployment, without touching anyone else's keys."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


# What a transfer's request asks of the ledger: its key's earlier use, then its checks.
TRANSFER_CALLS = ("earlier_transfer", "begin_place", "begin_place_in_memory")


def store_must_not_answer(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the use cases fail the test if a request reaches them."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the request reached the event store")

    payflow = client.app[CONTAINER].payflow
    for name in (*TRANSFER_CALLS, "deposit"):
        monkeypatch.setattr(payflow, name, refuse)


def store_calls(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each call of the use cases (they still run)."""
    calls: list[str] = []
    payflow = client.app[CONTAINER].payflow
    for name in (*TRANSFER_CALLS, "deposit"):
        real = getattr(payflow, name)
        called = "transfer" if name in TRANSFER_CALLS else name

        def spy(*args: Any, _real: Any = real, _name: str = called, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(payflow, name, spy)
    return calls


async def deposit(api: Api, account: Account, amount: object, key: str) -> Any:
    return await api.client.post(
        "/wallets/me/deposit",
        json={"amount": amount},
        headers=account.auth | {"X-Idempotency-Key": key},
    )


async def transaction_count(api: Api, account: Account) -> int:
    data = await success(await api.client.get("/transactions", headers=account.auth))
    return len(data["transactions"])


async def test_a_repeat_is_answered_from_the_cache_without_the_store(
    api: Api,
    asha: Account,
    ravi: Account,
    redis: Redis,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 30, "description": "rent"}
    first = await api.send(asha, body, key="rent-june")
    original = await body_of(first)
    assert first.status == 201
    assert REPLAYED not in first.headers
    key = entry_key(redis_prefix, "transfer", asha, "rent-june")
    entry = CachedResponse.decode(await redis.get(key))
    assert entry is not None
    assert entry.status == 201
    assert 0 < await redis.ttl(key) <= IDEMPOTENT_RESPONSE_TTL
    store_must_not_answer(api.client, monkeypatch)

    again = await api.send(asha, body | {"amount": 30.00}, key="rent-june")  # same amount

    assert again.status == 201
    assert again.headers[REPLAYED] == "true"
    assert await body_of(again) == original
    metrics = await (await api.client.get("/metrics")).text()
    assert 'payflow_idempotent_cache_lookups_total{command="transfer",result="hit"} 1.0' in metrics
    assert 'payflow_idempotent_cache_lookups_total{command="transfer",result="miss"} 1.0' in metrics


async def test_a_cached_repeat_answers_as_the_first_waited_answer_did(
    api: Api, asha: Account, ravi: Account, redis: Redis, redis_prefix: str
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 40}
    headers = asha.auth | {"X-Idempotency-Key": "wait-1", "Prefer": "wait=5"}
    first = await api.client.post("/transactions", json=body, headers=headers)
    original = await success(first, 201)
    assert original["transaction"]["status"] == "COMPLETED"
    assert first.headers["Preference-Applied"] == "wait=5"

    cached = await api.client.post("/transactions", json=body, headers=headers)
    await flush(redis, redis_prefix)
    stored = await api.client.post("/transactions", json=body, headers=headers)

    assert await success(cached, 201) == original
    assert "Preference-Applied" not in cached.headers
    assert await success(stored, 201) == original  # the store answers as the first answer did
    assert cached.headers[REPLAYED] == stored.headers[REPLAYED] == "true"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 31}, 409, 3006),
        ({"description": "other"}, 409, 3006),
        ({"currency": "USD"}, 409, 3006),  # a conflict, though USD is not enabled either
    ],
)
async def test_a_key_reused_for_another_transfer_is_answered_by_the_store(
    api: Api,
    asha: Account,
    ravi: Account,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    status: int,
    code: int,
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 30, "description": "rent"}
    original = await success(await api.send(asha, body, key="k"), 201)
    calls = store_calls(api.client, monkeypatch)

    reused = await api.send(asha, body | change, key="k")
    repeated = await api.send(asha, body, key="k")

    await failure(reused, status, code)
    assert calls == ["transfer"]  # the reuse went to the store; the true repeat did not
    assert await success(repeated, 201) == original
    assert await api.balance(asha) == Decimal(70)


async def test_the_same_transfer_named_otherwise_is_replayed_by_the_store(
    api: Api, asha: Account, ravi: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.deposit(asha, "100")
    original = await success(
        await api.send(asha, {"receiverId": ravi.user_id, "amount": 30}, key="k"), 201
    )
    calls = store_calls(api.client, monkeypatch)

    by_handle = await api.send(asha, {"receiverVpa": ravi.vpa, "amount": 30}, key="k")

    assert calls == ["transfer"]  # another fingerprint: not the cached answer
    assert by_handle.headers[REPLAYED] == "true"
    assert await success(by_handle, 201) == original


async def test_after_a_flush_a_repeat_is_answered_by_the_store_with_the_same_transfer(
    api: Api, asha: Account, ravi: Account, redis: Redis, redis_prefix: str
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 25}
    original = await success(await api.send(asha, body, key="once"), 201)
    transaction_id = original["transaction"]["transactionId"]
    await api.settled(asha, transaction_id)

    await flush(redis, redis_prefix)
    again = await api.send(asha, body, key="once")

    assert again.headers[REPLAYED] == "true"
    assert (await success(again, 201))["transaction"]["transactionId"] == transaction_id
    assert await api.balance(ravi) == Decimal(25)
    assert await api.balance(asha) == Decimal(75)
    assert await transaction_count(api, asha) == 1


async def test_with_redis_unreachable_commands_work_and_repeats_come_from_the_store(
    aiohttp_client: AiohttpClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings("memory", tmp_path, REDIS_URL=closed_port_url(), **UNLIMITED)
    api = Api(await aiohttp_client(create_app(bootstrap(settings))))
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    paid_in = await success(await deposit(api, asha, 100, "topup"))
    body = {"receiverId": ravi.user_id, "amount": 10}
    first = await success(await api.send(asha, body, key="send-1"), 201)
    calls = store_calls(api.client, monkeypatch)

    deposit_again = await deposit(api, asha, 100, "topup")
    send_again = await api.send(asha, body, key="send-1")

    assert calls == ["deposit", "transfer"]
    assert send_again.headers[REPLAYED] == "true"
    assert await success(send_again, 201) == first
    assert await success(deposit_again) == paid_in | {"idempotent": True}
    assert deposit_again.headers[REPLAYED] == "true"
    await api.settled(asha, first["transaction"]["transactionId"])
    assert await api.balance(asha) == Decimal(90)
    assert await transaction_count(api, asha) == 1


async def test_two_users_with_one_key_each_get_their_own_answer(
    api: Api, asha: Account, ravi: Account, redis: Redis, redis_prefix: str
) -> None:
    await api.deposit(asha, "10")
    await api.deposit(ravi, "10")
    from_asha = await success(
        await api.send(asha, {"receiverId": ravi.user_id, "amount": 1}, "same"), 201
    )

    first = await api.send(ravi, {"receiverId": asha.user_id, "amount": 1}, "same")
    again = await api.send(ravi, {"receiverId": asha.user_id, "amount": 1}, "same")

    from_ravi = await success(first, 201)
    assert REPLAYED not in first.headers
    assert from_ravi["transaction"]["senderId"] == ravi.user_id
    assert from_ravi["transaction"]["transactionId"] != from_asha["transaction"]["transactionId"]
    assert again.headers[REPLAYED] == "true"
    assert await success(again, 201) == from_ravi
    for account in (asha, ravi):
        assert await redis.exists(entry_key(redis_prefix, "transfer", account, "same")) == 1


async def test_a_cached_repeat_still_needs_a_valid_token(
    api: Api, asha: Account, ravi: Account
) -> None:
    await api.deposit(asha, "10")
    body = {"receiverId": ravi.user_id, "amount": 1}
    await success(await api.send(asha, body, "k"), 201)

    anonymous = await api.client.post(
        "/transactions", json=body, headers={"X-Idempotency-Key": "k"}
    )

    await failure(anonymous, 401, 1001)


async def test_a_deposit_repeat_from_the_cache_says_idempotent_with_the_first_receipt(
    api: Api,
    asha: Account,
    redis: Redis,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await success(await deposit(api, asha, 7, "topup"))
    assert first["idempotent"] is False
    assert await redis.exists(entry_key(redis_prefix, "deposit", asha, "topup")) == 1
    await api.deposit(asha, "3")  # the balance moves on; the receipt must not
    store_must_not_answer(api.client, monkeypatch)

    response = await api.client.post(
        "/wallets/me/deposit", json={"amount": 7.00, "idempotencyKey": "topup"}, headers=asha.auth
    )

    again = await success(response)
    assert response.headers[REPLAYED] == "true"
    assert again["idempotent"] is True
    assert again["operationId"] == first["operationId"]
    assert again["newBalance"] == first["newBalance"] == Decimal(7)
    assert again == first | {"idempotent": True}


async def test_a_deposit_key_reused_for_another_amount_gets_the_stores_conflict(
    api: Api, asha: Account
) -> None:
    await success(await deposit(api, asha, 7, "topup"))

    await failure(await deposit(api, asha, 8, "topup"), 409, 3006)
    assert await api.balance(asha) == Decimal(7)


async def test_a_cached_repeat_counts_against_the_transfer_limit_but_is_not_refused(
    aiohttp_client: AiohttpClient, tmp_path: Path, redis_prefix: str
) -> None:
    settings = make_settings(
        "memory",
        tmp_path,
        REDIS_URL=REDIS_URL,
        PAYFLOW_REDIS_PREFIX=redis_prefix,
        PAYFLOW_RATE_TRANSFERS="2/60",
    )
    api = Api(await aiohttp_client(create_app(bootstrap(settings))))
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "10")
    body = {"receiverId": ravi.user_id, "amount": 1}

    answers = [await api.send(asha, body, "k") for _ in range(3)]
    new = await api.send(asha, body, "another")

    first = await success(answers[0], 201)
    for repeat in answers[1:]:
        assert await success(repeat, 201) == first
        assert repeat.headers[REPLAYED] == "true"
    assert answers[2].headers["RateLimit-Remaining"] == "0"  # counted all the same
    assert "Retry-After" not in answers[2].headers
    await failure(new, 429, 4003)
    assert int(new.headers["Retry-After"]) > 0
