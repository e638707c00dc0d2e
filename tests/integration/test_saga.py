"""Worked saga scenarios, on every store: a customer's transfers, step by step."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from application.policy import CreditFaults, Limits
from application.saga import Ledger
from application.service import PayFlow
from domain.errors import (
    CurrencyMismatch,
    DailyLimitExceeded,
    IdempotencyConflict,
    LimitExceeded,
    SelfTransfer,
)
from domain.money import Money
from domain.transfer import Transfer, TransferStatus
from domain.wallet import Wallet
from infrastructure.settings import Settings
from tests.conftest import LedgerFactory
from tests.support.saga import checked_audit, payflow_on


def rupees(text: str) -> Money:
    return Money.parse(text)


def open_two_users(payflow: PayFlow) -> tuple[UUID, UUID]:
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    return asha, ravi


def balance(payflow: PayFlow, user_id: UUID) -> Money:
    return payflow.wallet_of(user_id).balance


def statuses(ledger: Ledger, transfer_id: UUID) -> list[str]:
    history = ledger.transfers.events.get(transfer_id)
    return [
        ledger.transfers.repository.get(transfer_id, version=e.originator_version).status
        for e in history
    ]


def test_completes_a_transfer_and_moves_the_money_exactly(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("500.00"))  # Asha tops up from her bank

    sent = payflow.send(asha, rupees("120.50"), receiver_id=ravi, description="dinner")
    assert sent.transfer.status is TransferStatus.INITIATED  # the saga runs afterwards
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.COMPLETED
    assert statuses(ledger, transfer.id) == ["INITIATED", "DEBITED", "CREDITED", "COMPLETED"]
    assert balance(payflow, asha) == rupees("379.50")
    assert balance(payflow, ravi) == rupees("120.50")
    assert checked_audit(ledger).violations == []


def test_the_debit_and_the_credit_are_one_commit_and_the_credit_step_then_does_nothing(
    ledger: Ledger,
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("50"))
    sent = payflow.send(asha, rupees("20"), receiver_id=ravi)
    wallet_log = ledger.wallets.recorder.max_notification_id() or 0

    ledger.wallets.pull_and_process(ledger.transfers.name)  # the debit and the credit
    assert balance(payflow, asha) == rupees("30")
    assert balance(payflow, ravi) == rupees("20")
    moved = ledger.wallets.recorder.select_notifications(start=wallet_log + 1, limit=10)
    assert [n.topic.rsplit(".", 1)[-1] for n in moved] == ["Debited", "Credited"]
    debited = ledger.wallets.mapper.to_domain_event(moved[0])
    assert isinstance(debited, Wallet.Debited)
    assert debited.credit_decided

    ledger.drain()  # the transfer records both; Transfer.Debited needs no credit step
    assert statuses(ledger, sent.transfer.id) == ["INITIATED", "DEBITED", "CREDITED", "COMPLETED"]
    (marked,) = [
        e for e in ledger.transfers.events.get(sent.transfer.id) if isinstance(e, Transfer.Debited)
    ]
    assert marked.credit_decided
    assert ledger.wallets.recorder.max_notification_id() == wallet_log + 2  # nothing more
    assert balance(payflow, ravi) == rupees("20")
    assert checked_audit(ledger).violations == []


def test_a_transfer_debited_without_its_credit_is_credited_once_by_the_credit_step(
    ledger: Ledger,
) -> None:
    """As a transfer debited before the two were made together is: the credit step
    (``Transfer.Debited`` without ``credit_decided``) still credits it, once."""
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("50"))
    sent = payflow.send(asha, rupees("20"), receiver_id=ravi)

    ledger.wallets.credit_with_debit = False  # for this step only
    ledger.wallets.pull_and_process(ledger.transfers.name)
    ledger.wallets.credit_with_debit = True
    assert balance(payflow, ravi) == rupees("0")  # in flight

    ledger.drain()
    assert statuses(ledger, sent.transfer.id) == ["INITIATED", "DEBITED", "CREDITED", "COMPLETED"]
    assert balance(payflow, asha) == rupees("30")
    assert balance(payflow, ravi) == rupees("20")
    assert checked_audit(ledger).violations == []


def test_fails_without_moving_money_when_the_sender_cannot_pay(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("10.00"))

    sent = payflow.send(asha, rupees("10.01"), receiver_id=ravi)
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert statuses(ledger, transfer.id) == ["INITIATED", "FAILED"]
    assert transfer.failure_reason is not None
    assert transfer.failure_reason.startswith("Insufficient funds")
    assert not transfer.was_refunded
    assert balance(payflow, asha) == rupees("10.00")
    assert balance(payflow, ravi) == rupees("0")
    assert checked_audit(ledger).violations == []


def test_refunds_sender_when_receiver_wallet_is_frozen(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("300"))
    ledger.wallets.freeze_wallet(payflow.wallet_of(ravi).id, reason="KYC review")

    sent = payflow.send(asha, rupees("100"), receiver_id=ravi)
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert statuses(ledger, transfer.id) == ["INITIATED", "DEBITED", "REFUNDING", "FAILED"]
    assert transfer.was_refunded
    assert "frozen" in (transfer.failure_reason or "")
    # The compensation is an explicit reversing event on Asha's wallet, never an edit.
    asha_events = ledger.wallets.events.get(payflow.wallet_of(asha).id)
    kinds = [type(e) for e in asha_events if getattr(e, "transfer_id", None) == transfer.id]
    assert kinds == [Wallet.Debited, Wallet.DebitReversed]
    assert balance(payflow, asha) == rupees("300")
    assert balance(payflow, ravi) == rupees("0")
    assert checked_audit(ledger).violations == []


def test_refunds_sender_when_the_credit_would_break_the_receivers_cap(
    ledger_factory: LedgerFactory,
) -> None:
    ledger = ledger_factory(limits=Limits(balance_cap=rupees("150")))
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("100"))
    payflow.deposit(ravi, rupees("100"))

    sent = payflow.send(asha, rupees("60"), receiver_id=ravi)
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.FAILED
    assert transfer.was_refunded
    assert "cap" in (transfer.failure_reason or "")
    assert balance(payflow, asha) == rupees("100")
    assert balance(payflow, ravi) == rupees("100")
    assert checked_audit(ledger).violations == []


def test_refunds_sender_when_a_credit_failure_is_injected(
    ledger_factory: LedgerFactory,
) -> None:
    faults = CreditFaults()
    ledger = ledger_factory(faults=faults)
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("50"))
    doomed = payflow.send(asha, rupees("20"), receiver_id=ravi, idempotency_key="doomed")
    faults.configure(enabled=True, transfer_ids={doomed.transfer.id})
    fine = payflow.send(asha, rupees("5"), receiver_id=ravi)

    ledger.drain()

    assert ledger.transfers.get_transfer(doomed.transfer.id).was_refunded
    assert ledger.transfers.get_transfer(fine.transfer.id).status is TransferStatus.COMPLETED
    assert balance(payflow, asha) == rupees("45")
    assert balance(payflow, ravi) == rupees("5")
    assert checked_audit(ledger).violations == []


def test_an_idempotency_key_stands_for_one_transfer_only(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("100"))

    first = payflow.send(asha, rupees("30"), receiver_id=ravi, idempotency_key="order-17")
    ledger.drain()
    again = payflow.send(asha, rupees("30"), receiver_id=ravi, idempotency_key="order-17")

    assert again.replayed
    assert not first.replayed
    assert again.transfer.id == first.transfer.id
    assert again.transfer.status is TransferStatus.INITIATED  # the original answer
    with pytest.raises(IdempotencyConflict):
        payflow.send(asha, rupees("31"), receiver_id=ravi, idempotency_key="order-17")
    ledger.drain()
    assert balance(payflow, ravi) == rupees("30")
    assert checked_audit(ledger).violations == []


def test_the_store_refuses_a_second_transfer_for_a_key_even_without_a_lookup(
    ledger: Ledger,
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    first = payflow.send(asha, rupees("1"), receiver_id=ravi, idempotency_key="k")
    twin = Transfer.initiate(
        sender_id=asha,
        receiver_id=ravi,
        sender_wallet_id=payflow.wallet_of(asha).id,
        receiver_wallet_id=payflow.wallet_of(ravi).id,
        amount=rupees("1"),
        idempotency_key="k",
    )
    assert twin.id == first.transfer.id
    with pytest.raises(IntegrityError):
        ledger.transfers.save(twin)  # straight to the store, no cache or check in front


def test_deposits_with_one_key_credit_once(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, _ = open_two_users(payflow)

    first = payflow.deposit(asha, rupees("75.25"), idempotency_key="topup-1")
    again = payflow.deposit(asha, rupees("75.25"), idempotency_key="topup-1")

    assert (first.replayed, again.replayed) == (False, True)
    assert again.deposit.id == first.deposit.id
    assert again.deposit.balance_after == rupees("75.25")
    assert balance(payflow, asha) == rupees("75.25")
    with pytest.raises(IdempotencyConflict):
        payflow.deposit(asha, rupees("75.26"), idempotency_key="topup-1")
    assert checked_audit(ledger).violations == []


def test_refuses_to_send_money_to_yourself(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, _ = open_two_users(payflow)
    payflow.deposit(asha, rupees("10"))
    vpa = payflow.user(asha).vpa
    with pytest.raises(SelfTransfer):
        payflow.send(asha, rupees("1"), receiver_vpa=vpa)
    assert ledger.transfers.recorder.max_notification_id() in (None, 0)


def test_a_wallet_with_many_events_loads_from_a_recent_snapshot(
    ledger_factory: LedgerFactory, store_settings: Settings
) -> None:
    ledger = ledger_factory()
    payflow = payflow_on(ledger)
    asha, _ = open_two_users(payflow)
    for _ in range(250):
        payflow.deposit(asha, rupees("1"))

    wallet_id = payflow.wallet_of(asha).id
    assert ledger.wallets.snapshots is not None
    snapshot = next(iter(ledger.wallets.snapshots.get(wallet_id, desc=True, limit=1)))
    assert snapshot.originator_version == 200  # one snapshot every 100 versions
    if store_settings.store != "memory":  # a restarted process has no cache: it reads
        ledger = ledger_factory()
    loaded = ledger.wallets.get_wallet(wallet_id)
    assert loaded.balance == rupees("250")
    assert loaded.version == 251


def test_a_refused_deposit_opens_and_writes_nothing(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, _ = open_two_users(payflow)
    wallets_log = ledger.wallets.recorder.max_notification_id()

    with pytest.raises(CurrencyMismatch):
        payflow.deposit(asha, Money.parse("10", "USD"))  # USD is not enabled
    with pytest.raises(LimitExceeded):
        payflow.deposit(asha, rupees("100000.01"))

    assert ledger.wallets.recorder.max_notification_id() == wallets_log


def test_the_wallet_fails_a_transfer_past_its_daily_limit_even_if_the_check_raced(
    ledger_factory: LedgerFactory,
) -> None:
    ledger = ledger_factory(limits=Limits(daily_count=2))
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, rupees("100"))
    # Three requests pass the quick check before the saga has debited any of them.
    sent = [payflow.send(asha, rupees("1"), receiver_id=ravi) for _ in range(3)]

    ledger.drain()

    outcomes = [ledger.transfers.get_transfer(s.transfer.id) for s in sent]
    assert [t.status for t in outcomes] == [
        TransferStatus.COMPLETED,
        TransferStatus.COMPLETED,
        TransferStatus.FAILED,
    ]
    assert (outcomes[2].failure_reason or "").startswith("Daily limit exceeded")
    with pytest.raises(DailyLimitExceeded):  # now the quick check knows
        payflow.send(asha, rupees("1"), receiver_id=ravi)
    assert balance(payflow, ravi) == rupees("2")
    assert checked_audit(ledger).violations == []
