"""The ledger as a running system: the applications, wired, and the saga's workers.

``Wallets`` follows ``Transfers`` and ``Transfers`` follows ``Wallets``. In one
process a commit wakes the follower at once; polling at ``poll_interval`` is
only the safety net (for commits made by other processes, or a lost wake-up).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from application.accounts import Accounts
from application.base import SNAPSHOT_INTERVAL, LedgerProcess, Wakeup
from application.policy import CreditFaults, Limits
from application.transfers import Transfers
from application.wallets import Wallets
from application.webhooks import WebhookRules, Webhooks
from domain.transfer import Transfer

log = logging.getLogger(__name__)

EnvFor = Callable[[str], Mapping[str, str]]


@dataclass
class Ledger:
    """The applications of one deployment: the saga's two follow each other, and
    Webhooks follows Transfers to schedule what the parties are told."""

    accounts: Accounts
    wallets: Wallets
    transfers: Transfers
    webhooks: Webhooks

    @classmethod
    def build(
        cls,
        env_for: EnvFor,
        limits: Limits | None = None,
        faults: CreditFaults | None = None,
        webhook_rules: WebhookRules | None = None,
        snapshot_interval: int = SNAPSHOT_INTERVAL,
    ) -> Ledger:
        """Construct the applications on the stores ``env_for(app_name)`` describes;
        each snapshots its aggregates every ``snapshot_interval`` events."""
        every = snapshot_interval
        accounts = Accounts(env=env_for(Accounts.name), snapshot_interval=every)
        wallets = Wallets(
            env=env_for(Wallets.name), limits=limits, faults=faults, snapshot_interval=every
        )
        transfers = Transfers(env=env_for(Transfers.name), snapshot_interval=every)

        def transfer_at(transfer_id: UUID, version: int | None) -> Transfer:
            transfer: Transfer = transfers.repository.get(transfer_id, version=version)
            return transfer

        webhooks = Webhooks(
            env=env_for(Webhooks.name),
            transfer_at=transfer_at,
            rules=webhook_rules,
            snapshot_interval=every,
        )
        wallets.follow(transfers.name, transfers.notification_log)
        transfers.follow(wallets.name, wallets.notification_log)
        webhooks.follow(transfers.name, transfers.notification_log)
        return cls(accounts, wallets, transfers, webhooks)

    @property
    def followers(self) -> list[tuple[LedgerProcess, LedgerProcess]]:
        """(follower, leader) pairs: each saga step is one follower processing."""
        return [(self.wallets, self.transfers), (self.transfers, self.wallets)]

    @property
    def notifiers(self) -> list[tuple[LedgerProcess, LedgerProcess]]:
        """(follower, leader) pairs of the webhook dispatcher's side."""
        return [(self.webhooks, self.transfers)]

    def positions(self) -> tuple[int, int]:
        """How far each follower has processed its leader's log."""
        return (
            self.wallets.recorder.max_tracking_id(self.transfers.name) or 0,
            self.transfers.recorder.max_tracking_id(self.wallets.name) or 0,
        )

    def drain(self) -> None:
        """Run every pending saga step in this thread until nothing is left to do."""
        while True:
            before = self.positions()
            for follower, leader in self.followers:
                follower.pull_and_process(leader.name)
            if self.positions() == before:
                return

    def close(self) -> None:
        for app in (self.accounts, self.wallets, self.transfers, self.webhooks):
            app.close()


@dataclass
class SagaRunner:
    """Threads that keep the saga moving until stopped."""

    ledger: Ledger
    poll_interval: float = 1.0
    pairs: list[tuple[LedgerProcess, LedgerProcess]] | None = None  # default: the saga's
    gather: float = 0.0  # seconds to let commits gather after a wake-up, to take them in one pull
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _wakes: list[threading.Event] = field(default_factory=list)

    @property
    def followers(self) -> list[tuple[LedgerProcess, LedgerProcess]]:
        return self.ledger.followers if self.pairs is None else self.pairs

    def start(self) -> None:
        for follower, leader in self.followers:
            wake = threading.Event()
            self._wakes.append(wake)
            leader.lead(Wakeup(wake.set))
            thread = threading.Thread(
                target=self._follow,
                args=(follower, leader, wake),
                name=f"saga-{follower.name.lower()}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def wake(self, leader_name: str) -> None:
        """Another process committed to ``leader_name``'s log: look now, not at the next poll."""
        for (_, leader), wake in zip(self.followers, self._wakes, strict=False):
            if leader.name == leader_name:
                wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Let each worker finish the step it is in, then return."""
        self._stopping.set()
        for wake in self._wakes:
            wake.set()
        for thread in self._threads:
            thread.join(timeout)

    def _follow(
        self, follower: LedgerProcess, leader: LedgerProcess, wake: threading.Event
    ) -> None:
        while not self._stopping.is_set():
            try:
                follower.pull_and_process(leader.name)
            except Exception:
                log.exception("saga step failed in %s; will retry", follower.name)
            if wake.wait(self.poll_interval) and self.gather:
                self._stopping.wait(self.gather)
            wake.clear()
