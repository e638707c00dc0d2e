"""The projector and the read models, on every store: exactly once, and in step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from application.saga import Ledger
from application.webhooks import AttemptOutcome
from domain.money import Money
from domain.transfer import TransferStatus
from domain.webhook import Delivery, DeliveryStatus
from infrastructure.settings import Settings
from infrastructure.stores import read_store_env
from projections import queries
from projections.runner import PAGE, Projector
from projections.store import open_read_store
from tests.support.projection import projected
from tests.support.saga import checked_audit, payflow_on


@pytest.fixture
def projector(ledger: Ledger, store_settings: Settings) -> Iterator[Projector]:
    runner = Projector(
        open_read_store(read_store_env(store_settings)),
        [ledger.transfers, ledger.wallets, ledger.webhooks],
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


def test_tells_its_listeners_how_far_it_has_projected(ledger: Ledger, projector: Projector) -> None:
    traffic(ledger)
    targets = projector.latest_positions()
    assert not projected(projector, targets, timeout=0.05)  # nothing projected yet

    projector.start(poll_interval=5.0)  # wakes on the commits, not the poll

    assert projected(projector, targets, timeout=5)
    assert all(projector.position(name) >= at for name, at in targets.items())


def test_a_commit_in_this_process_sends_it_to_that_log_alone(
    ledger: Ledger, projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    asha, _ = traffic(ledger)
    every_log = {leader.name for leader in projector.leaders}
    looked: list[str] = []
    looked_at_every_log = threading.Event()
    for leader in projector.leaders:
        real = leader.notifications_after  # type: ignore[attr-defined]

        def spied(*args: Any, real: Any = real, name: str = leader.name, **kw: Any) -> Any:
            page = real(*args, **kw)
            looked.append(name)
            if every_log <= set(looked):
                looked_at_every_log.set()
            return page

        monkeypatch.setattr(leader, "notifications_after", spied)
    projector.start(poll_interval=30.0)
    assert looked_at_every_log.wait(5)  # its first step looks at every log
    assert projected(projector, projector.latest_positions(), timeout=5)
    looked.clear()
    looked_at_every_log.clear()

    payflow_on(ledger).deposit(asha, Money(1))  # the Wallets log alone

    assert projected(projector, projector.latest_positions(), timeout=5)
    assert set(looked) == {ledger.wallets.name}
    projector.wake()  # another process committed, to any log: every one is looked at
    assert looked_at_every_log.wait(5)


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


WEBHOOK_URL = "https://merchant.example.com/hooks"
WEBHOOK_SECRET = "s" * 32
STEPS = ["TRANSACTION_INITIATED", "DEBIT_SUCCESS", "CREDIT_SUCCESS", "TRANSACTION_COMPLETED"]


def deliveries(ledger: Ledger) -> tuple[UUID, dict[str, UUID]]:
    """Asha's endpoint, and the delivery of each step of one transfer she sent, by event."""
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    webhook = ledger.webhooks.subscribe(asha, WEBHOOK_URL, STEPS, WEBHOOK_SECRET)
    payflow.deposit(asha, Money.parse("100"))
    transfer_id = payflow.send(asha, Money(500), receiver_id=ravi).transfer.id
    ledger.drain()
    ledger.webhooks.pull_and_process(ledger.transfers.name)
    return webhook.id, {step: Delivery.create_id(webhook.id, transfer_id, step) for step in STEPS}


