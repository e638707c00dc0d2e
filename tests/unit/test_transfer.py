"""The Transfer aggregate: the saga's state machine, and nothing else moves it."""

from __future__ import annotations

from collections.abc import Callable
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from domain.errors import IllegalTransition, InvalidAmount, SelfTransfer
from domain.ids import PAYFLOW_NAMESPACE, deposit_id_for
from domain.money import Money
from domain.transfer import Transfer, TransferStatus

SENDER = uuid5(NAMESPACE_URL, "https://payflow.test/users/asha")
RECEIVER = uuid5(NAMESPACE_URL, "https://payflow.test/users/ravi")
SENDER_WALLET = uuid5(NAMESPACE_URL, "https://payflow.test/wallets/asha")
RECEIVER_WALLET = uuid5(NAMESPACE_URL, "https://payflow.test/wallets/ravi")


def initiate(
    amount: str = "250", key: str | None = None, sender: UUID = SENDER, receiver: UUID = RECEIVER
) -> Transfer:
    return Transfer.initiate(
        sender_id=sender,
        receiver_id=receiver,
        sender_wallet_id=uuid5(sender, "wallet"),
        receiver_wallet_id=uuid5(receiver, "wallet"),
        amount=Money.parse(amount),
        description="rent",
        idempotency_key=key,
    )


# Each command, and the status it moves a transfer to.
COMMANDS: dict[str, tuple[Callable[[Transfer], None], TransferStatus]] = {
    "mark_debited": (lambda t: t.mark_debited(), TransferStatus.DEBITED),
    "mark_credited": (lambda t: t.mark_credited(), TransferStatus.CREDITED),
    "complete": (lambda t: t.complete(), TransferStatus.COMPLETED),
    "request_refund": (lambda t: t.request_refund("receiver frozen"), TransferStatus.REFUNDING),
    "fail": (lambda t: t.fail("insufficient balance"), TransferStatus.FAILED),
    "mark_refunded": (lambda t: t.mark_refunded(), TransferStatus.FAILED),
}

# How to bring a fresh transfer to each status (FAILED has two roads).
ROADS: dict[str, list[str]] = {
    "INITIATED": [],
    "DEBITED": ["mark_debited"],
    "CREDITED": ["mark_debited", "mark_credited"],
    "COMPLETED": ["mark_debited", "mark_credited", "complete"],
    "REFUNDING": ["mark_debited", "request_refund"],
    "FAILED(debit refused)": ["fail"],
    "FAILED(refunded)": ["mark_debited", "request_refund", "mark_refunded"],
}

# The saga as the design brief draws it, written out independently of the code.
LEGAL = {
    ("INITIATED", "mark_debited"),
    ("INITIATED", "fail"),
    ("DEBITED", "mark_credited"),
    ("DEBITED", "request_refund"),
    ("CREDITED", "complete"),
    ("REFUNDING", "mark_refunded"),
}

MOVES = [(road, command) for road in ROADS for command in COMMANDS]


def transfer_on(road: str) -> Transfer:
    """A transfer brought along ``road``, with no pending events."""
    transfer = initiate()
    for command in ROADS[road]:
        COMMANDS[command][0](transfer)
    transfer.collect_events()
    return transfer


def move_id(move: tuple[str, str]) -> str:
    road, command = move
    return f"{road}-{command}->{COMMANDS[command][1]}"


@pytest.mark.parametrize("move", [m for m in MOVES if m in LEGAL], ids=move_id)
def test_allowed_transition_records_one_event_and_moves_the_status(
    move: tuple[str, str],
) -> None:
    road, command = move
    transfer = transfer_on(road)
    version = transfer.version
    run, target = COMMANDS[command]
    run(transfer)
    assert transfer.status is target
    assert transfer.version == version + 1
    assert len(transfer.collect_events()) == 1


@pytest.mark.parametrize("move", [m for m in MOVES if m not in LEGAL], ids=move_id)
def test_illegal_transition_raises_and_records_nothing(move: tuple[str, str]) -> None:
    road, command = move
    transfer = transfer_on(road)
    status, version, reason = transfer.status, transfer.version, transfer.failure_reason
    with pytest.raises(IllegalTransition):
        COMMANDS[command][0](transfer)
    assert transfer.status is status
    assert transfer.version == version
    assert transfer.failure_reason == reason
    assert transfer.collect_events() == []


def test_every_status_pair_is_covered_by_the_moves() -> None:
    reached = {COMMANDS[c][1] for c in COMMANDS}
    assert reached == set(TransferStatus) - {TransferStatus.INITIATED}
    starts = {road.split("(")[0] for road in ROADS}
    assert starts == {s.value for s in TransferStatus}


def test_a_refunded_transfer_refuses_a_second_refund() -> None:
    transfer = transfer_on("FAILED(refunded)")
    with pytest.raises(IllegalTransition):
        transfer.mark_refunded()
    assert transfer.collect_events() == []


def test_an_undebited_transfer_cannot_claim_it_was_refunded() -> None:
    transfer = transfer_on("INITIATED")
    with pytest.raises(IllegalTransition):
        transfer.mark_refunded()
    assert transfer.status is TransferStatus.INITIATED
    assert not transfer.was_refunded
    assert transfer.collect_events() == []


