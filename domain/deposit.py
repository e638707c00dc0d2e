"""The Deposit aggregate: the record of money paid in from outside.

It is saved in one transaction with the two wallet movements it explains. With
an idempotency key its id is derived from (user, key), so the store itself
refuses to credit the same key twice.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import event

from domain.ids import deposit_id_for, random_id
from domain.money import Money
from domain.snapshot import LedgerAggregate


class Deposit(LedgerAggregate):
    """One deposit into one user's wallet, and the balance it left behind."""

    @staticmethod
    def create_id(user_id: UUID, idempotency_key: str | None) -> UUID:
        if idempotency_key is None:
            return random_id()
        return deposit_id_for(user_id, idempotency_key)

    @event("Recorded")
    def __init__(
        self,
        user_id: UUID,
        wallet_id: UUID,
        amount: int,
        currency: str,
        idempotency_key: str | None,
        balance_after: int,
    ) -> None:
        self.user_id = user_id
        self.wallet_id = wallet_id
        self.amount_minor = amount
        self.currency = currency
        self.idempotency_key = idempotency_key
        self.balance_after_minor = balance_after

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def balance_after(self) -> Money:
        return Money(self.balance_after_minor, self.currency)
