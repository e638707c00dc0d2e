"""Rate limiting: fixed-window counters behind one small interface.

A ``Rule`` allows ``limit`` hits per ``window`` seconds for one key. The first
hit of a key opens its window; every hit in the window counts (refused ones
too), and the window's end is when the count starts again from zero.

Backends:

- ``InMemoryRateLimiter`` (here): the embedded default; counts for this process
  only. Thread-safe; memory is bounded by sweeping ended windows and, past
  ``max_keys``, forgetting the oldest keys first.
- ``RedisRateLimiter`` (``infrastructure.redis_ratelimit``): counts shared by
  every API process, falling back to an in-memory limiter while Redis is down.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
SWEEP_INTERVAL = 60.0  # seconds between sweeps of ended windows
DEFAULT_MAX_KEYS = 100_000


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` hits per ``window`` seconds for one key."""

    limit: int
    window: int

    def __str__(self) -> str:
        return f"{self.limit}/{self.window}"


@dataclass(frozen=True)
class Decision:
    """The outcome of one hit: whether it is allowed, and what is left of the window."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float

    @classmethod
    def of(cls, rule: Rule, count: int, reset_after: float) -> Decision:
        """The decision for the ``count``-th hit of a window ending in ``reset_after`` s."""
        return cls(count <= rule.limit, rule.limit, max(0, rule.limit - count), reset_after)

    @property
    def reset_seconds(self) -> int:
        """Whole seconds until the window ends, never 0 (for headers)."""
        return max(1, math.ceil(self.reset_after))


class RateLimiter(ABC):
    """Counts hits per key and decides whether each is within its rule."""

    @abstractmethod
    async def hit(self, key: str, rule: Rule) -> Decision:
        """Count one hit of ``key`` and decide it."""

    @abstractmethod
    async def forgive(self, key: str) -> None:
        """Take back one hit of ``key`` in its current window (a request the service,
        not its client, failed to serve), if there is one to take back."""


class InMemoryRateLimiter(RateLimiter):
    """Fixed windows in a dict, for one process; safe to share between threads."""

    def __init__(self, clock: Clock = time.monotonic, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (ends at, count)
        self._lock = threading.Lock()
        self._next_sweep = clock() + SWEEP_INTERVAL

    def __len__(self) -> int:
        """How many keys are tracked."""
        return len(self._windows)

    async def hit(self, key: str, rule: Rule) -> Decision:
        return self.hit_now(key, rule)

    def hit_now(self, key: str, rule: Rule) -> Decision:
        """``hit``, for callers outside an event loop."""
        with self._lock:
            now = self._clock()
            self._sweep(now)
            ends_at, count = self._windows.get(key, (now, 0))
            if ends_at <= now:
                self._windows.pop(key, None)  # a new window moves the key to the newest end
                ends_at, count = now + rule.window, 0
            self._windows[key] = (ends_at, count + 1)
        return Decision.of(rule, count + 1, ends_at - now)

    async def forgive(self, key: str) -> None:
        with self._lock:
            ends_at, count = self._windows.get(key, (0.0, 0))
            if ends_at > self._clock() and count > 0:
                self._windows[key] = (ends_at, count - 1)

    def _sweep(self, now: float) -> None:
        """Drop ended windows now and then, and the oldest keys when over ``max_keys``."""
        if now < self._next_sweep and len(self._windows) < self._max_keys:
            return
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        keep = self._max_keys * 9 // 10  # room to grow before the next full sweep
        for key in list(self._windows)[: max(0, len(self._windows) - keep)]:
            del self._windows[key]
        self._next_sweep = now + SWEEP_INTERVAL
