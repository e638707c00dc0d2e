"""What the ledger's process applications share: batched steps, conflict retries, wake-ups."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import ProcessingEvent
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


class LedgerProcess(ProcessApplication[UUID]):
    """A process application that takes its steps in batches, each exactly once.

    A page of notifications is handled in memory and all the resulting events are
    committed with one tracking record (the page's last position): one fsync for
    the page, and a crash leaves either all of it or none. If the commit conflicts,
    either the page was already recorded (a redelivery: skip it) or an aggregate
    moved under it (redo the page on fresh state). Policies load aggregates with
    ``load``, so two steps on one aggregate in a page see each other.
    """

    pull_section_size = 100
    log_section_size = 100

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env)
        self._batch: ProcessingEvent[UUID] | None = None

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        if start is None:
            start = self.recorder.max_tracking_id(leader_name)
        for notifications in self.pull_notifications(
            leader_name, start=start, stop=stop, inclusive_of_start=False
        ):
            received = self.filter_received_notifications(notifications)
            jobs = self.convert_notifications(leader_name, received)
            if jobs:
                retry_on_conflict(functools.partial(self._process_batch, jobs))

    def process_event(self, domain_event: DomainEventProtocol[UUID], tracking: Tracking) -> None:
        retry_on_conflict(lambda: self._process_batch([(domain_event, tracking)]))

    def load(self, aggregate_id: UUID) -> Any:
        """The aggregate as this batch has left it so far, else as stored."""
        if self._batch is not None and aggregate_id in self._batch.aggregates:
            return self._batch.aggregates[aggregate_id]
        return self.repository.get(aggregate_id)

    def _process_batch(self, jobs: Sequence[tuple[DomainEventProtocol[UUID], Tracking]]) -> None:
        pending = [
            (event, tracking)
            for event, tracking in jobs
            if not self.recorder.has_tracking_id(
                tracking.application_name, tracking.notification_id
            )
        ]
        if not pending:
            return
        batch = ProcessingEvent[UUID](tracking=pending[-1][1])
        with self.processing_lock:
            self._batch = batch
            try:
                for event, _ in pending:
                    self.policy(event, batch)
            finally:
                self._batch = None
            recordings = self._record(batch)
            self._take_snapshots(batch)
            self._notify(recordings)
