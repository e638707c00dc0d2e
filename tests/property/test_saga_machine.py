"""Property test: whatever interleaving of deposits, transfers, freezes, injected
credit failures, partial saga progress and restarts, the five invariants hold
after every step, and every transfer finishes.

Every aggregate snapshots every 1 to 3 events, so nearly every load, by the API
or by the saga, before or after a restart, starts from a snapshot."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from application.policy import CreditFaults
from application.saga import Ledger
from application.service import PayFlow
from domain.errors import IdempotencyConflict, InsufficientFunds, SelfTransfer, WalletFrozen
from domain.money import Money
from infrastructure.stores import env_for
from tests.conftest import make_settings
from tests.support.saga import checked_audit, payflow_on, step_once

USERS = 4
paise = st.integers(min_value=1, max_value=50_000)
who = st.integers(min_value=0, max_value=USERS - 1)


class SagaMachine(RuleBasedStateMachine):
    """A small deployment on a real SQLite store, pushed around by hypothesis."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="payflow-machine-"))
        self.faults = CreditFaults()
        self.users: list[UUID] = []
        self.keyed: dict[str, tuple[int, int, int]] = {}
        self.transfers: set[UUID] = set()
        self.deposited = 0
        self.fail_next_credit = False

    def _build(self) -> Ledger:
        every = self.settings.snapshot_interval
        return Ledger.build(env_for(self.settings), faults=self.faults, snapshot_interval=every)

    @property
    def payflow(self) -> PayFlow:
        return payflow_on(self.ledger)

    @initialize(snapshot_every=st.integers(min_value=1, max_value=3))
    def register_users(self, snapshot_every: int) -> None:
        self.settings = make_settings(
            "sqlite",
            self.directory,
            PAYFLOW_SQLITE_SYNCHRONOUS="OFF",
            PAYFLOW_SNAPSHOT_INTERVAL=snapshot_every,
        )
        self.ledger = self._build()
        for n in range(USERS):
            user = self.payflow.register(f"User {n}", f"user{n}@example.com", "Passw0rd1")
            self.users.append(user.user.id)

    @rule(user=who, amount=paise)
    def deposit(self, user: int, amount: int) -> None:
        try:
            self.payflow.deposit(self.users[user], Money(amount))
        except WalletFrozen:
            assert self.payflow.wallet_of(self.users[user]).is_frozen
            return
        self.deposited += amount

    @rule(sender=who, receiver=who, amount=paise, key=st.none() | st.sampled_from("abc"))
    def transfer(self, sender: int, receiver: int, amount: int, key: str | None) -> None:
        try:
            sent = self.payflow.send(
                self.users[sender],
                Money(amount),
                receiver_id=self.users[receiver],
                idempotency_key=None if key is None else f"{sender}-{key}",
            )
        except SelfTransfer:
            assert sender == receiver
            return
        except IdempotencyConflict:
            assert self.keyed[f"{sender}-{key}"] != (sender, receiver, amount)
            return
        request = (sender, receiver, amount)
        if key is None:
            assert not sent.replayed
        elif f"{sender}-{key}" in self.keyed:
            assert self.keyed[f"{sender}-{key}"] == request
            assert sent.replayed
            assert sent.transfer.id in self.transfers
        else:
            assert not sent.replayed
            self.keyed[f"{sender}-{key}"] = request
        self.transfers.add(sent.transfer.id)
        if self.fail_next_credit and not sent.replayed:
            listed = self.faults.transfer_ids | {sent.transfer.id}
            self.faults.configure(enabled=True, transfer_ids=listed)
            self.fail_next_credit = False

    @rule()
    def inject_a_credit_failure_into_the_next_transfer(self) -> None:
        self.fail_next_credit = True

    @rule(user=who)
    def freeze(self, user: int) -> None:
        self.ledger.wallets.freeze_wallet(self.payflow.wallet_of(self.users[user]).id, "test")

    @rule(user=who)
    def unfreeze(self, user: int) -> None:
        self.ledger.wallets.unfreeze_wallet(self.payflow.wallet_of(self.users[user]).id)

    @rule(steps=st.integers(min_value=1, max_value=6))
    def run_some_saga_steps(self, steps: int) -> None:
        for _ in range(steps):
            if not step_once(self.ledger):
                return

    @rule()
    def restart_the_saga(self) -> None:
        self.ledger.close()
        self.ledger = self._build()

    @precondition(lambda self: bool(self.users))
    @rule(user=who, amount=paise)
    def a_debit_the_wallet_cannot_afford_is_refused(self, user: int, amount: int) -> None:
        wallet = self.payflow.wallet_of(self.users[user])
        if wallet.is_active and wallet.balance_minor < amount:
            try:
                wallet.debit(UUID(int=0), Money(amount), UUID(int=1), day="2026-11-27")
            except InsufficientFunds:
                return
            raise AssertionError("a user wallet was allowed below zero")

    @invariant()
    def the_replay_finds_no_violation(self) -> None:
        if self.users:
            assert checked_audit(self.ledger, settled=False).violations == []

    def teardown(self) -> None:
        if not hasattr(self, "ledger"):
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        try:
            if self.users:
                self.ledger.drain()
                report = checked_audit(self.ledger, settled=True)
                assert report.violations == []
                assert set(report.statuses) == self.transfers
                user_wallets = [self.payflow.wallet_of(u).balance_minor for u in self.users]
                assert sum(user_wallets) == self.deposited  # nothing in flight once settled
        finally:
            self.ledger.close()
            shutil.rmtree(self.directory, ignore_errors=True)


SagaMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSagaMachine = pytest.mark.timeout(600)(SagaMachine.TestCase)
