"""The projector: follows the Transfers, Wallets and Webhooks logs into the read store.

It pulls a page of notifications, turns them into row changes, and commits the
page with one tracking record (batch, then fsync once). In one process a commit
to any of them wakes it at once; polling is only the safety net. After each
page it tells its listeners (``on_progress``) how far that log's read models
have got, so nobody has to ask the store, or hold a thread, to wait for them.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Notification, Tracking

from infrastructure.followers import FollowerLoop, Wakeup
from projections.projector import folded, writes_for
from projections.store import ProjectionOvertaken, ReadStore, Write

log = logging.getLogger(__name__)
PAGE = 200
Progress = Callable[[str, int], None]  # (log name, position projected up to)


class Projector:
    """Keeps the read models up to date with the logs it follows, exactly once."""

    def __init__(self, store: ReadStore, leaders: Sequence[Application[Any]]) -> None:
        self.store = store
        self.leaders = list(leaders)
        self.page_size = PAGE
        self._listeners: list[Progress] = []
        self._projected: dict[str, int] = {}  # where this projector's last page of each log ended
        self._loop: FollowerLoop | None = None
        self._stirred: set[str] = set()  # logs committed to in this process since the last step
        self._stirred_lock = threading.Lock()

    def position(self, leader_name: str) -> int:
        return self.store.max_tracking_id(leader_name) or 0

    def catch_up(self) -> int:
        """Project everything committed so far; returns how many notifications it took."""
        total = 0
        for leader in self.leaders:
            while taken := self._project_page(leader):
                total += taken
        return total

    def _project_page(self, leader: Application[Any]) -> int:
        """Project the leader's next page. Its position is read from the store only
        when this projector does not know it (where its last page ended); were that
        stale, the commit's compare and swap is refused and it is read afresh."""
        after = self._projected.get(leader.name)
        known = after is not None
        if after is None:
            after = self.position(leader.name)
        # A ledger application gives what it committed in this process from memory.
        notifications_after = getattr(leader, "notifications_after", None)
        if notifications_after is not None:
            page = notifications_after(after, self.page_size)
        else:
            page = leader.recorder.select_notifications(start=after + 1, limit=self.page_size)
        if not page:
            return 0
        try:
            self.store.apply(self._writes(leader, page), Tracking(leader.name, page[-1].id), after)
        except (ProjectionOvertaken, IntegrityError):
            # Another projector (or a rebuild) recorded these positions first; ours is
            # rolled back whole. Start again from wherever the tracking now stands.
            self._projected.pop(leader.name, None)
            if known:  # it stood further than this projector knew: ask where, and go on
                return self._project_page(leader)
            log.info("projection of %s overtaken at %s", leader.name, page[-1].id)
            return 0
        self._projected[leader.name] = page[-1].id
        self._tell(leader.name, page[-1].id)
        return len(page)

    def on_progress(self, listener: Progress) -> None:
        """Call ``listener(log name, position)`` (on the projecting thread) after each
        page this projector commits."""
        self._listeners.append(listener)

    def _tell(self, leader_name: str, position: int) -> None:
        for listener in self._listeners:
            listener(leader_name, position)

    @staticmethod
    def _writes(leader: Application[Any], page: Sequence[Notification]) -> list[Write]:
        """The row changes of a page, a transfer's folded into one statement
        (``folded``). An event the leader committed lately in this process is taken
        as it committed it (``recent``), not decoded again."""
        recent = getattr(leader, "recent", None)
        writes = []
        for notification in page:
            if recent is None:
                event = leader.mapper.to_domain_event(notification)
            else:
                event = recent.event_of(notification, leader.mapper)
            writes.extend(writes_for(event, notification.id))
        return folded(writes)

    def rebuild(self) -> dict[str, int]:
        """Recreate every read model from position zero, in one transaction."""

        def pages() -> Iterator[tuple[str, list[Write], int]]:
            for leader in self.leaders:
                start = 1
                while page := leader.recorder.select_notifications(start=start, limit=PAGE):
                    yield leader.name, self._writes(leader, page), page[-1].id
                    start = page[-1].id + 1

        self._projected.clear()
        reached = self.store.rebuild(pages())
        for name, position in reached.items():
            self._tell(name, position)
        return reached

    def positions(self) -> dict[str, int]:
        """How far the read models have got in each followed log."""
        return {leader.name: self.position(leader.name) for leader in self.leaders}

    def latest_positions(self) -> dict[str, int]:
        """Where each followed log ends now: what a fresh read should reflect."""
        return {leader.name: leader.recorder.max_notification_id() or 0 for leader in self.leaders}

    def start(self, poll_interval: float = 1.0) -> None:
        """Project on a thread of its own: at once when a leader in this process commits
        (that leader's log), and at every poll and every ``wake`` (every log: another
        process may have committed to any of them)."""
        self._loop = FollowerLoop("projector", self._step, poll_interval)
        for leader in self.leaders:
            if hasattr(leader, "lead"):
                leader.lead(Wakeup(functools.partial(self._stirred_by, leader.name)))
        self._loop.start()

    def wake(self) -> None:
        """Another process committed: look now, at every log, not at the next poll."""
        with self._stirred_lock:
            self._stirred.update(leader.name for leader in self.leaders)
        if self._loop is not None:
            self._loop.wake()

    def _stirred_by(self, leader_name: str) -> None:
        with self._stirred_lock:
            self._stirred.add(leader_name)
        assert self._loop is not None
        self._loop.wake()

    def _step(self) -> int:
        """Catch up with the logs committed to in this process since the last step, or
        with every log if none was (a poll, or a wake-up from another process)."""
        with self._stirred_lock:
            stirred, self._stirred = self._stirred, set()
        total = 0
        try:
            for leader in self.leaders:
                if not stirred or leader.name in stirred:
                    while taken := self._project_page(leader):
                        total += taken
        except BaseException:  # the step is retried: with these logs still to look at
            with self._stirred_lock:
                self._stirred |= stirred or {leader.name for leader in self.leaders}
            raise
        return total

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None:
            self._loop.stop(timeout)
