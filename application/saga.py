"""The ledger as a system: the applications, wired to follow each other.

``Wallets`` follows ``Transfers`` and ``Transfers`` follows ``Wallets``; Webhooks
follows Transfers. The threads that keep them moving are follower loops
(``infrastructure/followers.py``); ``drain`` takes every pending step in the
calling thread instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

from application.accounts import Accounts
from application.base import SNAPSHOT_INTERVAL, LedgerProcess
from application.policy import CreditFaults, Limits
from application.transfers import Transfers
from application.wallets import Wallets
from application.webhooks import WebhookRules, Webhooks
from domain.transfer import Transfer

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
        wallets.follow_leader(transfers)
        transfers.follow_leader(wallets)
        webhooks.follow_leader(transfers)
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
        # The transfers still queued are checked against the other applications:
        # commit them before those close.
        self.transfers.initiations.close()
        for app in (self.accounts, self.wallets, self.transfers, self.webhooks):
            app.close()
