"""``Prefer: wait=N``: let a request wait, bounded, for a transfer to finish.

The Transfers application tells this watcher of every commit made in this
process; a request waiting on a transfer is woken the moment its terminal event
is committed, with no polling. When the saga runs in another process, one
``OutcomeWatch`` per process reads the terminal events of the Transfers log for
all of its waiting requests (woken by that process's Redis hints, polling a few
times a second without them), instead of each request loading its transfer again
and again.

The answer is a function of the log: the transfer as it stood when the wait ended,
at its outcome or at the deadline the transfer records (``wait_until``), whichever
came first. A replay of the request computes the same function, so it answers as
the first answer did, with or without a cache of that answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.system import RecordingEvent, RecordingEventReceiver
from eventsourcing.utils import get_topic

from domain.transfer import Transfer
from infrastructure.followers import FollowerLoop

MAX_WAIT_SECONDS = 10
RECHECK_SECONDS = 1.0  # the safety net: a wait is woken when its outcome is committed
WATCH_POLL_SECONDS = 0.05  # how often an OutcomeWatch looks when no hint wakes it
WATCH_PAGE = 500
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d{1,6})(?:$|[,;\s])", re.IGNORECASE)
_TERMINAL = (Transfer.Completed, Transfer.Failed, Transfer.Refunded)
TERMINAL_TOPICS = sorted(get_topic(kind) for kind in _TERMINAL)


def preferred_wait(header: str | None) -> int:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240), capped; 0 when absent."""
    match = _PREFER_WAIT.search(header or "")
    return 0 if match is None else min(int(match.group(1)), MAX_WAIT_SECONDS)


class TransferOutcomes(RecordingEventReceiver[UUID]):
    """Wakes the coroutines waiting for transfers to reach a terminal status."""

    def __init__(self, recheck: float = RECHECK_SECONDS) -> None:
        self.recheck = recheck  # seconds between a wait's own looks, woken or not
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[UUID, list[asyncio.Future[None]]] = defaultdict(list)

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        self.finished(
            r.domain_event.originator_id
            for r in new_recording_event.recordings
            if isinstance(r.domain_event, _TERMINAL)
        )

    def finished(self, transfer_ids: Iterable[UUID]) -> None:
        """These transfers reached a terminal status (called on any thread)."""
        finished = list(transfer_ids)
        if finished and self._loop is not None:  # hand over to the loop
            self._loop.call_soon_threadsafe(self._wake, finished)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop the waiting requests run on."""
        self._loop = loop

    def waiting(self) -> bool:
        """Whether any request waits for an outcome now."""
        return bool(self._waiters)

    def register(self, transfer_id: UUID) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[transfer_id].append(future)
        return future

    def forget(self, transfer_id: UUID, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(transfer_id, [])
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            self._waiters.pop(transfer_id, None)

    def _wake(self, transfer_ids: list[UUID]) -> None:
        for transfer_id in transfer_ids:
            for future in self._waiters.pop(transfer_id, []):
                if not future.done():
                    future.set_result(None)


class OutcomeWatch:
    """Follows the Transfers log's terminal events for a process the saga runs apart
    from, and wakes the requests waiting on them: one query per look, however many
    requests wait, and none but a look at the log's end while nobody waits.

    Each look reads where the log ends first, then tells the outcomes up to there
    and moves past them, outcomes or not (commits reach the log in the order of
    their positions, so nothing can appear behind a look later). A request
    registers before it first loads its transfer, so an outcome its load did not
    see is past the end some look read after it registered. The watch takes its
    first look on its own thread: until then, and whenever the store does not
    answer, a waiting request's own second look (``recheck``) is the safety net.
    """

    def __init__(
        self,
        outcomes: TransferOutcomes,
        recorder: Any,
        poll_interval: float = WATCH_POLL_SECONDS,
        log_name: str = "Transfers",
    ) -> None:
        self.outcomes = outcomes
        self.recorder = recorder
        self.log_name = log_name
        self.position: int | None = None
        self.loop = FollowerLoop("outcome-watch", self.look, poll_interval)

    def start(self) -> None:
        self.loop.start()

    def wake(self) -> None:
        self.loop.wake()

    def heard_of(self, log_name: str) -> None:
        """Another process hints it committed to ``log_name``: look now if it is ours."""
        if log_name == self.log_name:
            self.wake()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the look in hand finish (blocking: call it off the event loop)."""
        self.loop.stop(timeout)

    def look(self) -> None:
        """Tell the outcomes committed since the last look."""
        end = self.recorder.max_notification_id() or 0
        if self.position is None or not self.outcomes.waiting():
            self.position = end  # nobody could be waiting for what came before
            return
        while self.position < end:
            page = self.recorder.select_notifications(
                start=self.position + 1, limit=WATCH_PAGE, stop=end, topics=TERMINAL_TOPICS
            )
            self.outcomes.finished(n.originator_id for n in page)
            self.position = page[-1].id if len(page) == WATCH_PAGE else end


async def waited_answer(
    outcomes: TransferOutcomes,
    accepted: Transfer,
    load: Callable[[datetime | None], Awaitable[Transfer]],
) -> Transfer:
    """The answer to a request that waits for ``accepted``'s outcome: the transfer as
    it stood at its outcome or at its ``wait_until``, whichever came first. ``load(None)``
    loads the transfer as it is, ``load(moment)`` as it stood at that moment."""
    deadline = accepted.wait_until
    assert deadline is not None, "only a transfer whose request waits is answered so"
    left = (deadline - datetime.now(UTC)).total_seconds()
    if left > 0:
        latest = await wait_for_outcome(outcomes, accepted.id, left, lambda: load(None))
        if latest.status.is_terminal and latest.modified_on <= deadline:
            return latest
    return await load(deadline)


async def wait_for_outcome(
    outcomes: TransferOutcomes,
    transfer_id: UUID,
    seconds: float,
    load: Callable[[], Awaitable[Transfer]],
    recheck: float | None = None,
) -> Transfer:
    """The transfer once terminal, or as it stands when ``seconds`` run out.

    A commit in this process, or the ``OutcomeWatch`` of a process the saga runs
    apart from, wakes the wait at once; it looks again every ``recheck`` seconds
    regardless (the safety net).
    """
    loop = asyncio.get_running_loop()
    recheck = outcomes.recheck if recheck is None else recheck
    deadline = loop.time() + seconds
    future = outcomes.register(transfer_id)
    try:
        transfer = await load()  # it may have finished before we registered
        while not transfer.status.is_terminal and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(future), timeout=min(left, recheck))
            transfer = await load()
    finally:
        outcomes.forget(transfer_id, future)
    return transfer
