"""Ledger rules that are configuration, not code: limits, currencies, faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from threading import Lock
from uuid import UUID

from domain.errors import CurrencyMismatch, InvalidAmount, LimitExceeded
from domain.limits import DailyLimit
from domain.money import Money

DEFAULT_CURRENCY = "INR"


@dataclass(frozen=True)
class Limits:
    """Per-operation limits, with UPI-like defaults."""

    max_transfer: Money = Money(100_000_00)
    max_deposit: Money = Money(100_000_00)
    balance_cap: Money | None = Money(1_000_000_00)
    daily_amount: Money = Money(100_000_00)
    daily_count: int = 20
    currencies: frozenset[str] = frozenset({DEFAULT_CURRENCY})

    @property
    def daily(self) -> DailyLimit:
        """What one user wallet may send per day, enforced by the wallet itself."""
        return DailyLimit(max_amount=self.daily_amount.minor, max_count=self.daily_count)

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


class FailureType(StrEnum):
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"


@dataclass
class CreditFaults:
    """Fault injection for the saga's credit step (never enabled in production).

    The rate is the probability, kept exact as ``numerator/denominator``, that a
    credit is refused; ``transfer_ids`` always fail while injection is enabled.
    Settings change at run time (the simulation endpoints), so access is locked.
    """

    numerator: int = 0
    denominator: int = 100
    transfer_ids: set[UUID] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)
    failure_type: FailureType = FailureType.ERROR
    enabled: bool = True
    _lock: Lock = field(default_factory=Lock, repr=False)

    def failure_for(self, transfer_id: UUID) -> str | None:
        """The injected failure reason for this credit, or None to let it through."""
        what = "timed out" if self.failure_type is FailureType.TIMEOUT else "failed"
        with self._lock:
            if not self.enabled:
                return None
            if transfer_id in self.transfer_ids:
                return f"Injected fault: credit {what} (transfer listed)"
            if self.numerator and self.rng.randrange(self.denominator) < self.numerator:
                return f"Injected fault: credit {what} (random)"
        return None

    @property
    def rate(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)

    def configure(
        self,
        enabled: bool | None = None,
        rate: Fraction | None = None,
        failure_type: FailureType | None = None,
        transfer_ids: set[UUID] | None = None,
    ) -> None:
        """Change any of the settings at once; the others stay as they are."""
        if rate is not None and not 0 <= rate <= 1:
            raise ValueError("the failure rate must be between 0 and 1")
        with self._lock:
            if rate is not None:
                self.numerator, self.denominator = rate.numerator, rate.denominator
            if enabled is not None:
                self.enabled = enabled
            if failure_type is not None:
                self.failure_type = failure_type
            if transfer_ids is not None:
                self.transfer_ids = set(transfer_ids)

    def reset(self) -> None:
        """Injection off: no rate, no listed transfers."""
        self.configure(False, Fraction(0), FailureType.ERROR, set())
