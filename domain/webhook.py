"""Webhooks: the endpoints users subscribe, and each delivery owed to one of them.

- ``Webhook`` is one subscribed endpoint: its URL, the event types it wants, its
  signing secret, and how its recent deliveries went. Consecutive failed attempts
  disable it, with the reason kept for its owner to read.
- ``WebhookBook`` is a user's list of endpoints, keyed by URL, so the same URL
  cannot be subscribed twice: both are saved together, and two concurrent
  subscriptions of one URL collide on the book's version.
- ``Delivery`` is one event owed to one endpoint: the durable outbox entry. Its id
  is derived from (endpoint, transfer, event type), so scheduling it twice is
  refused by the store. Every attempt is an event on it; after its last failed
  attempt it is dead-lettered, and can be redelivered by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import event

from domain.errors import DeliveryPending, WebhookExists, WebhookLimitReached
from domain.ids import derived_id
from domain.snapshot import LedgerAggregate, exact_enum

MAX_WEBHOOKS_PER_USER = 20


@exact_enum
class WebhookEvent(StrEnum):
    """What a transfer's parties can be told about (API.md, "Webhooks")."""

    TRANSACTION_INITIATED = "TRANSACTION_INITIATED"
    TRANSACTION_COMPLETED = "TRANSACTION_COMPLETED"
    TRANSACTION_FAILED = "TRANSACTION_FAILED"
    DEBIT_SUCCESS = "DEBIT_SUCCESS"
    DEBIT_FAILED = "DEBIT_FAILED"
    CREDIT_SUCCESS = "CREDIT_SUCCESS"
    CREDIT_FAILED = "CREDIT_FAILED"
    REFUND_REQUESTED = "REFUND_REQUESTED"
    REFUND_COMPLETED = "REFUND_COMPLETED"
    REFUND_FAILED = "REFUND_FAILED"


class WebhookBook(LedgerAggregate):
    """One user's endpoints, by URL."""

    @staticmethod
    def create_id(owner_id: UUID) -> UUID:
        return derived_id("webhooks", owner_id)

    @event("Opened")
    def __init__(self, owner_id: UUID) -> None:
        self.owner_id = owner_id
        self.urls: dict[str, UUID] = {}

    @property
    def webhook_ids(self) -> list[UUID]:
        return list(self.urls.values())

    def add(self, url: str, webhook_id: UUID) -> None:
        if url in self.urls:
            raise WebhookExists("a webhook for this URL already exists")
        if len(self.urls) >= MAX_WEBHOOKS_PER_USER:
            raise WebhookLimitReached(f"at most {MAX_WEBHOOKS_PER_USER} webhooks per user")
        self._added(url=url, webhook_id=webhook_id)

    @event("Added")
    def _added(self, url: str, webhook_id: UUID) -> None:
        self.urls[url] = webhook_id

    def remove(self, url: str) -> None:
        if url in self.urls:
            self._removed(url=url)

    @event("Removed")
    def _removed(self, url: str) -> None:
        del self.urls[url]


class Webhook(LedgerAggregate):
    """An endpoint that receives, signed, the event types it subscribed to."""

    @event("Subscribed")
    def __init__(self, owner_id: UUID, url: str, events: list[str], secret: str) -> None:
        self.owner_id = owner_id
        self.url = url
        self.events = sorted(set(events))
        self.secret = secret
        self.is_active = True
        self.is_deleted = False
        self.failure_count = 0
        self.disabled_reason: str | None = None
        self.last_delivery_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return self.is_active and not self.is_deleted and event_type in self.events

    @event("Changed")
    def change(self, url: str, events: list[str]) -> None:
        self.url = url
        self.events = sorted(set(events))

    def enable(self) -> None:
        """Active again, its failures forgiven (its owner fixed the receiver)."""
        if not self.is_active:
            self._enabled()

    @event("Enabled")
    def _enabled(self) -> None:
        self.is_active = True
        self.failure_count = 0
        self.disabled_reason = None

    def disable(self, reason: str) -> None:
        if self.is_active:
            self._disabled(reason=reason)

    @event("Disabled")
    def _disabled(self, reason: str) -> None:
        self.is_active = False
        self.disabled_reason = reason

    @event("Delivered")
    def delivered(self, at: datetime) -> None:
        self.last_delivery_at = at
        self.failure_count = 0

    def attempt_failed(self, error: str, disable_after: int) -> None:
        """Count a failed attempt; at ``disable_after`` in a row, stop delivering."""
        self._attempt_failed(error=error)
        if self.failure_count >= disable_after:
            self.disable(f"disabled after {self.failure_count} failed attempts in a row: {error}")

    @event("AttemptFailed")
    def _attempt_failed(self, error: str) -> None:
        self.failure_count += 1

    @event("Deleted")
    def delete(self) -> None:
        self.is_deleted = True
        self.is_active = False


