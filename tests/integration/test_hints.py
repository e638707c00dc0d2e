"""Commit hints over Redis wake a saga in another process at once; without Redis it polls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from domain.money import Money
from domain.transfer import TransferStatus
from interfaces.bootstrap import Container, bootstrap
from tests.conftest import REDIS_URL, closed_port_url, make_settings

pytestmark = pytest.mark.postgres

Deployment = Callable[..., tuple[Container, Container]]


@pytest.fixture
def deployment(tmp_path: Path, postgres_schema: str) -> Iterator[Deployment]:
    """An API process and a saga process (as two containers) on one PostgreSQL schema."""
    opened: list[Container] = []

    def build(redis_url: str, prefix: str, poll_ms: int) -> tuple[Container, Container]:
        settings = make_settings(
            "postgres",
            tmp_path,
            postgres_schema,
            REDIS_URL=redis_url,
            PAYFLOW_REDIS_PREFIX=prefix,
            PAYFLOW_SAGA_POLL_MS=str(poll_ms),
        )
        api, worker = bootstrap(settings), bootstrap(settings)
        opened.extend([api, worker])
        return api, worker

    yield build
    for container in opened:
        container.close()


def completes_within(api: Container, settings_seconds: float) -> bool:
    payflow = api.payflow
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("10"))
    sent = payflow.send(asha, Money.parse("4"), receiver_id=ravi)
    deadline = time.monotonic() + settings_seconds
    while time.monotonic() < deadline:
        if api.ledger.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED:
            return True
        time.sleep(0.01)  # polling the outcome, with a deadline
    return False


def patterns() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.pubsub_numpat())
    finally:
        client.close()


def test_a_hint_wakes_the_saga_in_another_process_long_before_its_poll(
    deployment: Deployment, redis_prefix: str
) -> None:
    api, worker = deployment(REDIS_URL, redis_prefix, poll_ms=60_000)
    before = patterns()
    api.share_commits(listen=False)
    worker.share_commits(listen=True)
    worker.saga.start()
    deadline = time.monotonic() + 5
    while patterns() <= before:  # the saga process has subscribed
        assert time.monotonic() < deadline
        time.sleep(0.01)

    assert completes_within(api, settings_seconds=5)  # its own poll would wait 60 s


def test_without_redis_the_saga_still_gets_there_by_polling(deployment: Deployment) -> None:
    api, worker = deployment(closed_port_url(), "payflow-test:", poll_ms=100)
    api.share_commits(listen=False)
    worker.share_commits(listen=True)
    worker.saga.start()

    assert completes_within(api, settings_seconds=10)
