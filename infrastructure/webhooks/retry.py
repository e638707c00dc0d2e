"""When to try a failed delivery again: exponential backoff with full jitter.

The delay after failed attempt ``n`` is drawn uniformly from
``[0, min(cap, base * 2 ** (n - 1))]`` ("full jitter"). When a receiver comes
back after an outage, every delivery that failed during it is due for a retry;
full jitter spreads those retries over the whole window instead of sending
them in waves, at the price of an occasional short delay. "Equal jitter"
(half fixed, half random) would keep a minimum delay but bunch retries more.

The dispatcher stores each due time with the delivery, so retries survive restarts.
"""

from __future__ import annotations

import random

DEFAULT_ATTEMPTS = 5  # attempts in all, the first included
MAX_EXPONENT = 1000  # 2.0 ** 1000 is still a finite float; the cap applies long before


def retry_delay(
    attempt: int, *, base: float = 1.0, cap: float = 3600.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 = the first attempt)."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, MAX_EXPONENT))
    return (rng or _JITTER).uniform(0.0, ceiling)


_JITTER = random.Random()  # noqa: S311 (jitter spreads load; it guards no secret)