@exact_enum
class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"  # dead-lettered: every attempt failed, or its endpoint went away


class Delivery(LedgerAggregate):
    """One event owed to one endpoint, and every attempt to deliver it.

    The body is fixed when the delivery is scheduled, so every attempt sends (and
    signs) the same bytes. ``round_attempts`` counts attempts since the last
    (re)delivery; ``attempts`` counts them all.
    """

    @staticmethod
    def create_id(webhook_id: UUID, transfer_id: UUID, event_type: str) -> UUID:
        return derived_id("delivery", webhook_id, transfer_id, event_type)

    @event("Scheduled")
    def __init__(
        self,
        webhook_id: UUID,
        owner_id: UUID,
        event_type: str,
        transfer_id: UUID,
        body: str,
        due_at: datetime,
        max_attempts: int,
    ) -> None:
        self.webhook_id = webhook_id
        self.owner_id = owner_id
        self.event_type = event_type
        self.transfer_id = transfer_id
        self.body = body
        self.max_attempts = max_attempts
        self.status = DeliveryStatus.PENDING
        self.next_attempt_at: datetime | None = due_at
        self.attempts = 0
        self.round_attempts = 0
        self.last_error: str | None = None

    @property
    def is_pending(self) -> bool:
        return self.status == DeliveryStatus.PENDING

    def record_attempt(
        self,
        at: datetime,
        delivered: bool,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
        retry_in: float,
    ) -> None:
        """One attempt's outcome; the next one is due ``retry_in`` seconds later,
        unless this one delivered or was the last allowed."""
        last = self.round_attempts + 1 >= self.max_attempts
        next_at = None if delivered or last else at + timedelta(seconds=retry_in)
        self._attempted(
            number=self.attempts + 1,
            at=at,
            delivered=delivered,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            next_attempt_at=next_at,
        )

    @event("Attempted")
    def _attempted(
        self,
        number: int,
        at: datetime,
        delivered: bool,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        self.attempts = number
        self.round_attempts += 1
        self.last_error = None if delivered else error
        self.next_attempt_at = next_attempt_at
        if delivered:
            self.status = DeliveryStatus.DELIVERED
        elif next_attempt_at is None:
            self.status = DeliveryStatus.DEAD

    def abandon(self, reason: str) -> None:
        """Dead-letter without sending: the endpoint was disabled or deleted."""
        if self.is_pending:
            self._abandoned(reason=reason)

    @event("Abandoned")
    def _abandoned(self, reason: str) -> None:
        self.status = DeliveryStatus.DEAD
        self.next_attempt_at = None
        self.last_error = reason

    def redeliver(self, at: datetime) -> None:
        """Try again from the first attempt (by hand, after it was dead-lettered)."""
        if self.is_pending:
            raise DeliveryPending("this delivery is still being attempted")
        self._redelivering(at=at)

    @event("Redelivering")
    def _redelivering(self, at: datetime) -> None:
        self.status = DeliveryStatus.PENDING
        self.next_attempt_at = at
        self.round_attempts = 0
