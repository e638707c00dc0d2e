"""The Webhooks application: subscriptions, and the durable outbox of deliveries.

It follows the Transfers log like the saga does. For each transfer event it
schedules one ``Delivery`` per subscribed endpoint of each party, committed
together with its tracking record: a delivery is owed the moment its event is
processed, whether or not anything is running to send it, and a restart or a
second worker cannot schedule it twice (its id is derived, see domain/webhook.py).
Sending is the dispatcher's business (interfaces/webhook_dispatcher.py); it
reports each attempt back here.

Which events each transfer event gives (the parties of the transfer are told):

- Initiated → TRANSACTION_INITIATED; Debited → DEBIT_SUCCESS;
- Credited → CREDIT_SUCCESS; Completed → TRANSACTION_COMPLETED;
- RefundRequested → CREDIT_FAILED, REFUND_REQUESTED;
- Refunded → REFUND_COMPLETED, TRANSACTION_FAILED;
- Failed (the debit was refused) → DEBIT_FAILED, TRANSACTION_FAILED.

REFUND_FAILED can be subscribed to but never fires: the refund is a reversing
credit to the sender's own wallet, which the ledger never refuses (frozen, closed
or capped wallets included), so there is no failed refund to report.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import EnvType, get_topic

from application.base import SNAPSHOT_INTERVAL, LedgerProcess, retry_on_conflict
from application.events import WEBHOOK_SCHEDULING
from domain.errors import DeliveryNotFound, WebhookNotFound
from domain.transfer import Transfer, TransferStatus
from domain.webhook import Delivery, Webhook, WebhookBook, WebhookEvent

DEFAULT_ATTEMPTS = 5
DEFAULT_DISABLE_AFTER = 10  # failed attempts in a row: two dead-lettered deliveries' worth
REMEMBERED_TRANSFERS = 100_000  # unfinished transfers whose parties are kept in memory
BOOK_OPENED = f"{get_topic(WebhookBook)}.Opened"

E = WebhookEvent
EVENTS_OF: dict[type[Any], tuple[WebhookEvent, ...]] = {
    Transfer.Initiated: (E.TRANSACTION_INITIATED,),
    Transfer.Debited: (E.DEBIT_SUCCESS,),
    Transfer.Credited: (E.CREDIT_SUCCESS,),
    Transfer.Completed: (E.TRANSACTION_COMPLETED,),
    Transfer.RefundRequested: (E.CREDIT_FAILED, E.REFUND_REQUESTED),
    Transfer.Refunded: (E.REFUND_COMPLETED, E.TRANSACTION_FAILED),
    Transfer.Failed: (E.DEBIT_FAILED, E.TRANSACTION_FAILED),
}


@dataclass(frozen=True)
class Notice:
    """What one delivery tells: an event of a transfer, as the transfer then stood."""

    delivery_id: UUID
    event_type: WebhookEvent
    transfer: Transfer
    occurred_at: datetime


BodyRenderer = Callable[[Notice], str]
IdWriter = Callable[[str, UUID], str]  # (kind, id) → how ids are written


def notice_fields(notice: Notice, write_id: IdWriter) -> dict[str, Any]:
    """What a delivery's body says (API.md, "Webhooks"); the amount as an exact Decimal."""
    transfer = notice.transfer
    fields: dict[str, Any] = {
        "deliveryId": write_id("delivery", notice.delivery_id),
        "event": notice.event_type.value,
        "transactionId": write_id("transaction", transfer.id),
        "status": transfer.status.value,
        "amount": transfer.amount.to_decimal(),
        "currency": transfer.currency,
        "timestamp": notice.occurred_at.isoformat(),
        "senderId": write_id("user", transfer.sender_id),
        "receiverId": write_id("user", transfer.receiver_id),
    }
    if transfer.failure_reason is not None:
        fields["reason"] = transfer.failure_reason
    if transfer.status is TransferStatus.FAILED:
        fields["refunded"] = transfer.was_refunded
    return fields


def plain_body(notice: Notice) -> str:
    """A body with bare UUIDs and the amount as a string (the HTTP interface's own
    renderer writes public ids and an exact JSON number)."""
    return json.dumps(notice_fields(notice, lambda _, value: str(value)), default=str)


@dataclass(frozen=True)
class AttemptOutcome:
    """One attempt to deliver, as the sender saw it."""

    delivered: bool
    status_code: int | None
    latency_ms: int
    error: str | None


TransferAt = Callable[[UUID, int | None], Transfer]  # None: the latest version


@dataclass(frozen=True)
class WebhookRules:
    """How deliveries are made: attempts per delivery, when an endpoint is disabled,
    and how a body is written."""

    max_attempts: int = DEFAULT_ATTEMPTS
    disable_after: int = DEFAULT_DISABLE_AFTER
    render: BodyRenderer = plain_body


