"""The Transfer aggregate: the saga's state, one status at a time.

``INITIATED → DEBITED → CREDITED → COMPLETED``; a refused debit goes
``INITIATED → FAILED`` (``Failed``); a refused credit goes
``DEBITED → REFUNDING → FAILED`` once the sender's debit has been reversed
(``Refunded``). Any other move raises ``IllegalTransition`` and records nothing.

Transfers refunded before ``Refunded`` existed recorded a ``Failed`` whose reason
began ``"Refunded: "``; ``read_as_refunded`` gives such a stored event back as the
``Refunded`` it stands for, so every reader sees one kind of event per outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import IllegalTransition, InvalidAmount, SelfTransfer
from domain.ids import random_id, transfer_id_for
from domain.money import Money
from domain.snapshot import LedgerAggregate, exact_enum


@exact_enum
class TransferStatus(StrEnum):
    INITIATED = "INITIATED"
    DEBITED = "DEBITED"
    CREDITED = "CREDITED"
    COMPLETED = "COMPLETED"
    REFUNDING = "REFUNDING"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (TransferStatus.COMPLETED, TransferStatus.FAILED)


_ALLOWED = {
    TransferStatus.INITIATED: {TransferStatus.DEBITED, TransferStatus.FAILED},
    TransferStatus.DEBITED: {TransferStatus.CREDITED, TransferStatus.REFUNDING},
    TransferStatus.CREDITED: {TransferStatus.COMPLETED},
    TransferStatus.REFUNDING: {TransferStatus.FAILED},
    TransferStatus.COMPLETED: set(),
    TransferStatus.FAILED: set(),
}

REFUNDED_PREFIX = "Refunded: "


def day_of(moment: datetime) -> str:
    """The UTC calendar date of an event timestamp, as daily limits count days."""
    return moment.astimezone(UTC).date().isoformat()


class Transfer(LedgerAggregate):
    """Money on its way from one user's wallet to another's."""

    class Initiated(Aggregate.Created):
        sender_id: UUID
        receiver_id: UUID
        sender_wallet_id: UUID
        receiver_wallet_id: UUID
        amount: int
        currency: str
        description: str | None
        idempotency_key: str | None
        wait_until: datetime | None = None  # absent from transfers accepted before it was

    class Debited(Aggregate.Event):
        """The sender's wallet was debited; the credit step needs where and how much,
        unless the credit's outcome was recorded with the debit (``credit_decided``;
        absent, False, in transfers debited before that was done)."""

        receiver_wallet_id: UUID
        sender_wallet_id: UUID
        amount: int
        currency: str
        credit_decided: bool = False

    class RefundRequested(Aggregate.Event):
        """The credit was refused; the refund step needs whom to pay back, and the
        day the debit counted against."""

        reason: str
        sender_wallet_id: UUID
        amount: int
        currency: str
        day: str

    class Credited(Aggregate.Event):
        pass

    class Completed(Aggregate.Event):
        pass

    class Failed(Aggregate.Event):
        """The debit was refused: nothing moved."""

        reason: str

    class Refunded(Aggregate.Event):
        """The sender's debit was reversed after the credit was refused: the transfer
        failed and the money is back where it began. ``reason``: why the credit was
        refused (as in ``RefundRequested``)."""

        reason: str

        @property
        def failure_reason(self) -> str:
            """The transfer's failure reason as shown to its parties."""
            return f"{REFUNDED_PREFIX}{self.reason}"

    @staticmethod
    def create_id(sender_id: UUID, idempotency_key: str | None) -> UUID:
        """With a key, the id is derived from (sender, key): the store refuses a twin."""
        if idempotency_key is None:
            return random_id()
        return transfer_id_for(sender_id, idempotency_key)

    @event(Initiated)
    def __init__(
        self,
        sender_id: UUID,
        receiver_id: UUID,
        sender_wallet_id: UUID,
        receiver_wallet_id: UUID,
        amount: int,
        currency: str,
        description: str | None,
        idempotency_key: str | None,
        wait_until: datetime | None = None,
    ) -> None:
        self.sender_id = sender_id
        self.receiver_id = receiver_id
        self.sender_wallet_id = sender_wallet_id
        self.receiver_wallet_id = receiver_wallet_id
        self.amount_minor = amount
        self.currency = currency
        self.description = description
        self.idempotency_key = idempotency_key
        self.wait_until = wait_until  # when the request that started it stops waiting
        self.status = TransferStatus.INITIATED
        self.failure_reason: str | None = None

    @classmethod
    def initiate(
        cls,
        sender_id: UUID,
        receiver_id: UUID,
        sender_wallet_id: UUID,
        receiver_wallet_id: UUID,
        amount: Money,
        description: str | None = None,
        idempotency_key: str | None = None,
        wait_until: datetime | None = None,
    ) -> Transfer:
        """A new transfer. ``wait_until`` is when the request that asks for it stops
        waiting for its outcome (None: it does not wait); a replay of that request
        answers with the transfer as it stood then, exactly as the first answer did."""
        if sender_id == receiver_id or sender_wallet_id == receiver_wallet_id:
            raise SelfTransfer("cannot send money to yourself")
        if not amount.is_positive:
            raise InvalidAmount(f"amount must be positive, not {amount}")
        return cls(
            sender_id=sender_id,
            receiver_id=receiver_id,
            sender_wallet_id=sender_wallet_id,
            receiver_wallet_id=receiver_wallet_id,
            amount=amount.minor,
            currency=amount.currency,
            description=description,
            idempotency_key=idempotency_key,
            wait_until=wait_until,
        )

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def day(self) -> str:
        """The UTC date the transfer was initiated: the day its debit counts against."""
        return day_of(self.created_on)

    @property
    def completed_at(self) -> datetime | None:
        """When the transfer reached its terminal status (its last event)."""
        return self.modified_on if self.status.is_terminal else None

    @property
    def was_refunded(self) -> bool:
        return self.status is TransferStatus.FAILED and bool(
            self.failure_reason and self.failure_reason.startswith(REFUNDED_PREFIX)
        )

    def mark_debited(self, credit_decided: bool = False) -> None:
        """The sender's wallet was debited; ``credit_decided`` if the credit's outcome
        was recorded with the debit, so the credit step has nothing left to do."""
        self._require_transition(TransferStatus.DEBITED)
        self._debited(
            receiver_wallet_id=self.receiver_wallet_id,
            sender_wallet_id=self.sender_wallet_id,
            amount=self.amount_minor,
            currency=self.currency,
            credit_decided=credit_decided,
        )

    @event(Debited)
    def _debited(
        self,
        receiver_wallet_id: UUID,
        sender_wallet_id: UUID,
        amount: int,
        currency: str,
        credit_decided: bool,
    ) -> None:
        self.status = TransferStatus.DEBITED

    def fail(self, reason: str) -> None:
        """The debit was refused: nothing moved."""
        self._require_transition(TransferStatus.FAILED)
        if self.status != TransferStatus.INITIATED:
            raise IllegalTransition("only an undebited transfer fails without a refund")
        self._failed(reason=reason)

    def request_refund(self, reason: str) -> None:
        """The credit was refused: the sender's debit must be reversed."""
        self._require_transition(TransferStatus.REFUNDING)
        self._refund_requested(
            reason=reason,
            sender_wallet_id=self.sender_wallet_id,
            amount=self.amount_minor,
            currency=self.currency,
            day=self.day,
        )

    @event(RefundRequested)
    def _refund_requested(
        self, reason: str, sender_wallet_id: UUID, amount: int, currency: str, day: str
    ) -> None:
        self.status = TransferStatus.REFUNDING
        self.failure_reason = reason

    def mark_refunded(self) -> None:
        """The sender's debit was reversed: the refund is done."""
        self._require_transition(TransferStatus.FAILED)
        if self.status != TransferStatus.REFUNDING:
            raise IllegalTransition("only a refunding transfer can be marked refunded")
        self._refunded(reason=self.failure_reason or "")

    @event(Failed)
    def _failed(self, reason: str) -> None:
        self.status = TransferStatus.FAILED
        self.failure_reason = reason

    @event(Refunded)
    def _refunded(self, reason: str) -> None:
        self.status = TransferStatus.FAILED
        self.failure_reason = f"{REFUNDED_PREFIX}{reason}"

    def mark_credited(self) -> None:
        self._require_transition(TransferStatus.CREDITED)
        self._credited()

    @event(Credited)
    def _credited(self) -> None:
        self.status = TransferStatus.CREDITED

    def complete(self) -> None:
        self._require_transition(TransferStatus.COMPLETED)
        self._completed()

    @event(Completed)
    def _completed(self) -> None:
        self.status = TransferStatus.COMPLETED

    def _require_transition(self, target: TransferStatus) -> None:
        if target not in _ALLOWED[self.status]:
            raise IllegalTransition(f"a {self.status} transfer cannot become {target}")


def read_as_refunded(event: Any) -> Any:
    """A stored event as it reads today: a ``Failed`` recorded for a refund, before
    ``Refunded`` existed, is that ``Refunded`` (same position, time and credit
    reason); any other event is itself."""
    if type(event) is not Transfer.Failed or not event.reason.startswith(REFUNDED_PREFIX):
        return event
    state = dict(vars(event), reason=event.reason[len(REFUNDED_PREFIX) :])
    refunded = object.__new__(Transfer.Refunded)
    object.__setattr__(refunded, "__dict__", state)
    return refunded
