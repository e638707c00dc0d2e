"""A page of saga steps is recorded only where it began, on every store.

The saga takes a whole page of its leader's log as one commit. Two workers whose
pages overlap must not both commit, however far each page reaches: the store
records a page's tracking only if the follower's tracking still stands where the
page was read from (compare and swap), and otherwise refuses it with its events.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.application import LRUCache
from eventsourcing.persistence import IntegrityError, Tracking

from application.base import ForwardOnlyCache
from application.policy import CreditFaults, Limits
from application.saga import Ledger
from application.tracking import PageTracking
from domain.ids import transfer_id_for
from domain.money import Money
from domain.transfer import Transfer, TransferStatus
from domain.wallet import Wallet
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.conftest import make_settings
from tests.support.saga import asha_and_ravi, checked_audit, payflow_on, record_calls

GUARD = 60


def stored(ledger: Ledger, aggregate: Any) -> Any:
    return ledger.wallets.mapper.to_stored_event(aggregate.collect_events()[0])


@pytest.fixture
def sole_writer(persistent_settings: Settings) -> Iterator[Callable[..., Ledger]]:
    """Builds ledgers as ``payflow up`` runs them: the only writer of its wallets and
    transfers, trusting its own cache."""
    built: list[Ledger] = []

    def build(**kwargs: Any) -> Ledger:
        built.append(Ledger.build(env_for(persistent_settings, sole_writer=True), **kwargs))
        return built[-1]

    yield build
    for ledger in built:
        ledger.close()


def test_a_page_is_recorded_only_where_it_began(ledger: Ledger) -> None:
    recorder = ledger.wallets.recorder
    first = Wallet.open_settlement("INR")
    recorder.insert_events([stored(ledger, first)], tracking=PageTracking("Log", 10, 0))
    assert recorder.max_tracking_id("Log") == 10

    # A page read from 0 again (it overlapped the first) is refused with its events,
    # even though it reaches further than the first.
    second = Wallet.open_settlement("USD")
    second_event = stored(ledger, second)
    with pytest.raises(IntegrityError):
        recorder.insert_events([second_event], tracking=PageTracking("Log", 20, 0))
    assert recorder.max_tracking_id("Log") == 10
    assert second.id not in ledger.wallets.repository

    # A page read from where the first ended is recorded.
    recorder.insert_events([second_event], tracking=PageTracking("Log", 20, 10))
    assert recorder.max_tracking_id("Log") == 20
    assert second.id in ledger.wallets.repository


def test_a_plain_tracking_record_still_only_moves_forward(ledger: Ledger) -> None:
    recorder = ledger.wallets.recorder
    recorder.insert_events([], tracking=Tracking("Log", 5))
    with pytest.raises(IntegrityError):
        recorder.insert_events([], tracking=Tracking("Log", 5))
    with pytest.raises(IntegrityError):
        recorder.insert_events([], tracking=PageTracking("Log", 9, 4))
    recorder.insert_events([], tracking=PageTracking("Log", 9, 5))
    assert recorder.max_tracking_id("Log") == 9


def test_a_page_takes_many_steps_of_one_wallet_in_one_commit(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("30"))
    sent = [payflow.send(asha, Money.parse("7"), receiver_id=ravi) for _ in range(5)]
    commits: list[int] = []
    real_insert = ledger.wallets.recorder.insert_events

    def counted(stored_events: Any, **kwargs: Any) -> Any:
        commits.append(len(stored_events))
        return real_insert(stored_events, **kwargs)

    ledger.wallets.recorder.insert_events = counted  # type: ignore[method-assign]
    ledger.wallets.pull_and_process(ledger.transfers.name)

    # Five debits of one wallet in one commit: four fit in its 30, the fifth is declined;
    # each of the four credits Ravi in the same commit.
    assert commits == [9]
    assert payflow.wallet_of(ravi).balance == Money.parse("28")
    ledger.drain()
    statuses = [ledger.transfers.get_transfer(s.transfer.id).status for s in sent]
    assert statuses == [TransferStatus.COMPLETED] * 4 + [TransferStatus.FAILED]
    wallet = payflow.wallet_of(asha)
    assert wallet.balance == Money.parse("2")
    assert checked_audit(ledger).violations == []


def test_two_processes_taking_pages_of_one_log_take_each_step_once(
    persistent_settings: Settings,
) -> None:
    generous = Limits(daily_count=1000)
    ledgers = [Ledger.build(env_for(persistent_settings), limits=generous) for _ in range(2)]
    try:
        payflow = payflow_on(ledgers[0])
        asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
        ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
        payflow.deposit(asha, Money.parse("500"))
        sent = [payflow.send(asha, Money.parse("1"), receiver_id=ravi) for _ in range(250)]
        start = threading.Barrier(2, timeout=GUARD)
        errors: list[BaseException] = []

        def drain(ledger: Ledger) -> None:
            try:
                start.wait()
                ledger.drain()
            except BaseException as error:  # reported below
                errors.append(error)

        workers = [threading.Thread(target=drain, args=(ledger,)) for ledger in ledgers]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(GUARD)
            assert not worker.is_alive(), "a saga drain did not finish"
        assert errors == []
        ledgers[0].drain()
        report = checked_audit(ledgers[0])
        assert report.violations == []
        done = {ledgers[0].transfers.get_transfer(s.transfer.id).status for s in sent}
        assert done == {TransferStatus.COMPLETED}
        assert payflow.wallet_of(asha).balance == Money.parse("250")
        assert payflow.wallet_of(ravi).balance == Money.parse("250")
    finally:
        for ledger in ledgers:
            ledger.close()


def test_a_sole_writer_uses_its_cache_and_a_stale_one_is_forgotten_on_conflict(
    persistent_settings: Settings,
) -> None:
    generous = Limits(daily_count=1000)
    writer = Ledger.build(env_for(persistent_settings, sole_writer=True), limits=generous)
    other = Ledger.build(env_for(persistent_settings), limits=generous)
    try:
        payflow = payflow_on(writer)
        asha, ravi = asha_and_ravi(writer, "5")
        payflow.send(asha, Money.parse("5"), receiver_id=ravi)
        writer.drain()
        reads = record_calls(writer.wallets.recorder, "select_events")
        payflow.send(asha, Money.parse("1"), receiver_id=ravi)
        writer.wallets.pull_and_process(writer.transfers.name)
        assert reads == []  # Asha's wallet came from the cache, as this process left it
        writer.drain()
        assert payflow.wallet_of(asha).balance == Money.parse("0")  # declined: nothing left

        # Someone else (were there anyone) pays Asha in: the writer's cache is stale.
        payflow_on(other).deposit(asha, Money.parse("7"))
        sent = payflow.send(asha, Money.parse("6"), receiver_id=ravi)
        writer.drain()  # the debit on the stale wallet collides, is forgotten, is redone
        assert writer.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED
        assert payflow_on(other).wallet_of(asha).balance == Money.parse("1")
        assert checked_audit(other).violations == []
        # Its next deposit collides on the stale settlement account, forgets it, redoes.
        payflow.deposit(ravi, Money.parse("2"))
        assert checked_audit(writer).violations == []
    finally:
        other.close()
        writer.close()


def test_a_sole_writer_keeps_the_transfers_it_accepts_in_its_cache(
    sole_writer: Callable[..., Ledger],
) -> None:
    writer = sole_writer()
    payflow = payflow_on(writer)
    asha, ravi = asha_and_ravi(writer, "5")
    reads = record_calls(writer.transfers.recorder, "select_events")
    sent = payflow.send(asha, Money.parse("5"), receiver_id=ravi)
    writer.drain()
    assert writer.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED
    read_ids = {args[0] for args in reads}
    assert sent.transfer.id not in read_ids  # every saga step found it where it was accepted


def test_a_sole_writer_never_caches_a_transfer_older_than_the_saga_left_it(
    sole_writer: Callable[..., Ledger],
) -> None:
    """The accepting thread puts the new transfer in the cache after its commit; were
    it descheduled there while the saga took the first steps, its older copy must not
    replace the one the saga cached, or the saga would step a stale transfer."""
    faults = CreditFaults()
    writer = sole_writer(faults=faults)
    payflow = payflow_on(writer)
    asha, ravi = asha_and_ravi(writer, "5")
    faults.configure(enabled=True, transfer_ids=[transfer_id_for(asha, "k1")])
    cache = writer.transfers.repository.cache
    assert cache is not None
    real_put = cache.put
    steps_taken: list[bool] = []

    def put(key: Any, value: Any) -> Any:
        accepting = any(frame.function == "_commit" for frame in inspect.stack(0))
        if isinstance(value, Transfer) and accepting and not steps_taken:
            steps_taken.append(True)  # the saga debits and marks it debited meanwhile
            writer.wallets.pull_and_process(writer.transfers.name)
            writer.transfers.pull_and_process(writer.wallets.name)
        return real_put(key, value)

    cache.put = put  # type: ignore[method-assign]
    sent = payflow.send(asha, Money.parse("5"), receiver_id=ravi, idempotency_key="k1")
    writer.drain()

    assert steps_taken == [True]
    transfer = writer.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.FAILED  # refused credit, refunded
    assert transfer.was_refunded
    assert payflow.wallet_of(asha).balance == Money.parse("5")
    assert checked_audit(writer).violations == []


def test_a_saga_step_that_does_not_fit_a_cached_transfer_asks_the_store(
    sole_writer: Callable[..., Ledger],
) -> None:
    writer = sole_writer()
    payflow = payflow_on(writer)
    asha, ravi = asha_and_ravi(writer, "5")
    sent = payflow.send(asha, Money.parse("5"), receiver_id=ravi)
    accepted = writer.transfers.get_transfer(sent.transfer.id)  # a copy, at version 1
    writer.wallets.pull_and_process(writer.transfers.name)  # debited and credited
    debited = writer.wallets.recorder.max_notification_id() - 1  # the credit came next
    writer.transfers.pull_and_process(writer.wallets.name, stop=debited)  # DEBITED
    assert writer.transfers.get_transfer(sent.transfer.id).status is TransferStatus.DEBITED
    cache = writer.transfers.repository.cache
    assert cache is not None
    LRUCache.put(cache, accepted.id, accepted)  # however it got there: a stale copy

    writer.drain()

    assert writer.transfers.get_transfer(sent.transfer.id).status is TransferStatus.COMPLETED
    assert payflow.wallet_of(ravi).balance == Money.parse("5")
    assert checked_audit(writer).violations == []


def test_the_aggregate_cache_keeps_the_newest_version_it_was_given() -> None:
    cache = ForwardOnlyCache(maxsize=10)
    transfer = Transfer.initiate(uuid4(), uuid4(), uuid4(), uuid4(), Money(100))
    older = copy.deepcopy(transfer)
    transfer.mark_debited()
    cache.put(transfer.id, transfer)
    cache.put(transfer.id, older)
    assert cache.get(transfer.id) is transfer
    cache.get(transfer.id, evict=True)
    cache.put(transfer.id, older)  # nothing newer cached: taken
    assert cache.get(transfer.id) is older


@pytest.mark.postgres
def test_a_page_reads_the_aggregates_it_steps_in_one_round_trip(
    tmp_path: Any, postgres_schema: str
) -> None:
    """Over the network (PostgreSQL), a saga page reads all the wallets and transfers
    its steps load at once, rather than one query (or two) per aggregate; what it
    reads is what loading each one would have given."""
    settings = make_settings("postgres", tmp_path, postgres_schema)
    api = Ledger.build(env_for(settings), limits=Limits(daily_count=1000))
    saga = Ledger.build(env_for(settings), limits=Limits(daily_count=1000))  # another process
    try:
        payflow = payflow_on(api)
        users = [
            payflow.register(f"User {n}", f"user{n}@example.com", "Passw0rd1").user.id
            for n in range(6)
        ]
        for user in users[:3]:
            payflow.deposit(user, Money.parse("100"))
        saga.drain()  # every wallet is cached in the saga's process, at some version
        for user in users[:3]:
            payflow.deposit(user, Money.parse("1"))  # ... and now behind the store
        for sender, receiver in zip(users[:3], users[3:], strict=True):
            payflow.send(sender, Money.parse("10"), receiver_id=receiver)
            payflow.send(sender, Money.parse("5"), receiver_id=receiver)
        wallet_reads = record_calls(saga.wallets.recorder, "select_events")
        transfer_reads = record_calls(saga.transfers.recorder, "select_events")

        saga.drain()

        one_by_one = wallet_reads + transfer_reads
        assert one_by_one == []
        for sender, receiver in zip(users[:3], users[3:], strict=True):
            assert payflow.wallet_of(sender).balance == Money.parse("86")
            assert payflow.wallet_of(receiver).balance == Money.parse("15")
        assert checked_audit(api).violations == []
    finally:
        saga.close()
        api.close()


def test_a_follower_reads_its_tracking_once_and_afresh_when_another_took_pages(
    persistent_settings: Settings,
) -> None:
    ledgers = [Ledger.build(env_for(persistent_settings)) for _ in range(2)]
    try:
        mine, other = ledgers
        payflow = payflow_on(mine)
        asha, ravi = asha_and_ravi(mine)
        payflow.send(asha, Money.parse("1"), receiver_id=ravi)
        mine.wallets.pull_and_process(mine.transfers.name)  # it knows where it stands now
        reads = record_calls(mine.wallets.recorder, "max_tracking_id")

        payflow.send(asha, Money.parse("2"), receiver_id=ravi)
        mine.wallets.pull_and_process(mine.transfers.name)
        assert reads == []  # where its last page ended is where the next one begins

        payflow.send(asha, Money.parse("4"), receiver_id=ravi)
        other.drain()  # another process takes that step: what this one knows is stale
        payflow.send(asha, Money.parse("8"), receiver_id=ravi)
        mine.drain()

        assert reads  # refused where it thought it stood, it read the tracking afresh
        assert payflow.wallet_of(ravi).balance == Money.parse("15")  # each step once
        assert checked_audit(mine).violations == []
    finally:
        for ledger in ledgers:
            ledger.close()
