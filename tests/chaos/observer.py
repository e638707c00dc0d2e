"""Reads a chaos deployment's stores directly, to tell when it has settled and to check
what must hold afterwards. It trusts no process of the deployment, only the logs."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from application.audit import AuditReport, audit, events_of
from application.saga import Ledger
from domain.transfer import Transfer, TransferStatus
from domain.wallet import Wallet
from domain.webhook import DeliveryStatus
from infrastructure.stores import env_for, read_store_env
from interfaces.ids import TRANSACTION, USER, public_id
from projections.runner import Projector
from projections.store import open_read_store
from tests.chaos.traffic import Traffic
from tests.conftest import make_settings

LOOK_EVERY = 0.2  # seconds between looks at the logs while waiting for the saga


@dataclass(frozen=True)
class Settled:
    seconds: float
    statuses: Counter[str]
    transfers: int


class Observer:
    """The deployment's logs and read models, opened from this (test) process."""

    def __init__(self, tmp_path: Path, schema: str) -> None:
        settings = make_settings("postgres", tmp_path / "observer", schema)
        self.ledger = Ledger.build(env_for(settings))
        self.projector = Projector(
            open_read_store(read_store_env(settings)),
            [self.ledger.transfers, self.ledger.wallets],
        )

    def close(self) -> None:
        self.projector.store.datastore.close()
        self.ledger.close()

    def report(self) -> AuditReport:
        return audit(self.ledger.wallets, self.ledger.transfers, settled=False)

    def settle(self, timeout: float) -> Settled:
        """Wait until every transfer has finished and the projector process has
        projected both logs to their ends; how long that took."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            report = self.report()
            finished = all(s.is_terminal for s in report.statuses.values())
            if finished and self.projector.positions() == self.projector.latest_positions():
                statuses = Counter(s.value for s in report.statuses.values())
                return Settled(time.monotonic() - started, statuses, len(report.statuses))
            if time.monotonic() > deadline:
                pending = Counter(s.value for s in report.statuses.values() if not s.is_terminal)
                raise AssertionError(
                    f"not settled after {timeout:.0f} s: {dict(pending)} unfinished; "
                    f"projected {self.projector.positions()} "
                    f"of {self.projector.latest_positions()}"
                )
            time.sleep(LOOK_EVERY)  # the saga runs in another process: look again

    def deliveries(self) -> dict[UUID, DeliveryStatus]:
        """Every webhook delivery the outbox holds, and where it stands."""
        owed = [e.originator_id for _, e in events_of(self.ledger.webhooks) if _scheduled(e)]
        return {d: self.ledger.webhooks.get_delivery(d).status for d in owed}

    def refunded(self) -> int:
        """How many transfers were debited, then refunded after their credit failed."""
        return len(self.report().refunded)

    def check_each_step_taken_once(self) -> None:
        """No transfer debited, credited or reversed twice, and each finished one has
        exactly the steps its status calls for."""
        steps: dict[UUID, Counter[str]] = {}
        for _, event in events_of(self.ledger.wallets):
            if isinstance(event, Wallet.Debited | Wallet.Credited | Wallet.DebitReversed):
                steps.setdefault(event.transfer_id, Counter())[type(event).__name__] += 1
        report = self.report()
        for transfer_id, status in report.statuses.items():
            taken = steps.get(transfer_id, Counter())
            assert max(taken.values(), default=0) <= 1, f"{transfer_id} stepped twice: {taken}"
            if status is TransferStatus.COMPLETED:
                assert taken == Counter({"Debited": 1, "Credited": 1}), (transfer_id, taken)
            else:
                assert status is TransferStatus.FAILED, (transfer_id, status)
                assert taken in (Counter(), Counter({"Debited": 1, "DebitReversed": 1})), (
                    transfer_id,
                    taken,
                )
        assert not steps.keys() - report.statuses.keys(), "steps for unknown transfers"

    def check_one_transfer_per_key(self, traffic: Traffic) -> None:
        """Every key names one transfer, the same one in every answer and in the log;
        no transfer in the log came from anything the clients did not send."""
        by_key: dict[tuple[str, str], list[str]] = {}
        for _, event in events_of(self.ledger.transfers):
            if isinstance(event, Transfer.Initiated):
                key = (public_id(USER, event.sender_id), str(event.idempotency_key))
                by_key.setdefault(key, []).append(public_id(TRANSACTION, event.originator_id))
        twice = {key: ids for key, ids in by_key.items() if len(ids) > 1}
        assert not twice, f"keys that made two transfers: {twice}"
        assert by_key.keys() <= traffic.keys, "transfers nobody asked for"
        for key, answered in traffic.acknowledged.items():
            assert len(answered) == 1, f"{key} was answered with {answered}"
            assert answered == set(by_key.get(key, [])), f"{key}: {answered} not in the log"


def _scheduled(event: object) -> bool:
    return type(event).__qualname__ == "Delivery.Scheduled"
