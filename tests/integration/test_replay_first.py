"""Replay first, at the use cases: a key's recorded outcome is found before any check
that depends on the ledger's state or configuration, even across a restart with
tighter limits, and even when a twin request wins while this one is being checked."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import pytest

from application.policy import Limits
from application.saga import Ledger
from application.service import PayFlow, TransferOrder, replay_first
from domain.errors import IdempotencyConflict, InsufficientFunds, LimitExceeded
from domain.money import Money
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.support.saga import payflow_on


def build(settings: Settings, limits: Limits | None = None) -> Ledger:
    return Ledger.build(env_for(settings), limits=limits)


def test_replays_across_a_restart_that_lowered_every_limit(persistent_settings: Settings) -> None:
    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    deposited = payflow.deposit(asha, Money(90_000_00), idempotency_key="salary")
    sent = payflow.send(asha, Money(60_000_00), receiver_id=ravi, idempotency_key="rent")
    ledger.close()

    tight = Limits(max_transfer=Money(100_00), max_deposit=Money(100_00), daily_count=1)
    ledger = build(persistent_settings, tight)
    payflow = payflow_on(ledger)
    again = payflow.deposit(asha, Money(90_000_00), idempotency_key="salary")
    resent = payflow.send(asha, Money(60_000_00), receiver_id=ravi, idempotency_key="rent")

    assert again.replayed
    assert again.deposit.id == deposited.deposit.id
    assert resent.replayed
    assert resent.transfer.id == sent.transfer.id
    with pytest.raises(LimitExceeded):
        payflow.deposit(asha, Money(90_000_00), idempotency_key="bonus")
    with pytest.raises(IdempotencyConflict):  # another deposit under that key: a conflict first
        payflow.deposit(asha, Money(1_00), idempotency_key="salary")
    ledger.close()


def test_a_refused_request_whose_twin_won_meanwhile_answers_with_the_twin(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money(100_000_00))
    twin = payflow.send(asha, Money(100_000_00), receiver_id=ravi, idempotency_key="big-one")
    ledger.drain()  # the twin's money moved: the day's allowance is spent

    looked: list[UUID] = []
    real = ledger.transfers.initiated

    def not_yet_the_first_time(transfer_id: UUID) -> object:
        looked.append(transfer_id)
        return None if len(looked) == 1 else real(transfer_id)

    monkeypatch.setattr(ledger.transfers, "initiated", not_yet_the_first_time)
    answer = payflow.send(asha, Money(100_000_00), receiver_id=ravi, idempotency_key="big-one")

    assert answer.replayed
    assert answer.transfer.id == twin.transfer.id
    assert len(looked) == 2  # looked, was refused by the daily limit, looked again


def test_replay_first_looks_again_only_after_a_refusal() -> None:
    seen = iter([None, "the twin's outcome"])

    def refused() -> str:
        raise InsufficientFunds("no")

    assert replay_first(lambda: next(seen), refused) == "the twin's outcome"
    assert replay_first(lambda: "earlier", refused) == "earlier"
    assert replay_first(lambda: None, lambda: "done") == "done"
    with pytest.raises(InsufficientFunds):
        replay_first(lambda: None, refused)


def test_an_order_by_handle_replays_and_another_handle_is_a_conflict(ledger: Ledger) -> None:
    payflow: PayFlow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1")
    payflow.deposit(asha, Money(10_00))
    order = TransferOrder(asha, Money(5_00), receiver_vpa=ravi.user.vpa, idempotency_key="k")
    first = payflow.place(order)

    by_id = dataclasses.replace(order, receiver_vpa=None, receiver_id=ravi.user.id)
    assert payflow.place(by_id).transfer.id == first.transfer.id
    for other in ("nobody@payflow", "asha.k@payflow"):
        with pytest.raises(IdempotencyConflict):
            payflow.place(dataclasses.replace(order, receiver_vpa=other))
    with pytest.raises(LimitExceeded):  # a new order still meets every check
        payflow.place(dataclasses.replace(order, idempotency_key="new", amount=Money(200_000_00)))
