"""Chaos for webhooks: the dispatcher process is killed with deliveries in flight, and
Redis (its wake-up hints) is lost, while transfers flow. Every delivery the log owes
must still reach its receiver, at least once, duplicates carrying the same
``X-PayFlow-Delivery-ID``, and every body must carry a valid signature.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from domain.transfer import TransferStatus
from domain.webhook import DeliveryStatus, WebhookEvent
from infrastructure.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from interfaces.ids import DELIVERY, public_id
from tests.chaos.cluster import Cluster
from tests.chaos.conftest import FIGURES
from tests.chaos.observer import Observer
from tests.chaos.traffic import Traffic

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.timeout(600)]

SECRET = "whsec_chaos_receiver_secret"
DELIVERY_TIMEOUT = 120.0
# What each kind of finished transfer tells each of its two parties.
TOLD = {"COMPLETED": 4, "FAILED": 3, "REFUNDED": 6}


@dataclass
class Receiver:
    """Every merchant endpoint of the test: what arrived, and a gate that holds answers."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    deliveries: Counter[str] = field(default_factory=Counter)  # delivery id → times received
    bad_signatures: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        signed = verify(
            SECRET, body, headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER], now=time.time()
        )
        self.bad_signatures += not signed
        delivery_id = headers["X-PayFlow-Delivery-ID"]
        assert json.loads(body)["deliveryId"] == delivery_id
        self.deliveries[delivery_id] += 1
        self.arrived.set()
        await asyncio.wait_for(self.gate.wait(), DELIVERY_TIMEOUT)
        return web.Response(text="thanks")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    app = web.Application()
    app.router.add_post("/hook/{owner}", endpoint.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    endpoint.url = str(server.make_url("/hook"))
    yield endpoint
    endpoint.gate.set()
    await server.close()


async def test_no_delivery_is_lost_when_the_dispatcher_dies_and_redis_goes(
    cluster: Cluster, observer: Observer, traffic: Traffic, receiver: Receiver, seed: int
) -> None:
    for n, account in enumerate(traffic.accounts):  # everyone hears of everything
        status, body = await traffic.call_as(
            account,
            "POST",
            "/webhooks",
            {"url": f"{receiver.url}/{n}", "events": [e.value for e in WebhookEvent]}
            | {"secret": SECRET},
        )
        assert status == 201, body

    load = asyncio.create_task(traffic.run(4.0, clients=4))
    await asyncio.wait_for(receiver.arrived.wait(), 30)  # deliveries are in flight, held
    await asyncio.to_thread(cluster.kill, "webhooks")
    held = sum(receiver.deliveries.values())
    cluster.redis.kill()  # and every hint with it
    receiver.gate.set()
    await asyncio.to_thread(cluster.start, "webhooks")
    await load
    await asyncio.to_thread(cluster.redis.start)

    settled = await asyncio.to_thread(observer.settle, 120.0)
    started = time.monotonic()
    report = observer.report()
    expected = 0
    for transfer_id, status in report.statuses.items():
        refunded = transfer_id in report.refunded
        kind = "REFUNDED" if refunded else status.value
        assert status in (TransferStatus.COMPLETED, TransferStatus.FAILED)
        expected += 2 * TOLD[kind]
    while True:
        owed = await asyncio.to_thread(observer.deliveries)
        if len(owed) == expected and set(owed.values()) == {DeliveryStatus.DELIVERED}:
            break
        assert time.monotonic() - started < DELIVERY_TIMEOUT, Counter(owed.values())
        await asyncio.sleep(0.5)  # the dispatcher runs in another process: look again
    took = time.monotonic() - started

    assert set(receiver.deliveries) == {public_id(DELIVERY, d) for d in owed}  # all arrived
    assert receiver.bad_signatures == 0
    duplicates = sum(n - 1 for n in receiver.deliveries.values())
    assert duplicates >= 1, "what was in flight at the kill was never sent again"
    exits = await asyncio.to_thread(cluster.stop_all)
    assert set(exits.values()) == {0}, f"{exits}\n{cluster.tails()}"
    FIGURES.append(
        f"webhooks kill -9 + Redis lost: {len(traffic.acknowledged)} transfers, "
        f"{expected} deliveries owed and all delivered ({duplicates} sent twice after the "
        f"kill, {held} were in flight at it); transfers settled in {settled.seconds:.2f} s, "
        f"deliveries {took:.2f} s after that; seed {seed}"
    )
