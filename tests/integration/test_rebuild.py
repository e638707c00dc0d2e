"""Rebuilding the read models from zero: the same rows, while queries go on."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from application.webhooks import AttemptOutcome
from domain.money import Money
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from projections import queries
from projections.store import READ_TABLES
from tests.support.projection import projected

GUARD = 30.0  # seconds any wait here may take before the test fails


ORDER = {
    "transfers": "transfer_id",
    "wallets": "wallet_id",
    "movements": "wallet_id, position",
    "deposits": "deposit_id",
    "webhook_deliveries": "delivery_id",
    "webhook_attempts": "delivery_id, attempt",
}
FAILED = AttemptOutcome(delivered=False, status_code=500, latency_ms=12, error="HTTP 500")
DELIVERED = AttemptOutcome(delivered=True, status_code=200, latency_ms=8, error=None)


@pytest.fixture
def container(store_settings: Settings) -> Iterator[Container]:
    built = bootstrap(store_settings)
    yield built
    built.close()


def traffic(container: Container, transfers: int = 30) -> tuple[Any, Any]:
    payflow = container.payflow
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("1000"))
    for n in range(transfers):
        payflow.send(asha, Money(100 + n), receiver_id=ravi, description=f"#{n}")
    payflow.send(ravi, Money.parse("100000"), receiver_id=asha)  # fails: he cannot pay
    container.ledger.drain()
    deliveries(container, asha)
    return asha, ravi


def deliveries(container: Container, owner: Any) -> None:
    """Schedule what the transfers owe the owner's endpoint; attempt some, abandon one."""
    webhooks = container.ledger.webhooks
    events = ["TRANSACTION_COMPLETED", "TRANSACTION_FAILED"]
    webhook = webhooks.subscribe(owner, "https://merchant.example.com/hooks", events, "s" * 32)
    webhooks.pull_and_process(container.ledger.transfers.name)
    container.projector.catch_up()
    owed = queries.deliveries_of(container.projector.store, webhook.id, limit=100)
    first, second, third, *_ = owed.deliveries
    webhooks.record_attempt(first.id, FAILED, retry_in=1.0)
    webhooks.record_attempt(first.id, DELIVERED, retry_in=1.0)
    webhooks.record_attempt(second.id, FAILED, retry_in=1.0)
    webhooks.abandon(third.id, "the endpoint was deleted")


def every_row(container: Container) -> dict[str, list[dict[str, Any]]]:
    store = container.projector.store
    return {
        table: store.select(f"SELECT * FROM {{t}}{table} ORDER BY {ORDER[table]}", {})
        for table in READ_TABLES
    }


def test_a_rebuild_ends_with_exactly_the_rows_it_had_before(container: Container) -> None:
    traffic(container)
    container.projector.catch_up()
    before, positions = every_row(container), container.projector.positions()
    assert all(before.values())  # every table has rows to compare

    reached = container.projector.rebuild()

    assert every_row(container) == before
    assert reached == positions == container.projector.positions()


def test_a_rebuild_repairs_a_damaged_read_model(container: Container) -> None:
    traffic(container)
    container.projector.catch_up()
    before = every_row(container)
    with container.projector.store.cursor() as c:
        c.execute(container.projector.store.statement("DELETE FROM {t}movements"))
        c.execute(container.projector.store.statement("UPDATE {t}wallets SET balance = 0"))
        c.execute(container.projector.store.statement("DELETE FROM {t}webhook_attempts"))
        c.execute(
            container.projector.store.statement("UPDATE {t}webhook_deliveries SET attempts = 0")
        )

    container.projector.rebuild()

    assert every_row(container) == before


def test_queries_keep_answering_and_the_projector_keeps_going_during_a_rebuild(
    persistent_settings: Settings,
) -> None:
    many = replace(persistent_settings.limits, daily_count=1000)
    container = bootstrap(replace(persistent_settings, limits=many))
    try:
        asha, ravi = traffic(container, transfers=60)
        container.projector.catch_up()
        container.projector.start(poll_interval=0.05)
        totals: list[int] = []
        stop = threading.Event()

        def keep_querying() -> None:
            wanted = queries.TransferFilter(asha, limit=5)
            while not stop.is_set():
                totals.append(queries.transfers_for(container.projector.store, wanted).total)

        reader = threading.Thread(target=keep_querying)
        reader.start()
        try:
            container.projector.rebuild()
            container.payflow.send(asha, Money(1), receiver_id=ravi)  # traffic goes on
            container.ledger.drain()
            projector = container.projector
            assert projected(projector, projector.latest_positions(), 10)
        finally:
            stop.set()
            reader.join(GUARD)
        assert not reader.is_alive(), "the reader did not stop"

        assert totals  # the reader got answers throughout
        assert min(totals) == 61  # never an empty or half-built view
        final = queries.transfers_for(container.projector.store, queries.TransferFilter(asha))
        assert final.total == 62
    finally:
        container.close()


def test_pages_that_fold_a_transfer_s_states_leave_the_rows_one_by_one_would(
    container: Container,
) -> None:
    asha, ravi = traffic(container, transfers=5)
    payflow, wallets = container.payflow, container.ledger.wallets
    wallets.freeze_wallet(payflow.wallet_of(ravi).id, "held for review")
    payflow.send(asha, Money(7), receiver_id=ravi)  # refused credit: refunded
    container.ledger.drain()
    container.projector.page_size = 1  # one event a page: nothing to fold
    container.projector.catch_up()
    one_by_one = every_row(container)
    statuses = {row["status"] for row in one_by_one["transfers"]}
    assert statuses == {"COMPLETED", "FAILED"}
    assert any(row["failure_reason"] for row in one_by_one["transfers"])

    container.projector.rebuild()  # pages of 200: every transfer's states in one page

    assert every_row(container) == one_by_one
