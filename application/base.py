"""What the ledger's applications share: snapshots, conflict retries and wake-ups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.system import (
    ProcessApplication,
    RecordingEvent,
    RecordingEventReceiver,
)
from eventsourcing.utils import EnvType

log = logging.getLogger(__name__)

T = TypeVar("T")
CONFLICT_ATTEMPTS = 50
SNAPSHOT_INTERVAL = 100  # events between two snapshots of one aggregate


class Snapshotting(Application[UUID]):
    """Snapshots each aggregate type it lists every ``snapshot_interval`` events.

    A snapshot is taken after its events are committed; failing to take one costs
    only speed (the next load replays a little further), so it is logged, never
    raised into a command whose events are already saved.
    """

    def __init__(self, env: EnvType | None = None, *, snapshot_interval: int = SNAPSHOT_INTERVAL):
        super().__init__(env)
        kinds = type(self).snapshotting_intervals
        # The library reads the intervals from the instance: this one's, not the class's.
        self.snapshotting_intervals = dict.fromkeys(kinds, snapshot_interval)  # type: ignore[misc]

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        try:
            super()._take_snapshots(processing_event)
        except Exception:
            log.exception("could not snapshot an aggregate of %s; it loads from events", self.name)


def retry_on_conflict(attempt: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a load-decide-save attempt again when another writer got there first.

    An optimistic-concurrency conflict is an ``IntegrityError`` on the store's
    (id, version) constraint; the next attempt reloads and decides afresh.
    """
    for _ in range(attempts - 1):
        try:
            return attempt()
        except IntegrityError:
            continue
    return attempt()


class Wakeup(RecordingEventReceiver[UUID]):
    """Calls back whenever its leader commits new events in this process."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        self.callback()


class LedgerProcess(Snapshotting, ProcessApplication[UUID]):
    """A process application whose steps survive races with other writers.

    Each step commits its new events and its tracking record together, one
    notification at a time: the store refuses a tracking record that is not past
    the last one, so a step taken twice (by two threads or two processes) is
    refused whole. If the commit conflicts, either the step was already recorded
    (a redelivery: skip it) or an aggregate moved under it (redo it on fresh state).

    (Committing a page of steps with only its last tracking record was tried and
    withdrawn: a second worker whose page overlapped the first's but ended later
    was not refused, and took the overlapping steps again.)
    """

    pull_section_size = 100
    log_section_size = 100

    def process_event(self, domain_event: DomainEventProtocol[UUID], tracking: Tracking) -> None:
        def attempt() -> None:
            if self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id):
                return
            super(LedgerProcess, self).process_event(domain_event, tracking)

        retry_on_conflict(attempt)
