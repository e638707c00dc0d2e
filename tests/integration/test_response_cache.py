"""The Redis response cache against a real Redis, and how it degrades when Redis is down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infrastructure.redis_ratelimit import connect
from infrastructure.response_cache import (
    IDEMPOTENT_RESPONSE_TTL,
    CachedResponse,
    RedisResponseCache,
)
from tests.conftest import REDIS_URL, closed_port_url
from tests.support.clock import FakeClock as Clock

RETRY = 5.0
FIRST = CachedResponse(201, {"transaction": {"transactionId": "txn_1"}}, "a" * 64)
SECOND = CachedResponse(201, {"transaction": {"transactionId": "txn_2"}}, "b" * 64)


@pytest.fixture
async def clients() -> AsyncIterator[list[Redis]]:
    opened: list[Redis] = []
    yield opened
    for client in opened:
        await client.aclose()


class FlakyRedis(Redis):
    """A real client whose reads and writes fail while ``down`` is set."""

    down = True

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.down:
            raise RedisConnectionError("Redis went away")
        return await super().execute_command(*args, **options)


async def test_the_first_answer_wins_and_expires_after_a_day(
    redis_prefix: str, clients: list[Redis]
) -> None:
    clients.append(connect(REDIS_URL))
    cache = RedisResponseCache(clients[0], prefix=redis_prefix)
    user = uuid4()

    await cache.put(user, "transfer", "k", FIRST)
    await cache.put(user, "transfer", "k", SECOND)

    assert await cache.get(user, "transfer", "k") == FIRST
    ttl = await clients[0].ttl(f"{redis_prefix}transfer:{user}:k")
    assert IDEMPOTENT_RESPONSE_TTL - 60 < ttl <= IDEMPOTENT_RESPONSE_TTL


async def test_entries_are_apart_per_user_command_and_key(
    redis_prefix: str, clients: list[Redis]
) -> None:
    clients.append(connect(REDIS_URL))
    cache = RedisResponseCache(clients[0], prefix=redis_prefix)
    asha, ravi = uuid4(), uuid4()

    await cache.put(asha, "transfer", "k", FIRST)

    assert await cache.get(ravi, "transfer", "k") is None
    assert await cache.get(asha, "deposit", "k") is None
    assert await cache.get(asha, "transfer", "k2") is None


async def test_an_unreachable_redis_is_a_miss_with_one_warning(
    clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    clients.append(connect(closed_port_url()))
    clock = Clock()
    cache = RedisResponseCache(clients[0], prefix="unused:", retry_interval=RETRY, clock=clock)
    caplog.set_level(logging.WARNING, logger="infrastructure.response_cache")
    user = uuid4()

    await cache.put(user, "transfer", "k", FIRST)
    clock.advance(RETRY)
    got = await cache.get(user, "transfer", "k")

    assert got is None
    assert cache.degraded
    assert len(caplog.records) == 1
    assert "event store" in caplog.records[0].getMessage()


async def test_redis_is_left_alone_until_the_retry_interval_has_passed(
    redis_prefix: str, clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    flaky = FlakyRedis.from_url(REDIS_URL)
    clients.append(flaky)
    cache = RedisResponseCache(flaky, prefix=redis_prefix, retry_interval=RETRY, clock=clock)
    caplog.set_level(logging.INFO, logger="infrastructure.response_cache")
    user = uuid4()

    assert await cache.get(user, "transfer", "k") is None
    flaky.down = False
    clock.advance(RETRY - 0.1)
    await cache.put(user, "transfer", "k", FIRST)  # dropped: still resting
    skipped = await flaky.exists(f"{redis_prefix}transfer:{user}:k")
    clock.advance(0.1)
    await cache.put(user, "transfer", "k", SECOND)

    assert skipped == 0
    assert not cache.degraded
    assert await cache.get(user, "transfer", "k") == SECOND
    assert any("answers again" in r.getMessage() for r in caplog.records)
