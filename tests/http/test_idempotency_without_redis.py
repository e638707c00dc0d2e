"""Idempotency rests on the event store alone: Redis down or flushed changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from infrastructure.settings import Settings
from tests.conftest import REDIS_URL, closed_port_url, make_settings, require_redis
from tests.http.conftest import UNLIMITED
from tests.http.support import Account, Api, failure, success

REPLAYED = "X-Idempotent-Replayed"


@pytest.fixture(params=["redis-down", "redis-flushed"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "redis-down":
        url = closed_port_url()
    else:
        require_redis()
        url = REDIS_URL
    prefix = f"payflow-test-{uuid.uuid4().hex[:8]}:"
    return make_settings(
        "memory", tmp_path, REDIS_URL=url, PAYFLOW_REDIS_PREFIX=prefix, **UNLIMITED
    )


def flush_our_keys(settings: Settings) -> None:
    """What FLUSHALL would do to this deployment, without touching anyone else's keys."""
    if settings.redis_url != REDIS_URL:
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(f"{settings.redis_prefix}*"):
            client.delete(key)
    finally:
        client.close()


async def test_twenty_concurrent_requests_with_one_key_make_one_transfer(
    api: Api, asha: Account, ravi: Account, settings: Settings
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 5}

    first = await asyncio.gather(*(api.send(asha, body, key="rent") for _ in range(20)))
    flush_our_keys(settings)
    later = await asyncio.gather(*(api.send(asha, body, key="rent") for _ in range(5)))

    datas = [await success(response, 201) for response in (*first, *later)]
    assert len({d["transaction"]["transactionId"] for d in datas}) == 1
    assert sum(r.headers.get(REPLAYED) != "true" for r in (*first, *later)) == 1
    await api.settled(asha, datas[0]["transaction"]["transactionId"])
    assert await api.balance(ravi) == Decimal(5)


async def test_a_deposit_key_credits_once(api: Api, asha: Account, settings: Settings) -> None:
    deposits = await asyncio.gather(
        *(
            api.client.post(
                "/wallets/me/deposit",
                json={"amount": 7},
                headers=asha.auth | {"X-Idempotency-Key": "topup"},
            )
            for _ in range(20)
        )
    )
    flush_our_keys(settings)
    again = await api.client.post(
        "/wallets/me/deposit",
        json={"amount": 7},
        headers=asha.auth | {"X-Idempotency-Key": "topup"},
    )

    results = [await success(r) for r in (*deposits, again)]
    assert sum(not r["idempotent"] for r in results) == 1
    assert {r["operationId"] for r in results} == {results[0]["operationId"]}
    assert await api.balance(asha) == Decimal(7)


async def test_a_waited_transfer_is_replayed_as_first_answered_once_its_cache_entry_is_gone(
    api: Api, asha: Account, ravi: Account, settings: Settings
) -> None:
    await api.deposit(asha, "100000")
    body = {"receiverId": ravi.user_id, "amount": 100000}
    headers = asha.auth | {"X-Idempotency-Key": "big-one", "Prefer": "wait=5"}
    first = await api.client.post("/transactions", json=body, headers=headers)
    original = await success(first, 201)
    assert original["transaction"]["status"] == "COMPLETED"
    flush_our_keys(settings)

    again = await api.client.post("/transactions", json=body, headers=headers)
    other = await api.client.post("/transactions", json=body | {"amount": 1}, headers=headers)

    assert await success(again, 201) == original  # not 3012: the day's allowance is spent
    assert again.headers[REPLAYED] == "true"
    await failure(other, 409, 3006)
    assert await api.balance(ravi) == Decimal(100000)
