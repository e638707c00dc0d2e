"""Followers take the notifications and events their leader committed in this process
as it committed them; what another process committed they read and decode from the
store, as ever."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from application.base import RecentEvents
from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.settings import Settings
from infrastructure.stores import env_for, read_store_env
from projections import queries
from projections.runner import Projector
from projections.store import open_read_store
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


def count_store_reads(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, apps: Sequence[Any] = ()
) -> list[int]:
    """How many notifications each read of a leader's log from the store gave (of the
    logs of ``apps``, by default every one the ledger's followers follow)."""
    reads: list[int] = []
    for app in apps or (ledger.wallets, ledger.transfers, ledger.webhooks):
        real = app.recorder.select_notifications

        def counted(*args: Any, real: Any = real, **kwargs: Any) -> Any:
            page = real(*args, **kwargs)
            reads.append(len(page))
            return page

        monkeypatch.setattr(app.recorder, "select_notifications", counted)
    return reads


def assert_completed_and_projected(
    ledger: Ledger, projector: Projector, sent: Sequence[Any], receiver: Any, received: Money
) -> None:
    """Every transfer sent is COMPLETED in the read models, the receiver holds what they
    sent, and the audit finds nothing wrong."""
    for initiation in sent:
        row = queries.transfer_row(projector.store, initiation.transfer.id)
        assert row is not None
        assert row.status is TransferStatus.COMPLETED
    assert payflow_on(ledger).wallet_of(receiver).balance == received
    assert checked_audit(ledger).violations == []


def test_followers_page_through_what_this_process_committed_without_the_store(
    ledger: Ledger, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = asha_and_ravi(ledger)
    projector = Projector(
        open_read_store(read_store_env(store_settings)),
        [ledger.transfers, ledger.wallets, ledger.webhooks],
    )
    try:
        projector.catch_up()
        reads = count_store_reads(ledger, monkeypatch)

        sent = [payflow.send(asha, Money.parse("4"), receiver_id=ravi) for _ in range(5)]
        ledger.drain()
        ledger.webhooks.pull_and_process(ledger.transfers.name)
        projector.catch_up()

        assert reads  # each follower looked past the end of what it was given ...
        assert set(reads) == {0}  # ... and the store had nothing more for it
        assert_completed_and_projected(ledger, projector, sent, ravi, Money.parse("20"))
    finally:
        projector.store.datastore.close()


def test_where_this_process_writes_a_log_alone_a_caught_up_follower_never_asks_the_store(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger.build(env_for(store_settings, sole_writer=True))
    projector = Projector(
        open_read_store(read_store_env(store_settings)),
        [ledger.transfers, ledger.wallets, ledger.webhooks],
    )
    try:
        payflow = payflow_on(ledger)
        asha, ravi = asha_and_ravi(ledger)
        ledger.drain()
        projector.catch_up()
        asked = count_store_reads(ledger, monkeypatch, (ledger.wallets, ledger.transfers))

        sent = [payflow.send(asha, Money.parse("4"), receiver_id=ravi) for _ in range(5)]
        ledger.drain()
        ledger.drain()  # caught up already: nothing to take, and nobody asks
        projector.catch_up()
        projector.catch_up()

        assert asked == []
        assert_completed_and_projected(ledger, projector, sent, ravi, Money.parse("20"))
    finally:
        projector.store.datastore.close()
        ledger.close()


def test_a_page_of_events_a_follower_ignores_is_not_taken_again_and_again(
    ledger: Ledger,
) -> None:
    payflow = payflow_on(ledger)
    asha, _ = asha_and_ravi(ledger)
    before = ledger.positions()

    payflow.deposit(asha, Money.parse("10"))  # Wallets' log: nothing for Transfers to do
    ledger.transfers.pull_and_process(ledger.wallets.name)  # returns: nothing to take

    assert ledger.positions() == before


class Recorded:
    def __init__(self, n: int) -> None:
        self.notification = type("N", (), {"id": n})()
        self.domain_event = f"event {n}"


def test_recent_events_keep_only_the_latest_ones() -> None:
    recent = RecentEvents(capacity=3)
    recent.add([Recorded(n) for n in range(1, 6)])  # type: ignore[misc]
    assert [recent.get(n) for n in range(1, 6)] == [None, None, "event 3", "event 4", "event 5"]


def test_a_page_from_recent_events_runs_on_from_the_position_without_a_hole() -> None:
    recent = RecentEvents(capacity=10)
    recent.add([Recorded(n) for n in (3, 4, 5, 7, 8)])  # type: ignore[misc]

    def ids(after: int, limit: int = 10, stop: int | None = None) -> list[int]:
        return [n.id for n in recent.page_after(after, limit, stop)]

    assert ids(2) == [3, 4, 5]  # 6 is not here: the store says what is there
    assert ids(1) == []  # nor is 2
    assert ids(3, limit=1) == [4]
    assert ids(2, stop=4) == [3, 4]
    assert ids(6) == [7, 8]
    assert ids(8) == []


def test_a_follower_s_page_from_recent_events_holds_as_many_steps_as_the_store_s() -> None:
    recent = RecentEvents(capacity=10)

    class Noted:
        def __init__(self, n: int, topic: str) -> None:
            self.notification = type("N", (), {"id": n, "topic": topic})()
            self.domain_event = f"event {n}"

    recent.add([Noted(n, "step" if n % 3 == 0 else "other") for n in range(1, 10)])  # type: ignore[misc]
    page = recent.page_after(0, limit=2, topics=("step",))
    assert [n.id for n in page] == [1, 2, 3, 4, 5, 6]  # two steps, and what lies between


def test_an_application_nothing_follows_keeps_no_events(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1")
    assert ledger.accounts.recent.get(1) is None
    assert ledger.wallets.recent.get(1) is not None  # her wallet's opening


def test_a_projector_reads_its_position_once_and_afresh_when_overtaken(
    ledger: Ledger, store_settings: Settings
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = asha_and_ravi(ledger)
    env = read_store_env(store_settings)
    mine, other = Projector(open_read_store(env), [ledger.wallets]), None
    try:
        mine.catch_up()
        reads: list[str] = []
        real = mine.position
        mine.position = lambda name: reads.append(name) or real(name)  # type: ignore[method-assign]

        payflow.deposit(asha, Money.parse("1"))
        mine.catch_up()
        assert reads == []  # where its last page ended is where the next one begins

        other = Projector(open_read_store(env), [ledger.wallets])
        payflow.deposit(asha, Money.parse("2"))
        other.catch_up()  # another projector takes that page: this one's position is stale
        payflow.deposit(ravi, Money.parse("4"))
        while mine.catch_up():
            pass

        assert reads == [ledger.wallets.name]  # refused once, it read the position afresh
        assert mine.position(ledger.wallets.name) == ledger.wallets.recorder.max_notification_id()
        balance = queries.wallet_balance(mine.store, payflow.wallet_of(ravi).id)
        assert balance is not None
        assert balance.balance == Money.parse("4")
    finally:
        mine.store.datastore.close()
        if other is not None:
            other.store.datastore.close()
