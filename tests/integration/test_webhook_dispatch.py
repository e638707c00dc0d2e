"""The dispatcher end to end, on every store: transfers → scheduled deliveries → signed
POSTs to real receivers on loopback → recorded attempts, retries and dead letters.

Receivers run in the test's event loop. Nothing waits on the clock to synchronise:
tests wait for what the receiver saw or for the dispatcher's report of a recorded
attempt, each bounded by a guard so a broken dispatcher fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from application.audit import events_of
from application.saga import Ledger
from application.webhooks import WebhookRules
from domain.money import Money
from domain.webhook import Delivery, DeliveryStatus, WebhookEvent
from infrastructure.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, verify
from interfaces.ids import DELIVERY, TRANSACTION, USER, public_id
from interfaces.webhook_dispatcher import Dispatcher, render_body
from tests.conftest import LedgerFactory
from tests.integration.test_saga import open_two_users
from tests.support.saga import payflow_on

SECRET = "whsec_dispatch_test_secret"
GUARD = 10.0  # seconds before a wait gives up and fails the test
ALL = [e.value for e in WebhookEvent]


@dataclass
class Receiver:
    """A merchant's endpoint: every request it got, and the answers it is told to give."""

    answers: list[int] = field(default_factory=list)  # statuses to give, then 200s
    hold: asyncio.Event | None = None  # when set, requests wait for it before answering
    requests: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            self.requests.append((body, dict(request.headers)))
            self.arrived.notify_all()
        if self.hold is not None:
            await asyncio.wait_for(self.hold.wait(), GUARD)
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    async def until(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.requests) >= count), GUARD
            )

    def delivery_ids(self) -> list[str]:
        return [headers["X-PayFlow-Delivery-ID"] for _, headers in self.requests]


@dataclass
class Recorded:
    """The dispatcher's reports of recorded attempts (made on the loop), to wait on."""

    deliveries: dict[UUID, Delivery] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def report(self, delivery: Delivery) -> None:
        self.deliveries[delivery.id] = delivery
        self.changed.set()

    async def until(self, done: Callable[[list[Delivery]], bool]) -> list[Delivery]:
        async with asyncio.timeout(GUARD):
            while not done(list(self.deliveries.values())):
                self.changed.clear()
                await self.changed.wait()
        return list(self.deliveries.values())


