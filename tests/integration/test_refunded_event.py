"""A refund ends in a ``Refunded`` event, and refunds stored before it existed read as one.

Transfers refunded before ``Transfer.Refunded`` existed recorded a ``Failed`` whose
reason began ``"Refunded: "``. Such a store is made here with that earlier
behaviour, then read by today's code: the aggregate, the logs the followers read,
the read models, the webhooks and the audit all see a ``Refunded``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from uuid import UUID

import pytest

from application.saga import Ledger
from application.webhooks import EVENTS_OF
from domain.money import Money
from domain.transfer import Transfer, TransferStatus
from domain.webhook import WebhookEvent
from infrastructure.settings import Settings
from infrastructure.stores import env_for, read_store_env
from projections import queries
from projections.runner import Projector
from projections.store import open_read_store
from tests.support.saga import checked_audit, payflow_on


def refused_credit(ledger: Ledger) -> UUID:
    """A transfer whose credit is refused (the receiver's wallet is frozen), settled."""
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("300"))
    ledger.wallets.freeze_wallet(payflow.wallet_of(ravi).id, reason="KYC review")
    sent = payflow.send(asha, Money.parse("100"), receiver_id=ravi)
    ledger.drain()
    return sent.transfer.id


def the_earlier_mark_refunded(transfer: Transfer) -> None:
    """How a refund was recorded before ``Refunded``: a ``Failed`` with a prefix."""
    transfer._failed(reason=f"Refunded: {transfer.failure_reason}")


def test_a_refund_ends_in_a_refunded_event_with_the_credit_reason(ledger: Ledger) -> None:
    transfer_id = refused_credit(ledger)

    *_, requested, last = ledger.transfers.events.get(transfer_id)
    assert isinstance(requested, Transfer.RefundRequested)
    assert type(last) is Transfer.Refunded
    assert last.reason == requested.reason
    assert last.failure_reason == f"Refunded: {requested.reason}"
    transfer = ledger.transfers.get_transfer(transfer_id)
    assert transfer.status is TransferStatus.FAILED
    assert transfer.was_refunded
    assert transfer.failure_reason == last.failure_reason


def test_a_refused_debit_still_ends_in_failed(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    sent = payflow.send(asha, Money.parse("100"), receiver_id=ravi)  # she has nothing
    ledger.drain()

    *_, last = ledger.transfers.events.get(sent.transfer.id)
    assert type(last) is Transfer.Failed
    assert not ledger.transfers.get_transfer(sent.transfer.id).was_refunded


@pytest.fixture
def restartable(persistent_settings: Settings) -> Iterator[Callable[[], Ledger]]:
    """Builds ledgers over one persistent store: a second build is a restart."""
    built: list[Ledger] = []

    def build() -> Ledger:
        built.append(Ledger.build(env_for(persistent_settings)))
        return built[-1]

    yield build
    for ledger in built:
        ledger.close()


def test_refunds_stored_as_failed_read_as_refunded_after_an_upgrade(
    restartable: Callable[[], Ledger],
    persistent_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as earlier:
        earlier.setattr(Transfer, "mark_refunded", the_earlier_mark_refunded)
        before = restartable()
        transfer_id = refused_credit(before)
    stored = [
        n
        for n in before.transfers.recorder.select_events(transfer_id)
        if n.topic.endswith("Transfer.Failed")
    ]
    assert len(stored) == 1, "the earlier behaviour recorded a Failed"

    after = restartable()  # a restart on today's code, over the same store

    *_, requested, last = after.transfers.events.get(transfer_id)
    assert type(last) is Transfer.Refunded
    assert last.reason == requested.reason
    assert "frozen" in last.reason
    assert not last.reason.startswith("Refunded")
    transfer = after.transfers.get_transfer(transfer_id)
    assert transfer.was_refunded
    assert transfer.failure_reason == f"Refunded: {requested.reason}"
    # What the followers read from the log is the Refunded too.
    logged = [
        after.transfers.mapper.to_domain_event(n)
        for n in after.transfers.notification_log.select(start=1, limit=100)
    ]
    assert Transfer.Failed not in {type(e) for e in logged}
    assert EVENTS_OF[type(logged[-1])] == (
        WebhookEvent.REFUND_COMPLETED,
        WebhookEvent.TRANSACTION_FAILED,
    )
    projector = Projector(
        open_read_store(read_store_env(persistent_settings)),
        [after.transfers, after.wallets, after.webhooks],
    )
    try:
        projector.catch_up()
        (row,) = queries.transfers_for(
            projector.store, queries.TransferFilter(transfer.sender_id)
        ).transfers
        assert row.status == "FAILED"
        assert row.failure_reason == transfer.failure_reason
    finally:
        projector.stop()
        projector.store.datastore.close()
    assert checked_audit(after).violations == []
