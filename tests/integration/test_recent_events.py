"""Followers take the events their leader committed in this process as it committed
them; what another process committed they decode from the store, as ever."""

from __future__ import annotations

from typing import Any

import pytest

from application.base import RecentEvents
from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.support.saga import asha_and_ravi, checked_audit, payflow_on


def count_decodes(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    decoded: list[Any] = []
    for app in (ledger.wallets, ledger.transfers, ledger.webhooks):
        for mapper in app.mappers.values():
            real = mapper.to_domain_event

            def counted(stored: Any, real: Any = real) -> Any:
                decoded.append(stored)
                return real(stored)

            monkeypatch.setattr(mapper, "to_domain_event", counted)
    return decoded


def test_followers_take_what_this_process_committed_without_decoding_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = asha_and_ravi(ledger)
    decoded = count_decodes(ledger, monkeypatch)

    sent = payflow.send(asha, Money.parse("40"), receiver_id=ravi)
    ledger.drain()
    ledger.webhooks.pull_and_process(ledger.transfers.name)

    assert decoded == []
    assert ledger.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED
    assert checked_audit(ledger).violations == []


def test_what_another_process_committed_is_decoded_from_the_store(
    persistent_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Ledger.build(env_for(persistent_settings))
    saga = Ledger.build(env_for(persistent_settings))
    try:
        payflow = payflow_on(api)
        asha, ravi = asha_and_ravi(api)
        sent = payflow.send(asha, Money.parse("40"), receiver_id=ravi)  # in the API's process
        decoded = count_decodes(saga, monkeypatch)

        saga.drain()

        assert decoded  # the initiation came from the other process: read from the store
        assert saga.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED
        assert payflow.wallet_of(ravi).balance == Money.parse("40")
    finally:
        saga.close()
        api.close()


def test_recent_events_keep_only_the_latest_ones() -> None:
    recent = RecentEvents(capacity=3)

    class Recorded:
        def __init__(self, n: int) -> None:
            self.notification = type("N", (), {"id": n})()
            self.domain_event = f"event {n}"

    recent.add([Recorded(n) for n in range(1, 6)])  # type: ignore[misc]
    assert [recent.get(n) for n in range(1, 6)] == [None, None, "event 3", "event 4", "event 5"]


def test_an_application_nothing_follows_keeps_no_events(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1")
    assert ledger.accounts.recent.get(1) is None
    assert ledger.wallets.recent.get(1) is not None  # her wallet's opening
