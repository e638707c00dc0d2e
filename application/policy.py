"""Ledger rules that are configuration, not code: limits, currencies, faults."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from threading import Lock
from uuid import UUID

from application.ports import FaultSettingsStore
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


@dataclass(frozen=True)
class FaultSettings:
    """One whole set of fault-injection settings: an immutable value.

    ``rate`` is the exact probability that a credit is refused; ``transfer_ids``
    always fail. Neither applies unless ``enabled``. The defaults are "off".
    """

    enabled: bool = False
    rate: Fraction = Fraction(0)
    failure_type: FailureType = FailureType.ERROR
    transfer_ids: frozenset[UUID] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError("the failure rate must be between 0 and 1")

    def changed(
        self,
        enabled: bool | None = None,
        rate: Fraction | None = None,
        failure_type: FailureType | None = None,
        transfer_ids: Iterable[UUID] | None = None,
    ) -> FaultSettings:
        """These settings with the given ones replaced; the others stay as they are."""
        return FaultSettings(
            enabled=self.enabled if enabled is None else enabled,
            rate=self.rate if rate is None else Fraction(rate),
            failure_type=self.failure_type if failure_type is None else failure_type,
            transfer_ids=self.transfer_ids if transfer_ids is None else frozenset(transfer_ids),
        )


class InMemoryFaultSettings:
    """Settings kept in this process: enough where one process runs everything."""

    def __init__(self, initial: FaultSettings | None = None) -> None:
        self._settings = initial or FaultSettings()
        self._lock = Lock()

    def load(self) -> FaultSettings:
        with self._lock:
            return self._settings

    def update(self, change: Callable[[FaultSettings], FaultSettings]) -> FaultSettings:
        with self._lock:
            self._settings = change(self._settings)
            return self._settings


@dataclass
class CreditFaults:
    """Fault injection for the saga's credit step (never enabled in production).

    The settings are read from their store at every decision, never cached: with
    a store every process shares, a change made through any API process applies
    to the saga's very next credit. Only the random draw is local to the process.
    """

    store: FaultSettingsStore = field(default_factory=InMemoryFaultSettings)
    rng: random.Random = field(default_factory=random.Random)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def failure_for(self, transfer_id: UUID) -> str | None:
        """The injected failure reason for this credit, or None to let it through."""
        settings = self.store.load()
        if not settings.enabled:
            return None
        what = "timed out" if settings.failure_type is FailureType.TIMEOUT else "failed"
        if transfer_id in settings.transfer_ids:
            return f"Injected fault: credit {what} (transfer listed)"
        rate = settings.rate
        if rate and self._draw(rate.denominator) < rate.numerator:
            return f"Injected fault: credit {what} (random)"
        return None

    def settings(self) -> FaultSettings:
        """All the settings now in force, read together."""
        return self.store.load()

    @property
    def enabled(self) -> bool:
        return self.store.load().enabled

    @property
    def rate(self) -> Fraction:
        return self.store.load().rate

    @property
    def failure_type(self) -> FailureType:
        return self.store.load().failure_type

    @property
    def transfer_ids(self) -> frozenset[UUID]:
        return self.store.load().transfer_ids

    def configure(
        self,
        enabled: bool | None = None,
        rate: Fraction | None = None,
        failure_type: FailureType | None = None,
        transfer_ids: Iterable[UUID] | None = None,
    ) -> FaultSettings:
        """Change any of the settings at once; the others stay as they are.

        Raises ValueError, and changes nothing, for a rate outside 0..1.
        """
        listed = None if transfer_ids is None else frozenset(transfer_ids)
        return self.store.update(
            lambda current: current.changed(enabled, rate, failure_type, listed)
        )

    def reset(self) -> FaultSettings:
        """Injection off: no rate, no listed transfers."""
        return self.store.update(lambda _: FaultSettings())

    def _draw(self, below: int) -> int:
        with self._lock:  # one shared random source, drawn from by several threads
            return self.rng.randrange(below)
