"""The projector and the read models, on every store: exactly once, and in step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.settings import Settings
from infrastructure.stores import read_store_env
from projections import queries
from projections.runner import PAGE, Projector
from projections.store import open_read_store
from tests.support.saga import checked_audit, payflow_on


@pytest.fixture
def projector(ledger: Ledger, store_settings: Settings) -> Iterator[Projector]:
    runner = Projector(
        open_read_store(read_store_env(store_settings)), [ledger.transfers, ledger.wallets]
    )
    yield runner
    runner.stop()
    runner.store.datastore.close()


def traffic(ledger: Ledger) -> tuple[UUID, UUID]:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("100"))
    for n in range(1, 6):
        payflow.send(asha, Money(n * 100), receiver_id=ravi, description=f"#{n}")
    payflow.send(ravi, Money.parse("1000"), receiver_id=asha)  # he cannot pay this
    ledger.drain()
    return asha, ravi


def test_projects_transfers_for_both_parties_newest_first(
    ledger: Ledger, projector: Projector
) -> None:
    asha, ravi = traffic(ledger)
    projector.catch_up()

    mine = queries.transfers_for(projector.store, queries.TransferFilter(asha))
    theirs = queries.transfers_for(projector.store, queries.TransferFilter(ravi))

    assert mine.total == theirs.total == 6
    assert [t.description for t in mine.transfers[:5]] == [None, "#5", "#4", "#3", "#2"]
    for row in mine.transfers:  # the read model agrees with the aggregates
        transfer = ledger.transfers.get_transfer(row.id)
        assert (row.status, row.amount, row.failure_reason) == (
            transfer.status,
            transfer.amount,
            transfer.failure_reason,
        )


def test_filters_and_pages_a_users_transfers(ledger: Ledger, projector: Projector) -> None:
    asha, ravi = traffic(ledger)
    projector.catch_up()
    store = projector.store

    failed = queries.transfers_for(
        store, queries.TransferFilter(asha, status=TransferStatus.FAILED)
    )
    assert [t.amount for t in failed.transfers] == [Money.parse("1000")]
    big = queries.transfers_for(store, queries.TransferFilter(asha, min_amount=300, max_amount=400))
    assert sorted(t.amount.minor for t in big.transfers) == [300, 400]
    with_ravi = queries.transfers_for(store, queries.TransferFilter(asha, counterparty=ravi))
    assert with_ravi.total == 6
    first = queries.transfers_for(store, queries.TransferFilter(asha, limit=4))
    assert (len(first.transfers), first.has_more) == (4, True)
    rest = queries.transfers_for(
        store, queries.TransferFilter(asha, limit=4, cursor=first.next_cursor)
    )
    assert (len(rest.transfers), rest.has_more) == (2, False)
    assert {t.id for t in first.transfers}.isdisjoint({t.id for t in rest.transfers})
    with pytest.raises(queries.BadCursor):
        queries.transfers_for(store, queries.TransferFilter(asha, cursor="not-a-cursor"))


def test_balances_and_history_match_the_audit_replay(ledger: Ledger, projector: Projector) -> None:
    asha, _ = traffic(ledger)
    projector.catch_up()

    report = checked_audit(ledger)
    assert report.violations == []
    for wallet_id, replayed in report.balances.items():
        row = queries.wallet_balance(projector.store, wallet_id)
        assert row is not None
        assert row.balance.minor == replayed
    wallet_id = payflow_on(ledger).wallet_of(asha).id
    history, more = queries.movements_of(projector.store, wallet_id, limit=10)
    assert not more
    assert [m.kind for m in history] == ["DEBIT"] * 5 + ["DEPOSIT"]  # newest first
    assert history[0].balance_after == ledger.wallets.get_wallet(wallet_id).balance
    assert sum(m.amount.minor for m in history) == history[0].balance_after.minor


def test_projects_each_event_once_across_restarts_and_pages(
    ledger: Ledger, store_settings: Settings
) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    for _ in range(PAGE + 20):  # more than one page of notifications
        payflow.deposit(asha, Money(1))
    env = read_store_env(store_settings)
    first = Projector(open_read_store(env), [ledger.transfers, ledger.wallets])
    first.catch_up()
    wallet_id = payflow.wallet_of(asha).id
    if store_settings.store != "memory":  # a second projector process on the same store
        first.store.datastore.close()
        first = Projector(open_read_store(env), [ledger.transfers, ledger.wallets])
    payflow.deposit(asha, Money(1))

    assert first.catch_up() == 3  # only the new deposit's events
    assert first.catch_up() == 0
    row = queries.wallet_balance(first.store, wallet_id)
    assert row is not None
    assert row.balance == Money(PAGE + 21)
    history, _ = queries.movements_of(first.store, wallet_id, limit=100)
    assert len({m.operation_id for m in history}) == len(history)  # no movement twice
    first.store.datastore.close()


def test_waits_for_the_projection_to_reach_a_position(ledger: Ledger, projector: Projector) -> None:
    traffic(ledger)
    targets = projector.latest_positions()
    assert not projector.wait_until(targets, timeout=0.05)  # nothing projected yet

    projector.start(poll_interval=5.0)  # wakes on the commits, not the poll

    assert projector.wait_until(targets, timeout=5)
    assert all(projector.position(name) >= at for name, at in targets.items())


def test_keeps_deposits_and_daily_volumes_by_status_for_analysts(
    ledger: Ledger, projector: Projector
) -> None:
    asha, _ = traffic(ledger)
    projector.catch_up()

    deposits = projector.store.select("SELECT * FROM {t}deposits", {})
    volumes = projector.store.select(
        "SELECT status, transfers, amount FROM {t}daily_volumes ORDER BY status", {}
    )

    assert [(d["owner_id"], int(d["amount"])) for d in deposits] == [(asha.hex, 10000)]
    assert [(v["status"], int(v["transfers"]), int(v["amount"])) for v in volumes] == [
        ("COMPLETED", 5, 1500),  # 1 + 2 + 3 + 4 + 5 rupees
        ("FAILED", 1, 100000),
    ]


def test_two_projectors_with_overlapping_pages_apply_each_event_once(
    ledger: Ledger, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit projecting beside the service's projector, say, with pages ending apart."""
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    for _ in range(30):
        payflow.deposit(asha, Money(1))
    store = open_read_store(read_store_env(store_settings))
    leaders = [ledger.wallets]
    long_pages, short_pages = Projector(store, leaders), Projector(store, leaders)
    short_pages.page_size = 7
    apply = store.apply
    interleaved: list[bool] = []

    def short_commits_first(*args: Any, **kwargs: Any) -> None:
        # The long page was read from position 0; before it commits, the other
        # projector commits a short page that overlaps its start.
        if not interleaved:
            interleaved.append(True)
            short_pages._project_page(ledger.wallets)  # one page of 7, through here too
        apply(*args, **kwargs)

    monkeypatch.setattr(store, "apply", short_commits_first)
    long_pages.catch_up()
    monkeypatch.undo()
    long_pages.catch_up()

    assert interleaved == [True]
    assert short_pages.position(ledger.wallets.name) > 0
    wallet = payflow.wallet_of(asha).id
    row = queries.wallet_balance(store, wallet)
    assert row is not None
    assert row.balance == Money(30)  # not a single deposit counted twice
    history, _ = queries.movements_of(store, wallet, limit=100)
    assert len(history) == 30
    store.datastore.close()
