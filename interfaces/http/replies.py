"""Answers from a writer thread, handed to the event loop a batch at a time.

A writer answers every caller of one commit together, on its own thread. Each
answer given to the loop on its own would wake it once per caller (a write to the
loop's wake-up pipe each time, from the thread the next commit waits for); here
the first answer of a batch wakes the loop and the others join it, so one commit
costs one wake-up however many requests it answers.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from application.base import Reply


class WriterReplies:
    """Futures on one event loop that writer threads settle (``expect``)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._ready: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop the requests run on."""
        self._loop = loop

    def expect(self) -> tuple[asyncio.Future[Any], Reply]:
        """A future on the loop (call this on it), and the reply that settles it from
        any thread. A future no longer awaited (its request gone) is left alone."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("WriterReplies is not bound to an event loop")
        future = loop.create_future()

        def reply(value: Any, error: BaseException | None) -> None:
            with self._lock:
                first = not self._ready
                self._ready.append((future, value, error))
            if first:
                loop.call_soon_threadsafe(self._deliver)

        return future, reply

    def _deliver(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for future, value, error in ready:
            if future.done():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