def test_projects_webhook_deliveries_and_every_attempt(
    ledger: Ledger, projector: Projector
) -> None:
    webhook_id, by_event = deliveries(ledger)
    failed = AttemptOutcome(delivered=False, status_code=503, latency_ms=40, error="HTTP 503")
    refused = AttemptOutcome(delivered=False, status_code=None, latency_ms=3, error="refused")
    delivered = AttemptOutcome(delivered=True, status_code=200, latency_ms=7, error=None)
    app = ledger.webhooks
    app.record_attempt(by_event["TRANSACTION_INITIATED"], failed, retry_in=2.0)
    app.record_attempt(by_event["TRANSACTION_INITIATED"], delivered, retry_in=4.0)
    for _ in range(app.rules.max_attempts):
        app.record_attempt(by_event["DEBIT_SUCCESS"], refused, retry_in=1.0)
    app.redeliver(by_event["DEBIT_SUCCESS"])
    app.record_attempt(by_event["CREDIT_SUCCESS"], failed, retry_in=60.0)
    app.abandon(by_event["TRANSACTION_COMPLETED"], "the endpoint was deleted")
    projector.catch_up()

    page = queries.deliveries_of(projector.store, webhook_id)

    assert (page.total, page.has_more) == (4, False)
    assert [row.event for row in page.deliveries] == STEPS[::-1]  # newest first
    for row in page.deliveries:  # the read model agrees with the aggregates
        delivery = app.get_delivery(row.id)
        assert (row.webhook_id, row.transfer_id, row.status) == (
            delivery.webhook_id,
            delivery.transfer_id,
            delivery.status,
        )
        assert (row.attempts, row.last_error) == (delivery.attempts, delivery.last_error)
        assert row.next_attempt_at == delivery.next_attempt_at
        assert (row.created_at, row.updated_at) == (delivery.created_on, delivery.modified_on)
        assert [a.number for a in row.attempt_log] == list(range(1, delivery.attempts + 1))
    rows = {row.event: row for row in page.deliveries}
    first = rows["TRANSACTION_INITIATED"]
    assert first.status is DeliveryStatus.DELIVERED
    assert first.last_status_code == 200
    assert [(a.status_code, a.error, a.delivered) for a in first.attempt_log] == [
        (503, "HTTP 503", False),
        (200, None, True),
    ]
    redelivered = rows["DEBIT_SUCCESS"]
    assert (redelivered.status, redelivered.last_status_code) == (DeliveryStatus.PENDING, None)
    assert rows["CREDIT_SUCCESS"].status is DeliveryStatus.PENDING
    abandoned = rows["TRANSACTION_COMPLETED"]
    assert (abandoned.status, abandoned.attempt_log) == (DeliveryStatus.DEAD, ())


def test_filters_and_pages_a_webhooks_deliveries(ledger: Ledger, projector: Projector) -> None:
    webhook_id, by_event = deliveries(ledger)
    ok = AttemptOutcome(delivered=True, status_code=204, latency_ms=5, error=None)
    ledger.webhooks.record_attempt(by_event["DEBIT_SUCCESS"], ok, retry_in=1.0)
    projector.catch_up()
    store = projector.store

    delivered = queries.deliveries_of(store, webhook_id, status=DeliveryStatus.DELIVERED)
    pending = queries.deliveries_of(store, webhook_id, status=DeliveryStatus.PENDING, limit=2)
    rest = queries.deliveries_of(
        store, webhook_id, status=DeliveryStatus.PENDING, limit=2, offset=2
    )
    nobody = queries.deliveries_of(store, UUID(int=7))

    assert [row.event for row in delivered.deliveries] == ["DEBIT_SUCCESS"]
    assert len(delivered.deliveries[0].attempt_log) == 1
    assert (pending.total, len(pending.deliveries), pending.has_more) == (3, 2, True)
    assert (rest.total, len(rest.deliveries), rest.has_more) == (3, 1, False)
    assert {r.id for r in pending.deliveries}.isdisjoint({r.id for r in rest.deliveries})
    assert (nobody.total, nobody.deliveries, nobody.has_more) == (0, [], False)


def test_a_step_that_fails_is_retried_with_the_logs_it_had_to_look_at(
    ledger: Ledger, projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    asha, _ = traffic(ledger)
    projector.catch_up()
    real = projector._project_page
    failures = [OSError("the read store went away")]

    def flaky(leader: Any) -> int:
        if failures and leader.name == ledger.wallets.name:
            raise failures.pop()
        return real(leader)

    monkeypatch.setattr(projector, "_project_page", flaky)
    payflow_on(ledger).deposit(asha, Money(1))
    projector._stirred.add(ledger.wallets.name)

    with pytest.raises(OSError, match="went away"):
        projector._step()
    projector._stirred.add(ledger.transfers.name)  # another log is committed to meanwhile
    projector._step()

    assert projector.position(ledger.wallets.name) == ledger.wallets.recorder.max_notification_id()
