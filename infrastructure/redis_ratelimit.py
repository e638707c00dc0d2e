"""Rate limits in Redis, shared by every API process, and the Redis connection.

Each hit runs one Lua script (INCR, then PEXPIRE when the key has no expiry),
so concurrent hits from any number of processes are counted exactly.

Redis only carries counters: when it does not answer, requests are still
served. The limiter logs one warning and counts in its in-memory fallback (this
process only) for ``retry_interval`` seconds, then tries Redis again; the first
answer logs the recovery. Counts made during the outage are not carried over.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from infrastructure.ratelimit import Clock, Decision, RateLimiter, Rule

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 1.0  # seconds: a request never waits longer than this on Redis
RETRY_INTERVAL = 5.0  # seconds on the fallback before trying Redis again
REDIS_DOWN = (RedisError, OSError, asyncio.TimeoutError)

# Returns {count in this window, milliseconds until the window ends}.
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
# Takes back one hit, never below zero, and never revives a window that has ended.
FORGIVE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  redis.call('DECR', KEYS[1])
end
return count
"""


def connect(url: str, timeout: float = REDIS_TIMEOUT) -> Redis:
    """A client for ``url``; it connects on first use and fails fast, without retries."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


async def answers(client: Redis) -> bool:
    """Whether Redis answers a PING."""
    try:
        return bool(await client.ping())
    except REDIS_DOWN:
        return False


class RedisRateLimiter(RateLimiter):
    """Fixed windows in Redis under ``prefix``; ``fallback`` counts while Redis is down."""

    def __init__(
        self,
        client: Redis,
        fallback: RateLimiter,
        prefix: str = "payflow:rl:",
        retry_interval: float = RETRY_INTERVAL,
        clock: Clock = time.monotonic,
    ) -> None:
        self._script = client.register_script(HIT_SCRIPT)
        self._forgive = client.register_script(FORGIVE_SCRIPT)
        self._fallback = fallback
        self._prefix = prefix
        self._retry_interval = retry_interval
        self._clock = clock
        self._down_until: float | None = None

    @property
    def degraded(self) -> bool:
        """Whether the last attempt to reach Redis failed."""
        return self._down_until is not None

    async def hit(self, key: str, rule: Rule) -> Decision:
        now = self._clock()
        if self._down_until is not None and now < self._down_until:
            return await self._fallback.hit(key, rule)
        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[rule.window * 1000])
        except REDIS_DOWN as error:
            self._went_down(now, error)
            return await self._fallback.hit(key, rule)
        if self._down_until is not None:
            self._down_until = None
            log.info("Redis answers again; rate limits are shared across processes again")
        return Decision.of(rule, int(count), int(ttl_ms) / 1000)

    async def forgive(self, key: str) -> None:
        if self.degraded:
            await self._fallback.forgive(key)
            return
        try:
            await self._forgive(keys=[self._prefix + key])
        except REDIS_DOWN as error:
            self._went_down(self._clock(), error)

    def _went_down(self, now: float, error: BaseException) -> None:
        if self._down_until is None:
            log.warning(
                "Redis does not answer (%s); rate limits count in this process only until it does",
                error,
            )
        self._down_until = now + self._retry_interval
