"""The Transfers application: starts transfers and moves each one through its saga."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import EnvType

from application.base import (
    SNAPSHOT_INTERVAL,
    GroupCommit,
    LedgerProcess,
    Pending,
    answered,
)
from application.events import TRANSFER_STEPS
from domain.errors import IdempotencyConflict, IllegalTransition, TransferNotFound
from domain.money import Money
from domain.transfer import Transfer
from domain.wallet import Wallet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferRequest:
    """Everything that defines a transfer; an idempotency key stands for exactly this."""

    sender_id: UUID
    receiver_id: UUID
    sender_wallet_id: UUID
    receiver_wallet_id: UUID
    amount: Money
    description: str | None = None
    idempotency_key: str | None = None
    wait_until: datetime | None = None  # how it is answered, not what it is

    def matches(self, transfer: Transfer) -> bool:
        return (
            transfer.sender_id == self.sender_id
            and transfer.receiver_id == self.receiver_id
            and transfer.amount == self.amount
            and transfer.description == self.description
        )


@dataclass(frozen=True)
class Initiation:
    """A transfer as it was when first accepted; ``replayed`` for a repeated key."""

    transfer: Transfer
    replayed: bool


class Transfers(LedgerProcess):
    """Owns every transfer: the saga's state."""

    name = "Transfers"
    snapshotting_intervals = {Transfer: SNAPSHOT_INTERVAL}
    topics = TRANSFER_STEPS.topics

    def __init__(self, env: EnvType | None = None, *, snapshot_interval: int = SNAPSHOT_INTERVAL):
        super().__init__(env, snapshot_interval=snapshot_interval)
        # Concurrent requests share a commit, made by one writer thread.
        self.initiations = GroupCommit(self.save, name="initiations")

    def initiate(self, request: TransferRequest) -> Initiation:
        """Accept a transfer; with a key, a second identical request replays the first."""
        try:
            return self.begin(request).result()
        except IntegrityError:
            if request.idempotency_key is None:
                raise
            return self._replay(request)  # a concurrent twin was committed first

    def begin(self, request: TransferRequest) -> Future[Initiation]:
        """Queue the transfer for the next commit without waiting for it: the future of
        its acceptance. A key already used is answered at once, from this thread (its
        replay, or IdempotencyConflict); a twin with the same key committed meanwhile
        makes the future raise IntegrityError (``initiate`` then answers with it)."""
        if request.idempotency_key is not None:
            earlier = self.initiated(self._id_of(request))
            if earlier is not None:
                return answered(self._replay_of(request, earlier))
        return self.initiations.decide(lambda: self.prepare(request))

    def prepare(self, request: TransferRequest) -> Pending:
        """The transfer the request starts, for the writer (``initiations``) to commit,
        reading nothing: whoever asks has looked up the key already. A twin with the
        same key committed meanwhile collides in the commit, and the answer then
        raises IntegrityError."""
        transfer = Transfer.initiate(
            sender_id=request.sender_id,
            receiver_id=request.receiver_id,
            sender_wallet_id=request.sender_wallet_id,
            receiver_wallet_id=request.receiver_wallet_id,
            amount=request.amount,
            description=request.description,
            idempotency_key=request.idempotency_key,
            wait_until=request.wait_until,
        )

        def answer(error: BaseException | None) -> Initiation:
            if error is None or self._committed_after_all(transfer, request, error):
                return Initiation(transfer, replayed=False)
            raise error

        return Pending((transfer,), answer)

    def _committed_after_all(
        self, transfer: Transfer, request: TransferRequest, error: BaseException
    ) -> bool:
        """Whether a keyless transfer refused as a duplicate is in the store: a shared
        commit that reported failure may have been made all the same (its answer was
        lost), and the transfer's retry alone then collides with itself. Nothing else
        can hold its random id. (A keyed one is answered by ``_replay``.)"""
        if request.idempotency_key is not None or not isinstance(error, IntegrityError):
            return False
        stored = self.initiated(transfer.id)
        return stored is not None and request.matches(stored)

    def _replay(self, request: TransferRequest) -> Initiation:
        """The transfer accepted earlier under the request's key, if it is the same."""
        earlier = self.initiated(self._id_of(request))
        assert earlier is not None
        return self._replay_of(request, earlier)

    @staticmethod
    def _replay_of(request: TransferRequest, earlier: Transfer) -> Initiation:
        if not request.matches(earlier):
            raise IdempotencyConflict(
                f"idempotency key {request.idempotency_key!r} was used for another transfer"
            )
        return Initiation(earlier, replayed=True)

    @staticmethod
    def _id_of(request: TransferRequest) -> UUID:
        assert request.idempotency_key is not None
        return Transfer.create_id(request.sender_id, request.idempotency_key)

    def close(self) -> None:
        self.initiations.close()
        super().close()

    def get_transfer(self, transfer_id: UUID) -> Transfer:
        try:
            transfer: Transfer = self.repository.get(transfer_id)
        except AggregateNotFoundError:
            raise TransferNotFound(f"no transfer {transfer_id}") from None
        return transfer

    def as_of(self, transfer_id: UUID, moment: datetime) -> Transfer:
        """The transfer as it stood at ``moment``: its events recorded by then."""
        transfer: Transfer | None = None
        events: Iterable[Any] = self.events.get(transfer_id)
        for event in events:
            if transfer is not None and event.timestamp > moment:
                break
            transfer = event.mutate(transfer)
        if transfer is None:
            raise TransferNotFound(f"no transfer {transfer_id}")
        return transfer

    def initiated(self, transfer_id: UUID) -> Transfer | None:
        """The transfer as it was when accepted (version 1), or None if there is none."""
        try:
            transfer: Transfer = self.repository.get(transfer_id, version=1)
        except AggregateNotFoundError:
            return None
        return transfer

    # Saga steps ------------------------------------------------------------------

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        """Events of other kinds need no step here."""

    def page_loads(self, domain_event: Any) -> tuple[UUID, ...]:
        transfer_id = getattr(domain_event, "transfer_id", None)
        return () if transfer_id is None else (transfer_id,)

    @policy.register
    def _debited(self, event: Wallet.Debited, step: ProcessingEvent[UUID]) -> None:
        self._advance(event.transfer_id, step, lambda t: t.mark_debited(event.credit_decided))

    @policy.register
    def _debit_declined(self, event: Wallet.DebitDeclined, step: ProcessingEvent[UUID]) -> None:
        self._advance(event.transfer_id, step, lambda t: t.fail(event.reason))

    @policy.register
    def _credited(self, event: Wallet.Credited, step: ProcessingEvent[UUID]) -> None:
        def credit_and_complete(transfer: Transfer) -> None:
            transfer.mark_credited()
            transfer.complete()

        self._advance(event.transfer_id, step, credit_and_complete)

    @policy.register
    def _credit_declined(self, event: Wallet.CreditDeclined, step: ProcessingEvent[UUID]) -> None:
        self._advance(event.transfer_id, step, lambda t: t.request_refund(event.reason))

    @policy.register
    def _debit_reversed(self, event: Wallet.DebitReversed, step: ProcessingEvent[UUID]) -> None:
        self._advance(event.transfer_id, step, lambda t: t.mark_refunded())

    def _advance(self, transfer_id: UUID, step: ProcessingEvent[UUID], move: Any) -> None:
        in_page = transfer_id in step.aggregates
        try:
            transfer: Transfer = self.load(transfer_id, step)
            try:
                move(transfer)
            except IllegalTransition:
                if in_page:
                    raise
                # A cached copy can only be behind (a step that does not fit it may
                # fit the stored transfer, and would otherwise be lost): ask the store.
                self.forget(transfer_id)
                transfer = self.repository.get(transfer_id)
                move(transfer)
        except AggregateNotFoundError:
            raise TransferNotFound(f"no transfer {transfer_id}") from None
        except IllegalTransition:
            # Never expected: tracking records make each step happen once. Record
            # the position anyway so the saga is not wedged, and say so loudly.
            log.exception("saga step out of order for transfer %s", transfer_id)
            return
        step.collect_events(transfer)