def test_a_refunding_transfer_cannot_fail_without_its_refund() -> None:
    transfer = transfer_on("REFUNDING")
    with pytest.raises(IllegalTransition):
        transfer.fail("gave up")
    assert transfer.status is TransferStatus.REFUNDING
    assert transfer.collect_events() == []


# Initiation --------------------------------------------------------------------------


def test_initiates_with_every_detail_of_the_request() -> None:
    transfer = initiate("99.50", key="k-1")
    assert transfer.status is TransferStatus.INITIATED
    assert transfer.sender_id == SENDER
    assert transfer.receiver_id == RECEIVER
    assert transfer.sender_wallet_id == uuid5(SENDER, "wallet")
    assert transfer.receiver_wallet_id == uuid5(RECEIVER, "wallet")
    assert transfer.amount == Money(9950, "INR")
    assert transfer.description == "rent"
    assert transfer.idempotency_key == "k-1"
    assert transfer.failure_reason is None
    assert [type(e) for e in transfer.collect_events()] == [Transfer.Initiated]


def test_refuses_a_transfer_to_oneself() -> None:
    with pytest.raises(SelfTransfer):
        initiate(sender=SENDER, receiver=SENDER)


def test_refuses_a_transfer_between_the_same_wallet() -> None:
    with pytest.raises(SelfTransfer):
        Transfer.initiate(SENDER, RECEIVER, SENDER_WALLET, SENDER_WALLET, Money(100))


@pytest.mark.parametrize("minor", [0, -1])
def test_refuses_an_amount_that_is_not_positive(minor: int) -> None:
    with pytest.raises(InvalidAmount):
        Transfer.initiate(SENDER, RECEIVER, SENDER_WALLET, RECEIVER_WALLET, Money(minor))


def test_same_sender_and_key_give_the_same_id() -> None:
    first = initiate("100", key="order-42")
    retry = initiate("250", key="order-42", receiver=uuid4())
    assert first.id == retry.id
    assert first.id == uuid5(PAYFLOW_NAMESPACE, f"transfer\x1f{SENDER}\x1forder-42")


def test_another_key_or_another_sender_gives_another_id() -> None:
    first = initiate(key="order-42")
    assert first.id != initiate(key="order-43").id
    assert first.id != initiate(key="order-42", sender=uuid4()).id


def test_a_transfer_without_a_key_gets_a_fresh_id_each_time() -> None:
    assert initiate().id != initiate().id


def test_a_transfer_key_does_not_collide_with_the_same_deposit_key() -> None:
    assert initiate(key="k").id != deposit_id_for(SENDER, "k")


# Outcome -----------------------------------------------------------------------------


@pytest.mark.parametrize("road", ["INITIATED", "DEBITED", "CREDITED", "REFUNDING"])
def test_completed_at_is_empty_until_the_transfer_ends(road: str) -> None:
    assert transfer_on(road).completed_at is None


@pytest.mark.parametrize("road", ["COMPLETED", "FAILED(debit refused)", "FAILED(refunded)"])
def test_completed_at_is_the_time_of_the_terminal_event(road: str) -> None:
    transfer = initiate()
    for command in ROADS[road]:
        COMMANDS[command][0](transfer)
    events = transfer.collect_events()
    assert transfer.status.is_terminal
    assert transfer.completed_at == events[-1].timestamp
    assert transfer.completed_at >= events[0].timestamp


def test_a_refunded_transfer_says_so_and_keeps_the_reason() -> None:
    transfer = transfer_on("FAILED(refunded)")
    assert transfer.status is TransferStatus.FAILED
    assert transfer.was_refunded
    assert transfer.failure_reason == "Refunded: receiver frozen"


def test_a_transfer_whose_debit_was_refused_was_not_refunded() -> None:
    transfer = transfer_on("FAILED(debit refused)")
    assert transfer.status is TransferStatus.FAILED
    assert not transfer.was_refunded
    assert transfer.failure_reason == "insufficient balance"


def test_a_refunding_transfer_is_not_yet_refunded() -> None:
    transfer = transfer_on("REFUNDING")
    assert not transfer.was_refunded
    assert transfer.failure_reason == "receiver frozen"


def test_saga_events_carry_what_the_next_step_needs() -> None:
    transfer = initiate("12.34")
    transfer.collect_events()
    transfer.mark_debited()
    transfer.request_refund("receiver frozen")
    debited, refund = transfer.collect_events()
    assert isinstance(debited, Transfer.Debited)
    assert (debited.sender_wallet_id, debited.receiver_wallet_id) == (
        uuid5(SENDER, "wallet"),
        uuid5(RECEIVER, "wallet"),
    )
    assert (debited.amount, debited.currency) == (1234, "INR")
    assert isinstance(refund, Transfer.RefundRequested)
    assert refund.sender_wallet_id == uuid5(SENDER, "wallet")
    assert (refund.amount, refund.currency, refund.reason) == (1234, "INR", "receiver frozen")


def test_replaying_the_events_rebuilds_the_same_transfer() -> None:
    transfer = initiate("10")
    transfer.mark_debited()
    transfer.request_refund("receiver frozen")
    transfer.mark_refunded()
    copy: Transfer | None = None
    for event in transfer.collect_events():
        copy = event.mutate(copy)
    assert isinstance(copy, Transfer)
    assert copy.status is TransferStatus.FAILED
    assert copy.failure_reason == "Refunded: receiver frozen"
    assert copy.version == 4
    assert copy.completed_at == transfer.completed_at
