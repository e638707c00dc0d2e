"""The Wallets application: deposits, and the saga's debit, credit and refund steps."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import EnvType

from application.base import SNAPSHOT_INTERVAL, LedgerProcess, cached_in, retry_on_conflict
from application.events import WALLET_STEPS
from application.policy import CreditFaults, Limits
from domain.deposit import Deposit
from domain.errors import IdempotencyConflict, PayFlowError, WalletNotFound
from domain.ids import settlement_wallet_id, wallet_id_for
from domain.money import Money
from domain.transfer import Transfer, day_of
from domain.wallet import Wallet


@dataclass(frozen=True)
class DepositReceipt:
    """What a deposit did; ``replayed`` when an idempotency key matched an earlier one."""

    deposit: Deposit
    replayed: bool


class Wallets(LedgerProcess):
    """Owns every wallet; the only place a balance changes."""

    name = "Wallets"
    snapshotting_intervals = {Wallet: SNAPSHOT_INTERVAL, Deposit: SNAPSHOT_INTERVAL}
    topics = WALLET_STEPS.topics
    # Every wallet is this application's, so a transfer's credit is made in its debit's
    # commit. False: the credit is a step of its own, after Transfer.Debited, as it is
    # for transfers debited before the two were made together (and would be for a
    # receiver whose wallet another partition holds).
    credit_with_debit = True

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        limits: Limits | None = None,
        faults: CreditFaults | None = None,
        snapshot_interval: int = SNAPSHOT_INTERVAL,
    ) -> None:
        super().__init__(env, snapshot_interval=snapshot_interval)
        self.limits = limits or Limits()
        self.faults = faults or CreditFaults()

    # Use cases -------------------------------------------------------------------

    def open_user_wallet(self, user_id: UUID, vpa: str, currency: str) -> Wallet:
        """Open the user's wallet, or return it if it is already open."""
        wallet_id = wallet_id_for(user_id, currency)
        try:
            return self.get_wallet(wallet_id)
        except WalletNotFound:
            pass
        wallet = Wallet.open_user_wallet(user_id, currency, vpa, self.limits.balance_cap)
        try:
            self.save(wallet)
        except IntegrityError:
            return self.get_wallet(wallet_id)  # opened concurrently: same wallet
        return wallet

    def get_wallet(self, wallet_id: UUID) -> Wallet:
        try:
            wallet: Wallet = self.repository.get(wallet_id)
        except AggregateNotFoundError:
            raise WalletNotFound(f"no wallet {wallet_id}") from None
        return wallet

    def cached_wallet(self, wallet_id: UUID) -> Wallet | None:
        """The wallet as this process holds it, if it does (where it writes wallets
        alone, that is the store's): no store is asked. Not to be changed."""
        cached: Wallet | None = cached_in(self.repository.cache, wallet_id)
        return cached

    def known_wallet(self, wallet_id: UUID) -> Wallet:
        """The wallet as this process last saw it, else as stored: enough for what
        never changes once a wallet is open (its id, owner and currency), without
        asking the store whether it has moved on since. Not to be changed."""
        cached = self.cached_wallet(wallet_id)
        return self.get_wallet(wallet_id) if cached is None else cached

    def deposit(
        self, user_id: UUID, amount: Money, idempotency_key: str | None = None
    ) -> DepositReceipt:
        """Pay money in through the settlement account, exactly once per key: a key
        already used is answered with its deposit before any limit is checked."""
        wallet_id = wallet_id_for(user_id, amount.currency)
        deposit_id = Deposit.create_id(user_id, idempotency_key)

        def attempt() -> DepositReceipt:
            earlier = self.earlier_deposit(user_id, amount, idempotency_key)
            if earlier is not None:
                return earlier
            self.limits.check_deposit(amount)
            wallet = self.get_wallet(wallet_id)
            settlement = self._settlement(amount.currency)
            wallet.deposit(deposit_id, amount)
            settlement.fund_deposit(deposit_id, amount)
            record = Deposit(
                user_id=user_id,
                wallet_id=wallet_id,
                amount=amount.minor,
                currency=amount.currency,
                idempotency_key=idempotency_key,
                balance_after=wallet.balance_minor,
            )
            self.save(wallet, settlement, record)
            return DepositReceipt(record, replayed=False)

        return retry_on_conflict(attempt)

    def earlier_deposit(
        self, user_id: UUID, amount: Money, key: str | None
    ) -> DepositReceipt | None:
        """The deposit made under this key, or None; IdempotencyConflict if it was
        for another amount or currency."""
        if key is None:
            return None
        wallet_id = wallet_id_for(user_id, amount.currency)
        try:
            earlier: Deposit = self.repository.get(Deposit.create_id(user_id, key))
        except AggregateNotFoundError:
            return None
        if earlier.wallet_id != wallet_id or earlier.amount != amount:
            raise IdempotencyConflict(f"idempotency key {key!r} was used for a different deposit")
        return DepositReceipt(earlier, replayed=True)

    def balance_at(self, wallet_id: UUID, moment: datetime) -> Money:
        """The balance as it stood at ``moment``, rebuilt from the wallet's events."""
        wallet: Wallet | None = None
        events: Iterable[Any] = self.events.get(wallet_id)
        for event in events:
            if event.timestamp > moment:
                break
            wallet = event.mutate(wallet)
        if wallet is None:
            raise WalletNotFound(f"wallet {wallet_id} did not exist at {moment.isoformat()}")
        return wallet.balance

    def freeze_wallet(self, wallet_id: UUID, reason: str) -> Wallet:
        return self._change(wallet_id, lambda wallet: wallet.freeze(reason))

    def unfreeze_wallet(self, wallet_id: UUID) -> Wallet:
        return self._change(wallet_id, lambda wallet: wallet.unfreeze())

    def close_wallet(self, wallet_id: UUID) -> Wallet:
        return self._change(wallet_id, lambda wallet: wallet.close())

    # Saga steps ------------------------------------------------------------------

    @singledispatchmethod
    def policy(self, domain_event: Any, processing_event: ProcessingEvent[UUID]) -> None:
        """Events of other kinds need no step here."""

    def page_loads(self, domain_event: Any) -> tuple[UUID, ...]:
        if isinstance(domain_event, Transfer.Initiated):
            if not self.credit_with_debit:
                return (domain_event.sender_wallet_id,)
            return (domain_event.sender_wallet_id, domain_event.receiver_wallet_id)
        if isinstance(domain_event, Transfer.RefundRequested):
            return (domain_event.sender_wallet_id,)
        if isinstance(domain_event, Transfer.Debited) and not domain_event.credit_decided:
            return (domain_event.receiver_wallet_id,)
        return ()

    @policy.register
    def _debit(self, event: Transfer.Initiated, step: ProcessingEvent[UUID]) -> None:
        """Debit the sender and (``credit_with_debit``), in the same commit, credit the
        receiver or record why not: the transfer's money moves in one step, and its
        credit step (``Transfer.Debited``) then has nothing left to do."""
        sender: Wallet = self.load(event.sender_wallet_id, step)
        amount = Money(event.amount, event.currency)
        day = day_of(event.timestamp)
        with_credit = self.credit_with_debit
        try:
            sender.debit(
                event.originator_id,
                amount,
                event.receiver_wallet_id,
                day,
                self.limits.daily,
                credit_decided=with_credit,
            )
        except PayFlowError as refusal:
            sender.decline_debit(event.originator_id, reason=describe(refusal))
            with_credit = False
        step.collect_events(sender)  # the debit comes first in the log
        if with_credit:
            self._credit_receiver(event.receiver_wallet_id, amount, event, step)

    @policy.register
    def _credit(self, event: Transfer.Debited, step: ProcessingEvent[UUID]) -> None:
        """The credit step of a transfer debited without its credit (before the two
        were made together, or by a writer that could not make them together)."""
        if event.credit_decided:
            return
        amount = Money(event.amount, event.currency)
        self._credit_receiver(event.receiver_wallet_id, amount, event, step)

    def _credit_receiver(
        self,
        receiver_id: UUID,
        amount: Money,
        event: Transfer.Initiated | Transfer.Debited,
        step: ProcessingEvent[UUID],
    ) -> None:
        receiver: Wallet = self.load(receiver_id, step)
        transfer_id = event.originator_id
        injected = self.faults.failure_for(transfer_id)
        try:
            if injected:
                receiver.decline_credit(transfer_id, reason=injected)
            else:
                receiver.credit(transfer_id, amount, event.sender_wallet_id)
        except PayFlowError as refusal:
            receiver.decline_credit(transfer_id, reason=describe(refusal))
        step.collect_events(receiver)

    @policy.register
    def _refund(self, event: Transfer.RefundRequested, step: ProcessingEvent[UUID]) -> None:
        sender: Wallet = self.load(event.sender_wallet_id, step)
        amount = Money(event.amount, event.currency)
        sender.reverse_debit(event.originator_id, amount, event.day)
        step.collect_events(sender)

    # Helpers ---------------------------------------------------------------------

    def _settlement(self, currency: str) -> Wallet:
        try:
            settlement: Wallet = self.repository.get(settlement_wallet_id(currency))
        except AggregateNotFoundError:
            return Wallet.open_settlement(currency)  # saved with the first deposit
        return settlement

    def _change(self, wallet_id: UUID, command: Any) -> Wallet:
        def attempt() -> Wallet:
            wallet = self.get_wallet(wallet_id)
            command(wallet)
            self.save(wallet)
            return wallet

        return retry_on_conflict(attempt)


def describe(refusal: PayFlowError) -> str:
    """A failure reason a person can read: ``Insufficient funds: balance ...``."""
    words = re.sub(r"(?<!^)([A-Z])", r" \1", type(refusal).__name__).capitalize()
    return f"{words}: {refusal}"
