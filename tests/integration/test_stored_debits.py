"""Debits stored before a transfer's credit was made in its debit's commit read back
as debits whose credit is still to be made, on every store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from application.saga import Ledger
from domain.money import Money
from domain.transfer import Transfer
from domain.wallet import Wallet
from tests.support.saga import asha_and_ravi, payflow_on


def stored_without(app: Any, event: Any, field: str) -> Any:
    """``event`` as the store would hold it had it been recorded without ``field``."""
    stored = app.mapper.to_stored_event(event)
    state = orjson.loads(stored.state)
    assert field in state  # recorded today
    del state[field]
    return replace(stored, state=orjson.dumps(state))


@pytest.mark.parametrize("kind", [Wallet.Debited, Transfer.Debited])
def test_a_debit_stored_without_credit_decided_reads_as_a_credit_still_to_make(
    ledger: Ledger, kind: type
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = asha_and_ravi(ledger, "10")
    sent = payflow.send(asha, Money.parse("4"), receiver_id=ravi)
    ledger.drain()
    app = ledger.wallets if kind is Wallet.Debited else ledger.transfers
    owner = payflow.wallet_of(asha).id if kind is Wallet.Debited else sent.transfer.id
    (debited,) = [e for e in app.events.get(owner) if isinstance(e, kind)]
    assert debited.credit_decided

    older = app.mapper.to_domain_event(stored_without(app, debited, "credit_decided"))

    assert isinstance(older, kind)
    assert older.credit_decided is False
    assert older.amount == debited.amount
