"""The webhook dispatcher: sends what the Webhooks outbox owes, and records every attempt.

It learns what is owed from the Webhooks log itself: each ``Scheduled`` and
``Redelivering`` event names a delivery and when it is due. On start it reads that
log from the beginning, and then follows it as it grows (woken by this process's
commits, by Redis hints from other processes, or by its poll), so a dispatcher
killed mid-delivery, or one that never got a hint, still finds every pending
delivery. Before each attempt it loads the delivery, and skips it unless it is
still pending and due.

Delivery is at least once: an attempt whose outcome was not yet recorded when the
process died is made again, with the same ``X-PayFlow-Delivery-ID``, so the
receiver can drop the duplicate. Each attempt is one bounded POST
(infrastructure/webhooks); attempts run concurrently, up to ``concurrency``, so a
slow receiver holds up only its own deliveries. Run one dispatcher per deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from application.webhooks import AttemptOutcome, Notice, Webhooks, notice_fields
from domain.webhook import Delivery
from infrastructure.webhooks import WebhookSender, retry_delay, sign
from interfaces.http.encoding import dumps
from interfaces.http.render import timestamp
from interfaces.ids import DELIVERY, TRANSACTION, USER, public_id

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE = 500
OWED = [f"{get_topic(Delivery)}.Scheduled", f"{get_topic(Delivery)}.Redelivering"]
EVENT_HEADER = "X-PayFlow-Event"
DELIVERY_HEADER = "X-PayFlow-Delivery-ID"
PREFIXES = {"delivery": DELIVERY, "transaction": TRANSACTION, "user": USER}


def render_body(notice: Notice) -> str:
    """A delivery's JSON body, as API.md shows it: public ids, an exact amount."""
    fields = notice_fields(notice, lambda kind, value: public_id(PREFIXES[kind], value))
    fields["timestamp"] = timestamp(notice.occurred_at)
    return dumps(fields)


class Dispatcher:
    """Sends due deliveries until stopped; see the module's docstring."""

    def __init__(
        self,
        webhooks: Webhooks,
        sender: WebhookSender,
        *,
        executor: Executor | None = None,
        poll_interval: float = 1.0,
        concurrency: int = 32,
        retry_base: float = 1.0,
        retry_cap: float = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_recorded: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.sender = sender
        self.executor = executor
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.clock = clock
        self.on_recorded = on_recorded  # told of every delivery after an attempt is recorded
        self._due: list[tuple[datetime, UUID]] = []
        self._in_flight: set[UUID] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._read_up_to = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """Something new may be owed (safe to call from any thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(wake.set)

    async def run(self, stopping: asyncio.Event) -> None:
        """Dispatch until ``stopping`` is set; then let the attempts in hand finish."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        try:
            while not stopping.is_set():
                self._wake.clear()
                try:
                    await self._read_log()
                except Exception:
                    log.exception("webhook dispatcher could not read its log; will retry")
                self._start_due()
                await self._idle(stopping)
        except asyncio.CancelledError:  # torn down: what is in flight goes unrecorded
            for task in self._tasks:
                task.cancel()
            raise
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _idle(self, stopping: asyncio.Event) -> None:
        assert self._wake is not None
        wait = self.poll_interval
        if self._due and len(self._in_flight) < self.concurrency:
            until_due = (self._due[0][0] - self.clock()).total_seconds()
            wait = max(0.0, min(wait, until_due))
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _read_log(self) -> None:
        """Note every delivery the log has owed since the last look."""
        recorder, mapper = self.webhooks.recorder, self.webhooks.mapper
        while True:
            page = await self._blocking(
                recorder.select_notifications,
                start=self._read_up_to + 1,
                limit=PAGE,
                topics=OWED,
            )
            for notification in page:
                owed = mapper.to_domain_event(notification)
                due = getattr(owed, "due_at", None) or getattr(owed, "at", None)
                assert isinstance(due, datetime)
                self._owe(owed.originator_id, due)
                self._read_up_to = notification.id
            if len(page) < PAGE:
                return

    def _owe(self, delivery_id: UUID, due: datetime) -> None:
        heapq.heappush(self._due, (due, delivery_id))

    def _start_due(self) -> None:
        now = self.clock()
        while self._due and self._due[0][0] <= now and len(self._in_flight) < self.concurrency:
            _, delivery_id = heapq.heappop(self._due)
            if delivery_id in self._in_flight:
                continue
            self._in_flight.add(delivery_id)
            task = asyncio.create_task(self._attempt(delivery_id))
            self._tasks.add(task)
            task.add_done_callback(self._finished(delivery_id))

    def _finished(self, delivery_id: UUID) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._in_flight.discard(delivery_id)
            if self._wake is not None:
                self._wake.set()  # room for another attempt

        return done

    async def _attempt(self, delivery_id: UUID) -> None:
        try:
            await self._deliver(delivery_id)
        except Exception:
            log.exception("webhook delivery %s failed to run; will retry", delivery_id)
            retry_at = self.clock().timestamp() + self.poll_interval
            self._owe(delivery_id, datetime.fromtimestamp(retry_at, UTC))

    async def _deliver(self, delivery_id: UUID) -> None:
        delivery = await self._blocking(self.webhooks.get_delivery, delivery_id)
        if not delivery.is_pending or delivery.next_attempt_at is None:
            return
        if delivery.next_attempt_at > self.clock():  # a later attempt, already recorded
            self._owe(delivery_id, delivery.next_attempt_at)
            return
        webhook = await self._blocking(self.webhooks.get_webhook, delivery.webhook_id)
        if not webhook.is_active:
            reason = "webhook deleted" if webhook.is_deleted else "webhook disabled"
            abandoned = await self._blocking(self.webhooks.abandon, delivery_id, reason)
            if self.on_recorded is not None:
                self.on_recorded(abandoned)
            return
        body = delivery.body.encode()
        headers = {
            EVENT_HEADER: delivery.event_type,
            DELIVERY_HEADER: public_id(DELIVERY, delivery.id),
        } | sign(webhook.secret, body, int(time.time()))
        result = await self.sender.send(webhook.url, body, headers)
        outcome = AttemptOutcome(result.delivered, result.status, result.latency_ms, result.error)
        retry_in = retry_delay(
            delivery.round_attempts + 1, base=self.retry_base, cap=self.retry_cap
        )
        recorded = await self._blocking(
            self.webhooks.record_attempt, delivery_id, outcome, retry_in
        )
        log.info(
            "webhook attempt",
            extra={
                "delivery": public_id(DELIVERY, delivery_id),
                "attempt": recorded.attempts,
                "status": result.status,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "outcome": recorded.status.value,
            },
        )
        if recorded.is_pending and recorded.next_attempt_at is not None:
            self._owe(delivery_id, recorded.next_attempt_at)
        if self.on_recorded is not None:
            self.on_recorded(recorded)

    async def _blocking(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(function, *args, **kwargs))
