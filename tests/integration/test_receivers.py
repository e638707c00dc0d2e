"""A transfer's receiver must be a user: any other id the ledger knows is not found."""

from __future__ import annotations

import pytest

from application.saga import Ledger
from domain.errors import UserNotFound
from domain.ids import settlement_wallet_id, wallet_id_for
from domain.money import Money
from domain.user import claim_id
from tests.support.saga import payflow_on


@pytest.mark.parametrize("kind", ["wallet", "settlement", "email claim", "vpa claim", "session"])
def test_an_id_that_names_no_user_is_refused_as_an_unknown_receiver(
    ledger: Ledger, kind: str
) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user
    payflow.deposit(asha.id, Money.parse("5"))
    named = {
        "wallet": wallet_id_for(ravi.id, "INR"),
        "settlement": settlement_wallet_id("INR"),
        "email claim": claim_id("email", "ravi@example.com"),
        "vpa claim": claim_id("vpa", ravi.vpa),
        "session": payflow.start_session(ravi.id).id,
    }[kind]
    before = ledger.transfers.recorder.max_notification_id()

    with pytest.raises(UserNotFound):
        payflow.send(asha.id, Money.parse("5"), receiver_id=named)

    assert ledger.transfers.recorder.max_notification_id() == before
    assert payflow.wallet_of(asha.id).balance == Money.parse("5")


def test_a_receiver_this_process_has_seen_is_checked_without_asking_the_store(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user
    payflow.deposit(asha.id, Money.parse("5"))
    ravis = wallet_id_for(ravi.id, "INR")
    asked: list[object] = []
    real = ledger.wallets.recorder.select_events

    def select_events(originator_id: object, *args: object, **kwargs: object) -> object:
        asked.append(originator_id)
        return real(originator_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger.wallets.recorder, "select_events", select_events)
    payflow.send(asha.id, Money.parse("2"), receiver_id=ravi.id)  # Ravi's wallet is read
    ledger.drain()
    asked.clear()

    sent = payflow.send(asha.id, Money.parse("3"), receiver_id=ravi.id)

    assert sent.transfer.receiver_wallet_id == ravis
    assert ravis not in asked  # its id and owner never change: the cached copy says them
    ledger.drain()
    assert payflow.wallet_of(ravi.id).balance == Money.parse("5")