Serve = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[tuple[Receiver, TestServer]] = []

    async def start(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        app = web.Application()
        app.router.add_post("/hook", receiver.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        receiver.url = str(server.make_url("/hook"))
        servers.append((receiver, server))
        return receiver

    yield start
    for receiver, server in servers:
        if receiver.hold is not None:
            receiver.hold.set()
        await server.close()


@dataclass
class Running:
    dispatcher: Dispatcher
    stopping: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.wait_for(self.task, GUARD)


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    async with WebhookSender(require_https=False, allow_private=True, timeout=0.5) as s:
        yield s


def start_dispatcher(ledger: Ledger, sender: WebhookSender, recorded: Recorded) -> Running:
    dispatcher = Dispatcher(
        ledger.webhooks,
        sender,
        poll_interval=0.05,
        retry_base=0.01,
        retry_cap=0.05,
        on_recorded=recorded.report,
    )
    stopping = asyncio.Event()
    return Running(dispatcher, stopping, asyncio.create_task(dispatcher.run(stopping)))


def _pay(ledger: Ledger, asha: UUID, ravi: UUID, amount: str) -> UUID:
    payflow = payflow_on(ledger)
    payflow.deposit(asha, Money.parse("100.00"))
    sent = payflow.send(asha, Money.parse(amount), receiver_id=ravi)
    ledger.drain()
    ledger.webhooks.pull_and_process(ledger.transfers.name)
    return sent.transfer.id


def rendered(ledger_factory: LedgerFactory, **rules: Any) -> Ledger:
    return ledger_factory(webhook_rules=WebhookRules(render=render_body, **rules))


async def test_delivers_every_step_signed_to_both_parties(
    ledger_factory: LedgerFactory, serve: Serve, sender: WebhookSender
) -> None:
    ledger = rendered(ledger_factory)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    shop, person = await serve(), await serve()
    ledger.webhooks.subscribe(asha, person.url, ALL, SECRET)
    ledger.webhooks.subscribe(ravi, shop.url, ["TRANSACTION_COMPLETED"], SECRET)
    transfer_id = _pay(ledger, asha, ravi, "12.50")
    recorded = Recorded()
    running = start_dispatcher(ledger, sender, recorded)
    try:
        await person.until(4)
        await shop.until(1)
        await recorded.until(lambda ds: len(ds) == 5 and all(not d.is_pending for d in ds))
    finally:
        await running.stop()

    events = [json.loads(body)["event"] for body, _ in sorted(person.requests, key=_timestamp)]
    assert sorted(events) == sorted(
        ["TRANSACTION_INITIATED", "DEBIT_SUCCESS", "CREDIT_SUCCESS", "TRANSACTION_COMPLETED"]
    )
    body, headers = shop.requests[0]
    now = int(time.time())
    assert verify(SECRET, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], now=now)
    wrong = "whsec_wrong_secret_xxxx"
    assert not verify(wrong, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], now=now)
    payload = json.loads(body, parse_float=Decimal)
    assert payload == {
        "deliveryId": headers["X-PayFlow-Delivery-ID"],
        "event": "TRANSACTION_COMPLETED",
        "transactionId": public_id(TRANSACTION, transfer_id),
        "status": "COMPLETED",
        "amount": Decimal("12.50"),
        "currency": "INR",
        "timestamp": payload["timestamp"],
        "senderId": public_id(USER, asha),
        "receiverId": public_id(USER, ravi),
    }
    assert headers["X-PayFlow-Event"] == "TRANSACTION_COMPLETED"
    assert headers["X-PayFlow-Delivery-ID"].startswith(f"{DELIVERY}_")
    assert all(d.status is DeliveryStatus.DELIVERED for d in recorded.deliveries.values())


def _timestamp(request: tuple[bytes, dict[str, str]]) -> str:
    return str(json.loads(request[0])["timestamp"])


async def test_retries_a_failing_receiver_until_it_answers(
    ledger_factory: LedgerFactory, serve: Serve, sender: WebhookSender
) -> None:
    ledger = rendered(ledger_factory)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    flaky = await serve(answers=[500, 503])
    webhook = ledger.webhooks.subscribe(ravi, flaky.url, ["TRANSACTION_COMPLETED"], SECRET)
    _pay(ledger, asha, ravi, "5.00")
    recorded = Recorded()
    running = start_dispatcher(ledger, sender, recorded)
    try:
        (delivery,) = await recorded.until(lambda ds: bool(ds) and not ds[0].is_pending)
    finally:
        await running.stop()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(set(flaky.delivery_ids())) == 1
    assert len(flaky.requests) == 3
    assert len({body for body, _ in flaky.requests}) == 1  # the same bytes every time
    assert ledger.webhooks.get_webhook(webhook.id).failure_count == 0


async def test_a_receiver_that_never_answers_is_dead_lettered_then_redelivered(
    ledger_factory: LedgerFactory, serve: Serve, sender: WebhookSender
) -> None:
    ledger = rendered(ledger_factory, max_attempts=3)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    silent = await serve(hold=asyncio.Event())
    ledger.webhooks.subscribe(ravi, silent.url, ["TRANSACTION_COMPLETED"], SECRET)
    _pay(ledger, asha, ravi, "5.00")
    recorded = Recorded()
    running = start_dispatcher(ledger, sender, recorded)
    try:
        (dead,) = await recorded.until(lambda ds: bool(ds) and not ds[0].is_pending)
        assert (dead.status, dead.attempts) == (DeliveryStatus.DEAD, 3)
        assert dead.last_error is not None
        assert "timed out" in dead.last_error

        assert silent.hold is not None
        silent.hold.set()  # the merchant fixed the endpoint; they ask for the event again
        ledger.webhooks.redeliver(dead.id, owner_id=ravi)
        running.dispatcher.wake()
        (again,) = await recorded.until(lambda ds: ds[0].status is DeliveryStatus.DELIVERED)
    finally:
        await running.stop()
    assert again.attempts == 4
    assert len(set(silent.delivery_ids())) == 1


