"""The Webhooks application on every store: subscriptions, and the outbox of deliveries
it schedules from the Transfers log."""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.audit import events_of
from application.policy import CreditFaults, Limits
from application.saga import Ledger
from application.webhooks import AttemptOutcome, WebhookRules
from domain.errors import (
    DeliveryNotFound,
    DeliveryPending,
    WebhookExists,
    WebhookLimitReached,
    WebhookNotFound,
)
from domain.money import Money
from domain.webhook import MAX_WEBHOOKS_PER_USER, Delivery, DeliveryStatus, WebhookEvent
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.conftest import LedgerFactory
from tests.integration.test_saga import open_two_users
from tests.support.saga import payflow_on

ALL = [e.value for e in WebhookEvent]
URL = "https://merchant.example.com/hooks"
SECRET = "s" * 32
FAILED = AttemptOutcome(delivered=False, status_code=500, latency_ms=12, error="HTTP 500")
OK = AttemptOutcome(delivered=True, status_code=200, latency_ms=9, error=None)


def notify(ledger: Ledger) -> None:
    """Run the saga to the end, then let Webhooks schedule what it owes."""
    ledger.drain()
    ledger.webhooks.pull_and_process(ledger.transfers.name)


def scheduled(ledger: Ledger) -> list[Delivery]:
    ids = [
        e.originator_id
        for _, e in events_of(ledger.webhooks)
        if type(e).__qualname__ == "Delivery.Scheduled"
    ]
    return [ledger.webhooks.get_delivery(i) for i in ids]


def told(ledger: Ledger, owner: UUID) -> list[str]:
    return [d.event_type for d in scheduled(ledger) if d.owner_id == owner]


# Subscriptions -------------------------------------------------------------------------


def test_subscribes_lists_changes_and_deletes(ledger: Ledger) -> None:
    owner = uuid4()
    first = ledger.webhooks.subscribe(owner, URL, ["TRANSACTION_COMPLETED"], SECRET)
    second = ledger.webhooks.subscribe(owner, URL + "/2", ALL, SECRET)
    assert [w.id for w in ledger.webhooks.webhooks_of(owner)] == [second.id, first.id]

    changed = ledger.webhooks.change(owner, first.id, url=URL + "/3", events=["DEBIT_FAILED"])
    assert (changed.url, changed.events) == (URL + "/3", ["DEBIT_FAILED"])
    ledger.webhooks.subscribe(owner, URL, ALL, SECRET)  # the old URL is free again

    ledger.webhooks.delete(owner, second.id)
    with pytest.raises(WebhookNotFound):
        ledger.webhooks.webhook_for(owner, second.id)
    assert len(ledger.webhooks.webhooks_of(owner)) == 2


def test_refuses_the_same_url_twice_and_someone_elses_webhook(ledger: Ledger) -> None:
    owner, stranger = uuid4(), uuid4()
    webhook = ledger.webhooks.subscribe(owner, URL, ALL, SECRET)
    with pytest.raises(WebhookExists):
        ledger.webhooks.subscribe(owner, URL, ALL, SECRET)
    ledger.webhooks.subscribe(stranger, URL, ALL, SECRET)  # another user may use it
    for action in (
        lambda: ledger.webhooks.webhook_for(stranger, webhook.id),
        lambda: ledger.webhooks.change(stranger, webhook.id, active=False),
        lambda: ledger.webhooks.delete(stranger, webhook.id),
    ):
        with pytest.raises(WebhookNotFound):
            action()
    assert ledger.webhooks.webhook_for(owner, webhook.id).is_active


def test_changing_to_a_url_already_used_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    owner = uuid4()
    first = ledger.webhooks.subscribe(owner, URL, ALL, SECRET)
    ledger.webhooks.subscribe(owner, URL + "/2", ALL, SECRET)
    with pytest.raises(WebhookExists):
        ledger.webhooks.change(owner, first.id, url=URL + "/2")
    assert ledger.webhooks.webhook_for(owner, first.id).url == URL


def test_caps_the_webhooks_of_one_user(ledger: Ledger) -> None:
    owner = uuid4()
    for n in range(MAX_WEBHOOKS_PER_USER):
        ledger.webhooks.subscribe(owner, f"{URL}/{n}", ALL, SECRET)
    with pytest.raises(WebhookLimitReached):
        ledger.webhooks.subscribe(owner, URL, ALL, SECRET)


# Scheduling ------------------------------------------------------------------------------