class Webhooks(LedgerProcess):
    """Owns webhook subscriptions and deliveries."""

    name = "Webhooks"
    snapshotting_intervals = {
        Webhook: SNAPSHOT_INTERVAL,
        WebhookBook: SNAPSHOT_INTERVAL,
        Delivery: SNAPSHOT_INTERVAL,
    }
    topics = WEBHOOK_SCHEDULING.topics

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        transfer_at: TransferAt | None = None,
        rules: WebhookRules | None = None,
        snapshot_interval: int = SNAPSHOT_INTERVAL,
    ) -> None:
        super().__init__(env, snapshot_interval=snapshot_interval)
        self.transfer_at = transfer_at
        self.rules = rules or WebhookRules()
        self._subscribers: set[UUID] = set()
        self._subscribers_read_up_to = 0
        self._parties: OrderedDict[UUID, tuple[UUID, UUID]] = OrderedDict()

    # Subscriptions -----------------------------------------------------------------

    def subscribe(self, owner_id: UUID, url: str, events: Iterable[str], secret: str) -> Webhook:
        """A new endpoint for ``owner_id``; WebhookExists if that URL already has one."""

        def attempt() -> Webhook:
            book = self._book(owner_id) or WebhookBook(owner_id=owner_id)
            webhook = Webhook(owner_id=owner_id, url=url, events=list(events), secret=secret)
            book.add(url, webhook.id)
            self.save(book, webhook)
            return webhook

        return retry_on_conflict(attempt)  # a concurrent subscription: decide again

    def webhooks_of(self, owner_id: UUID) -> list[Webhook]:
        webhooks = self._endpoints_of(owner_id)
        return sorted(webhooks, key=lambda w: w.created_on, reverse=True)

    def webhook_for(self, owner_id: UUID, webhook_id: UUID) -> Webhook:
        """The caller's endpoint; WebhookNotFound for anyone else's, or a deleted one."""
        try:
            webhook: Webhook = self.repository.get(webhook_id)
        except AggregateNotFoundError:
            raise WebhookNotFound("no such webhook") from None
        if webhook.owner_id != owner_id or webhook.is_deleted:
            raise WebhookNotFound("no such webhook")
        return webhook

    def change(
        self,
        owner_id: UUID,
        webhook_id: UUID,
        url: str | None = None,
        events: Iterable[str] | None = None,
        active: bool | None = None,
    ) -> Webhook:
        def attempt() -> Webhook:
            webhook = self.webhook_for(owner_id, webhook_id)
            changed: list[Any] = [webhook]
            new_url = webhook.url if url is None else url
            new_events = webhook.events if events is None else sorted(set(events))
            if new_url != webhook.url:
                book = self._book(owner_id)
                assert book is not None
                book.remove(webhook.url)
                book.add(new_url, webhook.id)
                changed.append(book)
            if (new_url, new_events) != (webhook.url, webhook.events):
                webhook.change(new_url, new_events)
            if active is True:
                webhook.enable()
            if active is False:
                webhook.disable("paused by its owner")
            self.save(*changed)
            return webhook

        return retry_on_conflict(attempt)

    def delete(self, owner_id: UUID, webhook_id: UUID) -> None:
        def attempt() -> None:
            webhook = self.webhook_for(owner_id, webhook_id)
            book = self._book(owner_id)
            assert book is not None
            book.remove(webhook.url)
            webhook.delete()
            self.save(book, webhook)

        retry_on_conflict(attempt)

    # Deliveries ----------------------------------------------------------------------

    def get_delivery(self, delivery_id: UUID) -> Delivery:
        try:
            delivery: Delivery = self.repository.get(delivery_id)
        except AggregateNotFoundError:
            raise DeliveryNotFound("no such delivery") from None
        return delivery

    def get_webhook(self, webhook_id: UUID) -> Webhook:
        return self._webhook(webhook_id)

    def redeliver(self, delivery_id: UUID, owner_id: UUID | None = None) -> Delivery:
        """Start a delivery's attempts over (``owner_id`` None: an operator asked)."""

        def attempt() -> Delivery:
            delivery = self.get_delivery(delivery_id)
            if owner_id is not None and delivery.owner_id != owner_id:
                raise DeliveryNotFound("no such delivery")
            delivery.redeliver(datetime.now(UTC))
            self.save(delivery)
            return delivery

        return retry_on_conflict(attempt)

    def record_attempt(
        self, delivery_id: UUID, outcome: AttemptOutcome, retry_in: float
    ) -> Delivery:
        """Record one attempt on the delivery and its endpoint, together."""

        def attempt() -> Delivery:
            delivery = self.get_delivery(delivery_id)
            webhook = self._webhook(delivery.webhook_id)
            at = datetime.now(UTC)
            delivery.record_attempt(
                at=at,
                delivered=outcome.delivered,
                status_code=outcome.status_code,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
                retry_in=retry_in,
            )
            if outcome.delivered:
                webhook.delivered(at)
            else:
                webhook.attempt_failed(outcome.error or "failed", self.rules.disable_after)
            self.save(delivery, webhook)
            return delivery

        return retry_on_conflict(attempt)

    def abandon(self, delivery_id: UUID, reason: str) -> Delivery:
        def attempt() -> Delivery:
            delivery = self.get_delivery(delivery_id)
            delivery.abandon(reason)
            self.save(delivery)
            return delivery

        return retry_on_conflict(attempt)

    # Scheduling, from the Transfers log ----------------------------------------------

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        """Events of other kinds are not told to anyone."""

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        """Process what the leader's log holds, knowing first who has subscribed. Each
        page is one commit, whether it scheduled deliveries or only moved the tracking:
        most transfer events concern nobody with a webhook."""
        self._read_subscribers()
        super().pull_and_process(leader_name, start, stop)

    def _read_subscribers(self) -> None:
        """Note the users who have opened a webhook book since the last look. Books are
        never removed, so the set only grows; a book opened while a pull is under way
        is seen from the next pull on."""
        while True:
            page = self.recorder.select_notifications(
                start=self._subscribers_read_up_to + 1, limit=500, topics=[BOOK_OPENED]
            )
            for notification in page:
                opened = self.mapper.to_domain_event(notification)
                self._subscribers.add(opened.owner_id)  # type: ignore[attr-defined]
                self._subscribers_read_up_to = notification.id
            if len(page) < 500:
                return

    @policy.register
    def _transfer_event(self, event: Transfer.Event, step: ProcessingEvent[UUID]) -> None:
        parties = self._parties_of(event)
        listening = [party for party in parties if party in self._subscribers]
        if not listening:  # the common case: only the tracking record is committed
            return
        kinds = _kinds_of(event)
        wanted = [
            (webhook, kind)
            for party in listening
            for webhook in self._endpoints_of(party)
            for kind in kinds
            if webhook.wants(kind)
        ]
        if not wanted:
            return
        transfer = self._transfer_at(event.originator_id, event.originator_version)
        for webhook, kind in wanted:
            step.collect_events(self._schedule(webhook, kind, transfer, event))

    def _parties_of(self, event: Transfer.Event) -> list[UUID]:
        """Sender and receiver, remembered from the transfer's first event (read from the
        store only for a transfer that began before this process was following)."""
        parties = self._parties.pop(event.originator_id, None)
        if isinstance(event, Transfer.Initiated):
            parties = (event.sender_id, event.receiver_id)
        if parties is None:
            transfer = self._transfer_at(event.originator_id, None)
            parties = (transfer.sender_id, transfer.receiver_id)
        if not isinstance(event, Transfer.Completed | Transfer.Failed | Transfer.Refunded):
            self._parties[event.originator_id] = parties
            while len(self._parties) > REMEMBERED_TRANSFERS:
                self._parties.popitem(last=False)
        return list(dict.fromkeys(parties))

    def _endpoints_of(self, owner_id: UUID) -> list[Webhook]:
        book = self._book(owner_id)
        return [self._webhook(i) for i in book.webhook_ids] if book else []

    def _schedule(
        self, webhook: Webhook, kind: WebhookEvent, transfer: Transfer, event: Transfer.Event
    ) -> Delivery:
        delivery_id = Delivery.create_id(webhook.id, transfer.id, kind.value)
        body = self.rules.render(Notice(delivery_id, kind, transfer, event.timestamp))
        return Delivery(
            webhook_id=webhook.id,
            owner_id=webhook.owner_id,
            event_type=kind.value,
            transfer_id=transfer.id,
            body=body,
            due_at=event.timestamp,
            max_attempts=self.rules.max_attempts,
        )

    def _transfer_at(self, transfer_id: UUID, version: int | None) -> Transfer:
        if self.transfer_at is None:
            raise RuntimeError("Webhooks needs transfer_at to read the transfers it reports")
        return self.transfer_at(transfer_id, version)

    def _book(self, owner_id: UUID) -> WebhookBook | None:
        try:
            book: WebhookBook = self.repository.get(WebhookBook.create_id(owner_id))
        except AggregateNotFoundError:
            return None
        return book

    def _webhook(self, webhook_id: UUID) -> Webhook:
        try:
            webhook: Webhook = self.repository.get(webhook_id)
        except AggregateNotFoundError:
            raise WebhookNotFound("no such webhook") from None
        return webhook


def _kinds_of(event: Transfer.Event) -> tuple[WebhookEvent, ...]:
    """The webhook events a transfer event gives (see the module's docstring)."""
    return EVENTS_OF.get(type(event), ())
