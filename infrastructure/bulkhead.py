"""Bulkheads: bounded thread pools, so one kind of blocking work cannot starve another.

Store access, password hashing and health checks each run on a pool of their own.
Each pool admits at most its threads plus a bounded queue of calls; past that a
call is refused at once with ``Overloaded`` (the HTTP layer answers 503 with
``Retry-After``) instead of waiting behind work that may take seconds. A call
counts until its thread has finished it, even if the request that made it has
gone away, so the bound holds for the threads themselves. Only a request's first
call may be refused (``refusable``): once it has begun, its later calls (which may
follow a write it has made) wait their turn, so a command is never refused after
it has done something.

``FairShare`` shares a bulkhead between parties (users, addresses): each may have
only its share of the pool's threads at once, and its further calls wait their
turn on the event loop, in a line of their own, holding no thread. One party's
flood then fills its own line and is refused past it (``TooMuchAtOnce``); the
others still find threads free.

``SharedCall`` makes one call serve every request that asked while the previous
call was under way: a thousand requests for the same fact cost two calls at most,
and none gets an answer computed before it asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """A bulkhead is full: the call was refused without being queued."""

    def __init__(self, name: str, retry_after: int = 1) -> None:
        super().__init__(f"the {name} pool is busy; retry in {retry_after} s")
        self.name = name
        self.retry_after = retry_after


class TooMuchAtOnce(Overloaded):
    """One party already has its share of a pool busy and its line of calls full."""


class Bulkhead:
    """A thread pool of ``threads`` that holds at most ``queue`` calls waiting for one."""

    def __init__(self, name: str, threads: int, queue: int) -> None:
        self.name = name
        self.threads = threads
        self.capacity = threads + queue
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix=f"payflow-{name}")
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        """Calls admitted and not yet finished (running or waiting for a thread)."""
        return self._admitted

    async def run(
        self, call: Callable[..., T], *args: Any, refusable: bool = True, **kwargs: Any
    ) -> T:
        """``call(*args, **kwargs)`` on one of the pool's threads; Overloaded if full,
        unless it is not ``refusable``."""
        future = self.submit(functools.partial(call, *args, **kwargs), refusable)
        try:
            return await asyncio.wrap_future(future)
        finally:
            del future  # a failure's traceback holds this frame: no cycle through it

    def submit(self, call: Callable[[], T], refusable: bool = True) -> Future[T]:
        with self._lock:
            if refusable and self._admitted >= self.capacity:
                raise Overloaded(self.name)
            self._admitted += 1
        try:  # the call sees the caller's context: its log lines carry the request's ids
            future = self.executor.submit(contextvars.copy_context().run, call)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)

    def _release(self, _: object) -> None:
        with self._lock:
            self._admitted -= 1


@dataclass
class _Party:
    turns: asyncio.Semaphore
    waiting: int = 0
    present: int = 0  # calls of this party running or waiting
    held_off: int = 0  # calls of this party waiting off the pool (``waiting_off``)


class FairShare:
    """A bulkhead where each party has at most ``share`` calls at once, and at most
    ``line`` more waiting for one of those, on the event loop."""

    def __init__(self, pool: Bulkhead, share: int, line: int) -> None:
        self.pool = pool
        self.share = share
        self.line = line
        self._parties: dict[str, _Party] = {}

    def lined_up(self, party: str) -> int:
        """How many of ``party``'s calls wait for its turn."""
        held = self._parties.get(party)
        return 0 if held is None else held.waiting

    async def run(
        self,
        party: str,
        call: Callable[..., T],
        *args: Any,
        refusable: bool = True,
        **kwargs: Any,
    ) -> T:
        """``call`` on the pool, in ``party``'s turn; TooMuchAtOnce when its line is full
        (and Overloaded when the pool is), unless it is not ``refusable``."""
        held = self._parties.get(party) or self._parties.setdefault(
            party, _Party(asyncio.Semaphore(self.share))
        )
        if refusable and held.turns.locked() and held.waiting >= self.line:
            raise TooMuchAtOnce(self.pool.name)
        held.present += 1
        try:
            held.waiting += 1
            try:
                await held.turns.acquire()
            finally:
                held.waiting -= 1
            try:
                return await self.pool.run(call, *args, refusable=refusable, **kwargs)
            finally:
                held.turns.release()
        finally:
            held.present -= 1
            if not held.present:
                del self._parties[party]

    @contextlib.contextmanager
    def waiting_off(self, party: str) -> Iterator[None]:
        """Count one of ``party``'s calls as held for as long as it waits off the pool
        (a transfer waiting for its commit holds no thread); at most ``share + line``
        at once, and TooMuchAtOnce past that, before anything is done."""
        held = self._parties.get(party) or self._parties.setdefault(
            party, _Party(asyncio.Semaphore(self.share))
        )
        if held.held_off >= self.share + self.line:
            raise TooMuchAtOnce(self.pool.name)
        held.held_off += 1
        held.present += 1
        try:
            yield
        finally:
            held.held_off -= 1
            held.present -= 1
            if not held.present:
                del self._parties[party]


class SharedCall(Generic[T]):
    """``call()`` on a bulkhead, once for all the requests that arrived while the call
    before it was running (each gets an answer computed after it asked)."""

    def __init__(self, call: Callable[[], T], pool: Bulkhead) -> None:
        self._call = call
        self._pool = pool
        self._running: asyncio.Task[T] | None = None
        self._next: asyncio.Task[T] | None = None

    async def __call__(self) -> T:
        if self._next is None:
            self._next = asyncio.create_task(self._after(self._running))
            self._next.add_done_callback(_retrieve)  # even if every requester went away
        return await asyncio.shield(self._next)

    async def _after(self, earlier: asyncio.Task[T] | None) -> T:
        if earlier is not None:
            await asyncio.wait([earlier])  # its outcome is its own requesters' business
        me = asyncio.current_task()
        self._running, self._next = self._next, None
        try:
            return await self._pool.run(self._call)
        finally:
            if self._running is me:
                self._running = None


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