async def test_an_endpoint_failing_again_and_again_is_disabled_and_its_deliveries_dropped(
    ledger_factory: LedgerFactory, serve: Serve, sender: WebhookSender
) -> None:
    ledger = rendered(ledger_factory, max_attempts=3, disable_after=2)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    broken = await serve(answers=[500] * 10)
    webhook = ledger.webhooks.subscribe(asha, broken.url, ["CREDIT_SUCCESS"], SECRET)
    _pay(ledger, asha, ravi, "5.00")
    recorded = Recorded()
    running = start_dispatcher(ledger, sender, recorded)
    try:
        (dropped,) = await recorded.until(lambda ds: bool(ds) and not ds[0].is_pending)
    finally:
        await running.stop()
    assert (dropped.status, dropped.attempts) == (DeliveryStatus.DEAD, 2)
    assert dropped.last_error == "webhook disabled"  # its third attempt was never sent
    assert len(broken.requests) == 2
    disabled = ledger.webhooks.webhook_for(asha, webhook.id)
    assert not disabled.is_active
    assert disabled.disabled_reason == "disabled after 2 failed attempts in a row: HTTP 500"

    _pay(ledger, asha, ravi, "1.00")  # nothing more is owed to a disabled endpoint
    assert len([d for d in _scheduled(ledger) if d.webhook_id == webhook.id]) == 1


def _scheduled(ledger: Ledger) -> list[Delivery]:
    return [
        ledger.webhooks.get_delivery(e.originator_id)
        for _, e in events_of(ledger.webhooks)
        if type(e).__qualname__ == "Delivery.Scheduled"
    ]


async def test_a_slow_receiver_does_not_hold_up_another(
    ledger_factory: LedgerFactory, serve: Serve
) -> None:
    ledger = rendered(ledger_factory)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    slow, fast = await serve(hold=asyncio.Event()), await serve()
    ledger.webhooks.subscribe(asha, slow.url, ["TRANSACTION_COMPLETED"], SECRET)
    ledger.webhooks.subscribe(ravi, fast.url, ["TRANSACTION_COMPLETED"], SECRET)
    _pay(ledger, asha, ravi, "5.00")
    recorded = Recorded()
    patient = WebhookSender(require_https=False, allow_private=True, timeout=GUARD)
    await patient.start()
    running = start_dispatcher(ledger, patient, recorded)
    try:
        await slow.until(1)  # the slow receiver holds its request ...
        recorded_so_far = await recorded.until(bool)  # ... while the other is delivered
        assert [(d.owner_id, d.status) for d in recorded_so_far] == [
            (ravi, DeliveryStatus.DELIVERED)
        ]
        assert len(slow.requests) == 1
    finally:
        assert slow.hold is not None
        slow.hold.set()
        await running.stop()
        await patient.close()


async def test_a_dispatcher_stopped_mid_delivery_sends_it_again_after_a_restart(
    ledger_factory: LedgerFactory, serve: Serve, sender: WebhookSender
) -> None:
    ledger = rendered(ledger_factory)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    receiver = await serve(hold=asyncio.Event())
    ledger.webhooks.subscribe(ravi, receiver.url, ["TRANSACTION_COMPLETED"], SECRET)
    _pay(ledger, asha, ravi, "5.00")

    first = start_dispatcher(ledger, sender, Recorded())
    await receiver.until(1)
    first.task.cancel()  # dies with the request in flight, nothing recorded
    with pytest.raises(asyncio.CancelledError):
        await first.task

    assert receiver.hold is not None
    receiver.hold.set()
    recorded = Recorded()
    second = start_dispatcher(ledger, sender, recorded)
    try:
        (delivery,) = await recorded.until(lambda ds: bool(ds) and not ds[0].is_pending)
    finally:
        await second.stop()
    assert delivery.status is DeliveryStatus.DELIVERED
    ids = receiver.delivery_ids()
    assert len(ids) == 2
    assert len(set(ids)) == 1
