"""The webhook side of a deployment, as one startable piece.

Two halves: the scheduler, a thread that follows the Transfers log and commits
the deliveries each event owes (the Webhooks application's policy), and the
dispatcher, a task on the event loop that sends them. ``payflow webhooks`` runs
it on its own in server mode; ``payflow up`` runs it beside the API.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from prometheus_client import CollectorRegistry, Counter

from application.saga import Ledger
from domain.webhook import Delivery
from infrastructure.followers import SagaRunner, Wakeup
from infrastructure.settings import WebhookSettings
from infrastructure.webhooks import WebhookSender
from interfaces.webhook_dispatcher import Dispatcher

GATHER = 0.1  # seconds: a webhook may leave that much later, so bursts cost one pull


class DeliveryMetrics:
    """Webhook attempts by event and by what became of the delivery, in a registry of
    their own (``GET /metrics`` shows them where the worker runs in the API's process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "payflow_webhook_deliveries",
            "Webhook deliveries after each attempt or drop: PENDING (to be retried), "
            "DELIVERED or DEAD (dead-lettered), by event.",
            ["event", "status"],
            registry=self.registry,
        )

    def observe(self, delivery: Delivery) -> None:
        self.outcomes.labels(delivery.event_type, delivery.status.value).inc()


class WebhookWorker:
    """Schedules and sends webhook deliveries until stopped."""

    def __init__(
        self,
        ledger: Ledger,
        settings: WebhookSettings,
        *,
        require_https: bool,
        poll_interval: float,
        executor: Executor | None = None,
    ) -> None:
        self.ledger = ledger
        self.scheduler = SagaRunner(
            ledger, poll_interval=poll_interval, pairs=ledger.notifiers, gather=GATHER
        )
        self.sender = WebhookSender(
            require_https=require_https,
            allow_private=settings.allow_private,
            timeout=settings.timeout,
        )
        self.metrics = DeliveryMetrics()
        self.dispatcher = Dispatcher(
            ledger.webhooks,
            self.sender,
            executor=executor,
            poll_interval=poll_interval,
            concurrency=settings.concurrency,
            retry_base=settings.retry_base,
            retry_cap=settings.retry_cap,
            on_recorded=self.metrics.observe,
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sender.start()
        self.ledger.webhooks.lead(Wakeup(self.dispatcher.wake))  # this process's commits
        self.scheduler.start()
        self._task = asyncio.create_task(self.dispatcher.run(self._stopping))

    def wake(self, log_name: str) -> None:
        """Another process committed to ``log_name``: look now, not at the next poll."""
        self.scheduler.wake(log_name)
        if log_name == self.ledger.webhooks.name:
            self.dispatcher.wake()

    async def stop(self) -> None:
        """Finish the attempts in hand and the scheduling step in hand, then return."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        await asyncio.get_running_loop().run_in_executor(None, self.scheduler.stop)
        await self.sender.close()
