"""The Redis rate limiter against a real Redis, and its fallback when Redis is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from infrastructure.ratelimit import InMemoryRateLimiter, Rule
from infrastructure.redis_ratelimit import RedisRateLimiter, answers, connect
from tests.conftest import REDIS_URL, closed_port_url, require_redis
from tests.support.clock import FakeClock as Clock

FIVE_PER_MINUTE = Rule(5, 60)
RETRY = 5.0


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    return redis_prefix


@pytest.fixture
async def clients() -> AsyncIterator[list[Redis]]:
    """Redis clients, each standing for one API process; closed afterwards."""
    opened: list[Redis] = []
    yield opened
    for client in opened:
        await client.aclose()


def reachable() -> Redis:
    """A client of the test Redis that waits as long as a loaded machine needs: these
    tests are about exact counting, not about how fast Redis must answer (a client
    of PayFlow's own gives Redis 1 s, then counts in memory)."""
    return connect(REDIS_URL, timeout=30)


def limiter_on(
    client: Redis, prefix: str, clock: Clock | None = None
) -> tuple[RedisRateLimiter, InMemoryRateLimiter]:
    """A limiter on ``client`` and its in-memory fallback, both on ``clock``."""
    clock = clock or Clock()
    fallback = InMemoryRateLimiter(clock=clock)
    limiter = RedisRateLimiter(client, fallback, prefix=prefix, retry_interval=RETRY, clock=clock)
    return limiter, fallback


class FlakyRedis(Redis):
    """A real client whose scripts fail while ``down`` is set, as if Redis had gone."""

    down = True

    async def evalsha(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise RedisConnectionError("Redis went away")
        return await super().evalsha(*args, **kwargs)


async def test_counts_to_the_limit_then_refuses(prefix: str, clients: list[Redis]) -> None:
    clients.append(reachable())
    limiter, _ = limiter_on(clients[0], prefix)

    decisions = [await limiter.hit("k", FIVE_PER_MINUTE) for _ in range(7)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0, 0]
    assert all(55 < d.reset_after <= 60 for d in decisions)
    assert not limiter.degraded


async def test_a_counter_expires_with_its_window(prefix: str, clients: list[Redis]) -> None:
    clients.append(reachable())
    limiter, _ = limiter_on(clients[0], prefix)

    await limiter.hit("k", FIVE_PER_MINUTE)

    ttl = await clients[0].pttl(f"{prefix}k")
    assert 55_000 < ttl <= 60_000


async def test_two_processes_share_their_counters(prefix: str, clients: list[Redis]) -> None:
    clients.extend([reachable(), reachable()])
    first, _ = limiter_on(clients[0], prefix)
    second, _ = limiter_on(clients[1], prefix)

    for _ in range(3):
        await first.hit("asha", FIVE_PER_MINUTE)
    for _ in range(2):
        await second.hit("asha", FIVE_PER_MINUTE)

    assert not (await first.hit("asha", FIVE_PER_MINUTE)).allowed
    assert not (await second.hit("asha", FIVE_PER_MINUTE)).allowed
    assert (await second.hit("ravi", FIVE_PER_MINUTE)).remaining == 4


async def test_fifty_concurrent_hits_allow_exactly_the_limit(
    prefix: str, clients: list[Redis]
) -> None:
    clients.extend([reachable(), reachable()])
    limiters = [limiter_on(client, prefix)[0] for client in clients]
    rule = Rule(10, 60)

    decisions = await asyncio.gather(*(limiters[n % 2].hit("burst", rule) for n in range(50)))

    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


async def test_serves_from_memory_and_warns_once_when_redis_is_unreachable(
    clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    clients.append(connect(closed_port_url()))
    limiter, fallback = limiter_on(clients[0], "unused:")
    caplog.set_level(logging.WARNING, logger="infrastructure.redis_ratelimit")

    decisions = [await limiter.hit("k", FIVE_PER_MINUTE) for _ in range(6)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert limiter.degraded
    assert len(fallback) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "in this process only" in warnings[0].getMessage()


async def test_does_not_ask_redis_again_until_the_retry_interval_has_passed(
    prefix: str, clients: list[Redis]
) -> None:
    clock = Clock()
    flaky = FlakyRedis.from_url(REDIS_URL)
    clients.append(flaky)
    limiter, fallback = limiter_on(flaky, prefix, clock)

    await limiter.hit("k", FIVE_PER_MINUTE)
    flaky.down = False
    clock.advance(RETRY - 0.1)
    await limiter.hit("k", FIVE_PER_MINUTE)

    assert limiter.degraded
    assert await flaky.exists(f"{prefix}k") == 0
    assert fallback.hit_now("k", FIVE_PER_MINUTE).remaining == 2


async def test_returns_to_redis_after_the_retry_interval_and_says_so(
    prefix: str, clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    flaky = FlakyRedis.from_url(REDIS_URL)
    clients.append(flaky)
    limiter, _ = limiter_on(flaky, prefix, clock)
    caplog.set_level(logging.INFO, logger="infrastructure.redis_ratelimit")

    await limiter.hit("k", FIVE_PER_MINUTE)
    flaky.down = False
    clock.advance(RETRY)
    decision = await limiter.hit("k", FIVE_PER_MINUTE)

    assert not limiter.degraded
    assert decision.remaining == 4  # counted afresh in Redis
    assert await flaky.get(f"{prefix}k") == b"1"
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_a_failed_retry_keeps_the_fallback_without_warning_again(
    clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    clients.append(connect(closed_port_url()))
    limiter, _ = limiter_on(clients[0], "unused:", clock)
    caplog.set_level(logging.WARNING, logger="infrastructure.redis_ratelimit")

    await limiter.hit("k", FIVE_PER_MINUTE)
    clock.advance(RETRY)
    decision = await limiter.hit("k", FIVE_PER_MINUTE)

    assert limiter.degraded
    assert decision.remaining == 3
    assert len(caplog.records) == 1


async def test_answers_tells_whether_redis_is_up(clients: list[Redis]) -> None:
    require_redis()
    clients.extend([reachable(), connect(closed_port_url())])

    assert await answers(clients[0])
    assert not await answers(clients[1])


async def test_a_forgiven_hit_is_taken_back_once_and_never_below_zero(
    prefix: str, clients: list[Redis]
) -> None:
    clients.append(reachable())
    limiter, _ = limiter_on(clients[0], prefix)

    await limiter.forgive("never-hit")  # nothing to take back: nothing happens
    for _ in range(5):
        await limiter.hit("k", FIVE_PER_MINUTE)
    await limiter.forgive("k")

    assert (await limiter.hit("k", FIVE_PER_MINUTE)).allowed  # the fifth hit again
    assert not (await limiter.hit("k", FIVE_PER_MINUTE)).allowed
    assert (await limiter.hit("never-hit", FIVE_PER_MINUTE)).remaining == 4
