"""What the ledger's process applications share: conflict retries and wake-ups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.system import (
    ProcessApplication,
    RecordingEvent,
    RecordingEventReceiver,
)

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
