"""Ledger rules that are configuration, not code: limits, currencies, faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from threading import Lock
from uuid import UUID

from domain.errors import CurrencyMismatch, InvalidAmount, LimitExceeded
from domain.money import Money

DEFAULT_CURRENCY = "INR"


@dataclass(frozen=True)
class Limits:
    """Per-operation limits, with UPI-like defaults."""

    max_transfer: Money = Money(100_000_00)
    max_deposit: Money = Money(100_000_00)
    balance_cap: Money | None = Money(1_000_000_00)
    currencies: frozenset[str] = frozenset({DEFAULT_CURRENCY})

    def check_transfer(self, amount: Money) -> None:
        self._check(amount, self.max_transfer, "per-transfer limit")

    def check_deposit(self, amount: Money) -> None:
        self._check(amount, self.max_deposit, "per-deposit limit")

    def _check(self, amount: Money, limit: Money, name: str) -> None:
        if amount.currency not in self.currencies:
            raise CurrencyMismatch(f"currency {amount.currency} is not enabled")
        if not amount.is_positive:
            raise InvalidAmount("amount must be greater than zero")
        if limit < amount:
            raise LimitExceeded(f"{amount} is over the {name} of {limit}")


@dataclass
class CreditFaults:
    """Fault injection for the saga's credit step (never enabled in production).

    ``rate`` is the probability, as a fraction ``numerator/denominator`` kept
    exact, that a credit is refused; ``transfer_ids`` always fail.
    """

    numerator: int = 0
    denominator: int = 100
    transfer_ids: set[UUID] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def failure_for(self, transfer_id: UUID) -> str | None:
        """The injected failure reason for this credit, or None to let it through."""
        with self._lock:
            if transfer_id in self.transfer_ids:
                return "Injected credit failure (transfer listed)"
            if self.numerator and self.rng.randrange(self.denominator) < self.numerator:
                return "Injected credit failure (random)"
        return None
