"""The Wallet aggregate: a balance that moves only by recorded events.

Every movement names the operation it belongs to (a deposit or a transfer), so
an auditor can pair each debit with its credit or its reversal. A refused
command raises before recording anything; the saga records a refusal it must
report with ``decline_debit`` or ``decline_credit``.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import (
    BalanceCapExceeded,
    CurrencyMismatch,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    WalletClosed,
    WalletFrozen,
    WalletNotEmpty,
)
from domain.ids import settlement_wallet_id, wallet_id_for
from domain.limits import DailyLimit
from domain.money import Money
from domain.snapshot import LedgerAggregate, exact_enum


@exact_enum
class WalletKind(StrEnum):
    USER = "USER"
    SETTLEMENT = "SETTLEMENT"  # the outside world; may go negative


class Wallet(LedgerAggregate):
    """One owner's balance in one currency."""

    class_version = 2  # snapshots of version 1 held ``kind`` as a bare string

    class Opened(Aggregate.Created):
        owner_id: UUID
        kind: str
        currency: str
        vpa: str | None
        balance_cap: int | None

    class Deposited(Aggregate.Event):
        deposit_id: UUID
        amount: int

    class DepositFunded(Aggregate.Event):
        deposit_id: UUID
        amount: int

    class Debited(Aggregate.Event):
        transfer_id: UUID
        amount: int
        counterparty_id: UUID
        day: str
        # The counterparty's credit, or its refusal, was recorded in the same commit.
        # Absent (False) in debits recorded before the saga credited in the same step.
        credit_decided: bool = False

    class Credited(Aggregate.Event):
        transfer_id: UUID
        amount: int
        counterparty_id: UUID

    class DebitReversed(Aggregate.Event):
        transfer_id: UUID
        amount: int
        day: str

    class DebitDeclined(Aggregate.Event):
        transfer_id: UUID
        reason: str

    class CreditDeclined(Aggregate.Event):
        transfer_id: UUID
        reason: str

    class Frozen(Aggregate.Event):
        reason: str

    class Unfrozen(Aggregate.Event):
        pass

    class Closed(Aggregate.Event):
        pass

    @staticmethod
    def upcast_v1_v2(state: dict[str, object]) -> None:
        """A version-1 snapshot wrote ``kind`` as text: give it back its type."""
        state["kind"] = WalletKind(str(state["kind"]))

    @staticmethod
    def create_id(owner_id: UUID, kind: str, currency: str) -> UUID:
        if kind == WalletKind.SETTLEMENT:
            return settlement_wallet_id(currency)
        return wallet_id_for(owner_id, currency)

    @event(Opened)
    def __init__(
        self,
        owner_id: UUID,
        kind: str,
        currency: str,
        vpa: str | None = None,
        balance_cap: int | None = None,
    ) -> None:
        self.owner_id = owner_id
        self.kind = WalletKind(kind)
        self.currency = currency
        self.vpa = vpa
        self.balance_cap = balance_cap
        self.balance_minor = 0
        self.is_frozen = False
        self.is_closed = False
        self.usage_day = ""  # the day sent_today and count_today are about
        self.sent_today = 0
        self.count_today = 0

    @classmethod
    def open_user_wallet(
        cls, owner_id: UUID, currency: str, vpa: str, balance_cap: Money | None
    ) -> Wallet:
        cap = None if balance_cap is None else balance_cap.minor
        return cls(owner_id, WalletKind.USER.value, currency, vpa=vpa, balance_cap=cap)

    @classmethod
    def open_settlement(cls, currency: str) -> Wallet:
        return cls(settlement_wallet_id(currency), WalletKind.SETTLEMENT.value, currency)

    @property
    def balance(self) -> Money:
        return Money(self.balance_minor, self.currency)

    @property
    def is_active(self) -> bool:
        return not (self.is_frozen or self.is_closed)

    @property
    def is_settlement(self) -> bool:
        """The outside world's account: the one wallet exempt from balance and daily
        limits. Every other wallet is held to them, whatever its ``kind`` reads."""
        return self.kind == WalletKind.SETTLEMENT

    # Money in and out ----------------------------------------------------------

    def deposit(self, deposit_id: UUID, amount: Money) -> None:
        """Credit money that arrived from outside (through the settlement account)."""
        self._require_receivable(amount)
        self._deposited(deposit_id=deposit_id, amount=amount.minor)

    @event(Deposited)
    def _deposited(self, deposit_id: UUID, amount: int) -> None:
        self.balance_minor += amount

    def fund_deposit(self, deposit_id: UUID, amount: Money) -> None:
        """The settlement side of a deposit: the outside world pays in."""
        self._require_amount(amount)
        self._deposit_funded(deposit_id=deposit_id, amount=amount.minor)

    @event(DepositFunded)
    def _deposit_funded(self, deposit_id: UUID, amount: int) -> None:
        self.balance_minor -= amount

    def debit(
        self,
        transfer_id: UUID,
        amount: Money,
        receiver_wallet_id: UUID,
        day: str,
        daily: DailyLimit | None = None,
        credit_decided: bool = False,
    ) -> None:
        """Take a transfer's amount out; it is in flight until credited or reversed.

        ``day`` is the transfer's own date (from its event timestamp), so a replay
        decides exactly as the first run did. ``credit_decided``: the caller records
        the receiver's credit, or its refusal, in the same commit as this debit.
        """
        self._require_open()
        self._require_amount(amount)
        if not self.is_settlement:
            if self.balance_minor < amount.minor:
                raise InsufficientFunds(f"balance {self.balance} is less than {amount}")
            if daily is not None:
                self.check_daily_allowance(amount, day, daily)
        self._debited(
            transfer_id=transfer_id,
            amount=amount.minor,
            counterparty_id=receiver_wallet_id,
            day=day,
            credit_decided=credit_decided,
        )

    def check_daily_allowance(self, amount: Money, day: str, daily: DailyLimit) -> None:
        """Raise DailyLimitExceeded if sending ``amount`` on ``day`` breaks a daily limit."""
        sent, count = (self.sent_today, self.count_today) if day == self.usage_day else (0, 0)
        if count + 1 > daily.max_count:
            raise DailyLimitExceeded(f"daily limit of {daily.max_count} transfers reached")
        if sent + amount.minor > daily.max_amount:
            limit = Money(daily.max_amount, self.currency)
            raise DailyLimitExceeded(f"daily sending limit of {limit} would be exceeded")

    @event(Debited)
    def _debited(
        self, transfer_id: UUID, amount: int, counterparty_id: UUID, day: str, credit_decided: bool
    ) -> None:
        self.balance_minor -= amount
        if day != self.usage_day:
            self.usage_day, self.sent_today, self.count_today = day, 0, 0
        self.sent_today += amount
        self.count_today += 1

    def credit(self, transfer_id: UUID, amount: Money, sender_wallet_id: UUID) -> None:
        """Receive a transfer's in-flight amount."""
        self._require_receivable(amount)
        self._credited(
            transfer_id=transfer_id,
            amount=amount.minor,
            counterparty_id=sender_wallet_id,
        )

    @event(Credited)
    def _credited(self, transfer_id: UUID, amount: int, counterparty_id: UUID) -> None:
        self.balance_minor += amount

    def reverse_debit(self, transfer_id: UUID, amount: Money, day: str) -> None:
        """The compensation: give a failed transfer's debit back.

        Never refused for being frozen, closed or over the cap: the money was
        this wallet's a moment ago and has nowhere else to go. The day's sending
        allowance is given back too.
        """
        self._require_amount(amount)
        self._debit_reversed(transfer_id=transfer_id, amount=amount.minor, day=day)

    @event(DebitReversed)
    def _debit_reversed(self, transfer_id: UUID, amount: int, day: str) -> None:
        self.balance_minor += amount
        if day == self.usage_day:
            self.sent_today -= amount
            self.count_today -= 1

    @event(DebitDeclined)
    def decline_debit(self, transfer_id: UUID, reason: str) -> None:
        """Record that a transfer's debit was refused; the balance does not move."""

    @event(CreditDeclined)
    def decline_credit(self, transfer_id: UUID, reason: str) -> None:
        """Record that a transfer's credit was refused; the balance does not move."""

    # Lifecycle -------------------------------------------------------------------

    @event(Frozen)
    def freeze(self, reason: str) -> None:
        self.is_frozen = True

    @event(Unfrozen)
    def unfreeze(self) -> None:
        self.is_frozen = False

    def close(self) -> None:
        if self.balance_minor != 0:
            raise WalletNotEmpty(f"wallet still holds {self.balance}")
        self._closed()

    @event(Closed)
    def _closed(self) -> None:
        self.is_closed = True

    # Guards ----------------------------------------------------------------------

    def _require_amount(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(f"wallet holds {self.currency}, not {amount.currency}")
        if not amount.is_positive:
            raise InvalidAmount(f"amount must be positive, not {amount}")

    def _require_open(self) -> None:
        if self.is_closed:
            raise WalletClosed("wallet is closed")
        if self.is_frozen:
            raise WalletFrozen("wallet is frozen")

    def _require_receivable(self, amount: Money) -> None:
        self._require_open()
        self._require_amount(amount)
        cap = self.balance_cap
        if cap is not None and self.balance_minor + amount.minor > cap:
            raise BalanceCapExceeded(f"balance would exceed the cap of {Money(cap, self.currency)}")