def test_a_completed_transfer_tells_both_parties_every_step(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    for party in (asha, ravi):
        ledger.webhooks.subscribe(party, URL, ALL, SECRET)
    payflow.deposit(asha, Money.parse("100.00"))
    sent = payflow.send(asha, Money.parse("40.25"), receiver_id=ravi)
    notify(ledger)

    steps = ["TRANSACTION_INITIATED", "DEBIT_SUCCESS", "CREDIT_SUCCESS", "TRANSACTION_COMPLETED"]
    assert told(ledger, asha) == steps
    assert told(ledger, ravi) == steps
    last = json.loads(scheduled(ledger)[-1].body)
    assert last["event"] == "TRANSACTION_COMPLETED"
    assert last["status"] == "COMPLETED"
    assert last["amount"] == "40.25"  # plain bodies write it as a string
    assert last["transactionId"] == str(sent.transfer.id)


def test_a_refused_debit_and_a_refund_are_told_as_such(ledger_factory: LedgerFactory) -> None:
    ledger = ledger_factory(faults=CreditFaults())
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    ledger.webhooks.subscribe(asha, URL, ALL, SECRET)
    payflow.send(asha, Money.parse("10.00"), receiver_id=ravi)  # Asha has nothing yet
    notify(ledger)
    assert told(ledger, asha) == ["TRANSACTION_INITIATED", "DEBIT_FAILED", "TRANSACTION_FAILED"]

    payflow.deposit(asha, Money.parse("50.00"))
    ledger.wallets.faults.configure(enabled=True, rate=Fraction(1))
    payflow.send(asha, Money.parse("10.00"), receiver_id=ravi)
    notify(ledger)
    assert told(ledger, asha)[3:] == [
        "TRANSACTION_INITIATED",
        "DEBIT_SUCCESS",
        "CREDIT_FAILED",
        "REFUND_REQUESTED",
        "REFUND_COMPLETED",
        "TRANSACTION_FAILED",
    ]
    final = json.loads(scheduled(ledger)[-1].body)
    assert final["refunded"] is True
    assert final["reason"].startswith("Refunded: ")


def test_only_subscribed_events_of_active_webhooks_are_scheduled(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    ledger.webhooks.subscribe(asha, URL, ["TRANSACTION_COMPLETED"], SECRET)
    paused = ledger.webhooks.subscribe(ravi, URL, ALL, SECRET)
    ledger.webhooks.change(ravi, paused.id, active=False)
    payflow.deposit(asha, Money.parse("100.00"))
    payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    notify(ledger)
    assert told(ledger, asha) == ["TRANSACTION_COMPLETED"]
    assert told(ledger, ravi) == []


def test_a_second_worker_over_the_same_log_schedules_nothing_twice(
    ledger_factory: LedgerFactory,
) -> None:
    ledger = ledger_factory()
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    ledger.webhooks.subscribe(asha, URL, ALL, SECRET)
    payflow.deposit(asha, Money.parse("100.00"))
    payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    ledger.drain()
    other = ledger_factory()  # another process on the same store, say
    other.webhooks.pull_and_process(other.transfers.name)
    ledger.webhooks.pull_and_process(ledger.transfers.name)
    counts = Counter(told(ledger, asha))
    assert counts
    assert set(counts.values()) == {1}


# Attempts ---------------------------------------------------------------------------------


def one_delivery(ledger: Ledger, rules: WebhookRules | None = None) -> tuple[UUID, Delivery]:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    ledger.webhooks.subscribe(asha, URL, ["TRANSACTION_INITIATED"], SECRET)
    payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    ledger.webhooks.pull_and_process(ledger.transfers.name)
    (delivery,) = scheduled(ledger)
    return asha, delivery


def test_failed_attempts_are_retried_then_dead_lettered_then_redelivered(
    ledger: Ledger,
) -> None:
    owner, delivery = one_delivery(ledger)
    for n in range(1, 5):
        pending = ledger.webhooks.record_attempt(delivery.id, FAILED, retry_in=2.0 * n)
        assert pending.status is DeliveryStatus.PENDING
        assert pending.next_attempt_at is not None
        assert pending.last_error == "HTTP 500"
    dead = ledger.webhooks.record_attempt(delivery.id, FAILED, retry_in=32.0)
    assert (dead.status, dead.attempts, dead.next_attempt_at) == (DeliveryStatus.DEAD, 5, None)
    assert ledger.webhooks.get_webhook(delivery.webhook_id).failure_count == 5

    with pytest.raises(DeliveryNotFound):  # only its owner (or an operator) may ask
        ledger.webhooks.redeliver(delivery.id, owner_id=uuid4())
    again = ledger.webhooks.redeliver(delivery.id, owner_id=owner)
    assert again.is_pending
    assert again.round_attempts == 0
    with pytest.raises(DeliveryPending):
        ledger.webhooks.redeliver(delivery.id)
    done = ledger.webhooks.record_attempt(delivery.id, OK, retry_in=1.0)
    assert (done.status, done.attempts) == (DeliveryStatus.DELIVERED, 6)
    webhook = ledger.webhooks.get_webhook(delivery.webhook_id)
    assert webhook.failure_count == 0
    assert webhook.last_delivery_at is not None


def test_an_endpoint_failing_again_and_again_is_disabled_with_its_reason(
    ledger_factory: LedgerFactory,
) -> None:
    ledger = ledger_factory(webhook_rules=WebhookRules(max_attempts=5, disable_after=3))
    owner, delivery = one_delivery(ledger)
    for _ in range(3):
        ledger.webhooks.record_attempt(delivery.id, FAILED, retry_in=1.0)
    webhook = ledger.webhooks.webhook_for(owner, delivery.webhook_id)
    assert not webhook.is_active
    assert webhook.disabled_reason == "disabled after 3 failed attempts in a row: HTTP 500"

    ledger.webhooks.change(owner, webhook.id, active=True)  # its owner mended the receiver
    enabled = ledger.webhooks.webhook_for(owner, webhook.id)
    assert enabled.is_active
    assert enabled.failure_count == 0
    assert enabled.disabled_reason is None


def test_only_the_parties_to_a_transfer_are_told(ledger: Ledger) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = open_two_users(payflow)
    bystander = payflow.register("Meera Rao", "meera@example.com", "Passw0rd1").user.id
    for user in (asha, ravi, bystander):
        ledger.webhooks.subscribe(user, URL, ALL, SECRET)
    payflow.deposit(asha, Money.parse("100.00"))
    payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    notify(ledger)
    assert told(ledger, asha)
    assert told(ledger, ravi)
    assert told(ledger, bystander) == []


def test_a_restarted_scheduler_finds_the_parties_of_transfers_under_way(
    persistent_settings: Settings,
) -> None:
    first = Ledger.build(env_for(persistent_settings))
    payflow = payflow_on(first)
    asha, ravi = open_two_users(payflow)
    first.webhooks.subscribe(asha, URL, ALL, SECRET)
    payflow.deposit(asha, Money.parse("100.00"))
    payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    first.webhooks.pull_and_process(first.transfers.name)  # it saw the transfer begin
    first.drain()
    second = Ledger.build(env_for(persistent_settings))  # another process: nothing in memory
    try:
        second.webhooks.pull_and_process(second.transfers.name)
        assert told(second, asha) == [
            "TRANSACTION_INITIATED",
            "DEBIT_SUCCESS",
            "CREDIT_SUCCESS",
            "TRANSACTION_COMPLETED",
        ]
    finally:
        second.close()
        first.close()


def test_steps_that_schedule_nothing_are_tracked_in_pages_and_safely_redone(
    persistent_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    generous = Limits(daily_count=1000)
    first = Ledger.build(env_for(persistent_settings), limits=generous)
    payflow = payflow_on(first)
    asha, ravi = open_two_users(payflow)
    payflow.deposit(asha, Money.parse("100.00"))
    for _ in range(40):  # 160 transfer events, and nobody has a webhook
        payflow.send(asha, Money.parse("1.00"), receiver_id=ravi)
    first.drain()
    last = first.transfers.recorder.max_notification_id()
    commits: list[int] = []
    real_insert = first.webhooks.recorder.insert_events

    def counted(stored_events: Any, **kwargs: Any) -> Any:
        commits.append(kwargs["tracking"].notification_id)
        return real_insert(stored_events, **kwargs)

    monkeypatch.setattr(first.webhooks.recorder, "insert_events", counted)
    first.webhooks.pull_and_process(first.transfers.name)
    assert first.webhooks.recorder.max_tracking_id(first.transfers.name) == last
    assert len(commits) == 2  # a page of 100 steps, then the 60 left: one commit each
    assert scheduled(first) == []

    second = Ledger.build(env_for(persistent_settings), limits=generous)  # another process
    try:
        second.webhooks.pull_and_process(second.transfers.name)
        assert scheduled(second) == []  # the redone steps owed nobody anything
        second.webhooks.subscribe(ravi, URL, ALL, SECRET)
        payflow_on(second).send(asha, Money.parse("1.00"), receiver_id=ravi)
        second.webhooks.pull_and_process(second.transfers.name)
        assert told(second, ravi) == ["TRANSACTION_INITIATED"]
        assert second.webhooks.recorder.max_tracking_id(second.transfers.name) == last + 1
    finally:
        second.close()
        first.close()
