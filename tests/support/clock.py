"""A clock for tests: it moves only when told to, so no test sleeps to wait for time."""

from __future__ import annotations


class FakeClock:
    """Stands in for ``time.monotonic``: call it for the time, ``advance`` to move it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
