"""Follower loops: the threads that keep the saga, the webhook scheduler and the
projector moving.

A loop runs one step (take what the leader logs hold, one page per commit) until
stopped. After each step it waits for a wake-up, a commit by a leader in this
process or a hint from another process, or for ``poll_interval`` at most: the
wake-up is the hot path, polling only the safety net (a commit made elsewhere, a
lost hint). A failed step is logged and tried again after the next wait, so a
store that went away is retried, not given up on.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.system import RecordingEvent, RecordingEventReceiver

if TYPE_CHECKING:
    from application.base import LedgerProcess
    from application.saga import Ledger

log = logging.getLogger(__name__)


class Wakeup(RecordingEventReceiver[UUID]):
    """Calls back whenever its leader commits new events in this process."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        self.callback()


class FollowerLoop:
    """One thread taking ``step`` again each time it is woken, or every ``poll_interval``.

    ``gather`` (seconds) lets commits gather after a wake-up, to take them in one step.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        poll_interval: float = 1.0,
        gather: float = 0.0,
    ) -> None:
        self.name = name
        self.step = step
        self.poll_interval = poll_interval
        self.gather = gather
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Take a step now, not at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the step in hand finish, then return."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except Exception:
                log.exception("%s: step failed; will retry", self.name)
            if self._wake.wait(self.poll_interval) and self.gather:
                self._stopping.wait(self.gather)
            self._wake.clear()  # a commit after this is seen by the next step


Pair = tuple["LedgerProcess", "LedgerProcess"]


class SagaRunner:
    """A follower loop per (follower, leader) pair: the saga's two, unless told others."""

    def __init__(
        self,
        ledger: Ledger,
        poll_interval: float = 1.0,
        pairs: list[Pair] | None = None,
        gather: float = 0.0,
    ) -> None:
        self.pairs = ledger.followers if pairs is None else pairs
        self.loops = [
            FollowerLoop(
                f"saga-{follower.name.lower()}",
                functools.partial(follower.pull_and_process, leader.name),
                poll_interval,
                gather,
            )
            for follower, leader in self.pairs
        ]

    def start(self) -> None:
        for (_, leader), loop in zip(self.pairs, self.loops, strict=True):
            leader.lead(Wakeup(loop.wake))
            loop.start()

    def wake(self, leader_name: str) -> None:
        """Another process committed to ``leader_name``'s log: look now."""
        for (_, leader), loop in zip(self.pairs, self.loops, strict=True):
            if leader.name == leader_name:
                loop.wake()

    def stop(self, timeout: float = 10.0) -> None:
        """Let each loop finish the step it is in, then return."""
        for loop in self.loops:
            loop._stopping.set()
        for loop in self.loops:
            loop.stop(timeout)
