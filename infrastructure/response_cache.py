"""Answers to idempotent commands, cached in Redis so that a repeat skips the store.

The event store decides idempotency: a keyed command gets an id derived from
(user, key), and the store refuses its twin. This cache only saves a repeat the
trip there. An entry lives under ``<prefix><command>:<user id>:<key>`` for
``IDEMPOTENT_RESPONSE_TTL`` seconds and holds the HTTP status, the answer's
``data`` and a fingerprint of the request it answered. The first answer wins
(SET NX); a repeat whose fingerprint differs is not answered from here.

Redis only carries copies: while it does not answer, every lookup is a miss
and every write is dropped, so repeats are answered by the store as without a
cache. The cache logs one warning, leaves Redis alone for ``retry_interval``
seconds, then tries again; the first answer logs the recovery.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import simplejson
from redis.asyncio import Redis

from infrastructure.ratelimit import Clock
from infrastructure.redis_ratelimit import REDIS_DOWN, RETRY_INTERVAL

log = logging.getLogger(__name__)

IDEMPOTENT_RESPONSE_TTL = 24 * 3600  # seconds a cached answer is kept
TRANSFER = "transfer"
DEPOSIT = "deposit"


def fingerprint(fields: Mapping[str, str | int | None]) -> str:
    """The sha256 of a validated request's defining fields, whatever their order."""
    canonical = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    """A command's first answer: its status, its ``data``, and the request's fingerprint."""

    status: int
    data: dict[str, Any]
    fingerprint: str

    def encode(self) -> str:
        """JSON, amounts as exact decimals."""
        value = {"status": self.status, "data": self.data, "fingerprint": self.fingerprint}
        text: str = simplejson.dumps(value, use_decimal=True, ensure_ascii=False)
        return text

    @classmethod
    def decode(cls, raw: bytes | str) -> CachedResponse | None:
        """The entry ``encode`` wrote; ``None`` for anything else."""
        try:
            value = simplejson.loads(raw, use_decimal=True)
            status, data, print_ = value["status"], value["data"], value["fingerprint"]
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(status, int) and isinstance(data, dict) and isinstance(print_, str)):
            return None
        return cls(status, data, print_)


class ResponseCache(Protocol):
    """Where the answers to idempotent commands are kept, per user, command and key."""

    async def get(self, user_id: UUID, command: str, key: str) -> CachedResponse | None:
        """The cached answer, or ``None`` (never cached, expired, or unreachable)."""
        ...

    async def put(self, user_id: UUID, command: str, key: str, response: CachedResponse) -> None:
        """Keep ``response`` unless an answer is kept already; never raises for Redis."""
        ...


class NoResponseCache:
    """No cache at all (no Redis configured): every repeat is answered by the store."""

    async def get(self, user_id: UUID, command: str, key: str) -> CachedResponse | None:
        return None

    async def put(self, user_id: UUID, command: str, key: str, response: CachedResponse) -> None:
        return None


class RedisResponseCache:
    """Cached answers in Redis under ``prefix``, each kept for ``ttl`` seconds."""

    def __init__(
        self,
        client: Redis,
        prefix: str = "payflow:idem:",
        ttl: int = IDEMPOTENT_RESPONSE_TTL,
        retry_interval: float = RETRY_INTERVAL,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl
        self._retry_interval = retry_interval
        self._clock = clock
        self._down_until: float | None = None

    @property
    def degraded(self) -> bool:
        """Whether the last attempt to reach Redis failed."""
        return self._down_until is not None

    def key_for(self, user_id: UUID, command: str, key: str) -> str:
        return f"{self._prefix}{command}:{user_id}:{key}"

    async def get(self, user_id: UUID, command: str, key: str) -> CachedResponse | None:
        now = self._clock()
        if self._resting(now):
            return None
        try:
            raw = await self._client.get(self.key_for(user_id, command, key))
        except REDIS_DOWN as error:
            self._went_down(now, error)
            return None
        self._answered()
        return None if raw is None else CachedResponse.decode(raw)

    async def put(self, user_id: UUID, command: str, key: str, response: CachedResponse) -> None:
        now = self._clock()
        if self._resting(now):
            return
        try:
            await self._client.set(
                self.key_for(user_id, command, key), response.encode(), ex=self._ttl, nx=True
            )
        except REDIS_DOWN as error:
            self._went_down(now, error)
            return
        self._answered()

    def _resting(self, now: float) -> bool:
        return self._down_until is not None and now < self._down_until

    def _answered(self) -> None:
        if self._down_until is not None:
            self._down_until = None
            log.info("Redis answers again; idempotent answers are cached again")

    def _went_down(self, now: float, error: BaseException) -> None:
        if self._down_until is None:
            log.warning(
                "Redis does not answer (%s); repeated commands are answered by the event store "
                "until it does",
                error,
            )
        self._down_until = now + self._retry_interval
