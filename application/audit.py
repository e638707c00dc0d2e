"""The auditor's replay: recompute every balance from the events and check the invariants.

It trusts nothing but the two event logs. Walking the Wallets log in order, it
keeps each balance and each transfer's in-flight amount, and checks after every
event that no user wallet is below zero and no transfer has paid out more than
was debited. It then checks each transfer's steps and in-flight amount against
its final status, each deposit's two legs, and that all balances and in-flight
money sum to zero. See docs/architecture.md, "Invariants". Each event costs O(1).

Last, every wallet that has a snapshot is loaded as the saga loads it (from its
latest snapshot, then the events after it) and compared, attribute by attribute
and type by type, with a replay of its events alone: a snapshot that does not
give back exactly what it took is a violation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.snapshot import state_differences
from domain.transfer import Transfer, TransferStatus
from domain.wallet import Wallet, WalletKind

PAGE = 500
DEBIT, CREDIT, REVERSAL = "debit", "credit", "reversal"


@dataclass
class AuditReport:
    """What the replay found: recomputed balances, in-flight money, and violations."""

    balances: dict[UUID, int] = field(default_factory=dict)
    in_flight: dict[UUID, int] = field(default_factory=dict)
    statuses: dict[UUID, TransferStatus] = field(default_factory=dict)
    steps: dict[UUID, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    refunded: set[UUID] = field(default_factory=set)
    deposits_open: Counter[UUID] = field(default_factory=Counter)
    kinds: dict[UUID, WalletKind] = field(default_factory=dict)
    versions: dict[UUID, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    events_replayed: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def user_total(self) -> int:
        """Money held by user wallets (the rest of the balances is the settlement side)."""
        return sum(b for w, b in self.balances.items() if self.kinds[w] == WalletKind.USER)


def events_of(app: Application[UUID], stop: int | None = None) -> Iterator[tuple[int, Any]]:
    """The domain events of an application, with their positions, in log order, up to
    and including position ``stop`` (to the end when None)."""
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE, stop=stop)
        for notification in page:
            yield notification.id, app.mapper.to_domain_event(notification)
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


Progress = Callable[[int], None]


def audit(
    wallets: Application[UUID],
    transfers: Application[UUID],
    settled: bool,
    upto: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Replay both logs (each up to its position in ``upto``, if given); with
    ``settled``, every transfer must also have finished. ``progress`` is told how
    many events each page replayed."""
    report = AuditReport()
    kinds = report.kinds
    limits = upto or {}
    for position, event in events_of(wallets, limits.get(wallets.name)):
        report.events_replayed += 1
        _tick(progress, report)
        _apply_wallet_event(report, kinds, position, event)
    for _, event in events_of(transfers, limits.get(transfers.name)):
        report.events_replayed += 1
        _tick(progress, report)
        if isinstance(event, Transfer.Initiated):
            report.statuses[event.originator_id] = TransferStatus.INITIATED
        if isinstance(event, Transfer.RefundRequested):
            report.refunded.add(event.originator_id)
        status = STATUS_AFTER.get(type(event))
        if status is not None:
            report.statuses[event.originator_id] = status
    _check_transfers(report, settled)
    for deposit_id, unmatched in report.deposits_open.items():
        if unmatched:
            report.violations.append(f"deposit {deposit_id}: legs differ by {unmatched}")
    report.violations.extend(compare_snapshots(report, wallets))
    return report


def _tick(progress: Progress | None, report: AuditReport) -> None:
    if progress is not None and report.events_replayed % PAGE == 0:
        progress(PAGE)


def compare_balances(report: AuditReport, wallets: Application[UUID]) -> list[str]:
    """Differences between the replayed balances and the wallets as the app loads them."""
    differences = []
    for wallet_id, replayed in report.balances.items():
        loaded: Wallet = wallets.repository.get(wallet_id)
        if loaded.balance_minor != replayed:
            differences.append(
                f"wallet {wallet_id}: replay gives {replayed}, loaded wallet has "
                f"{loaded.balance_minor}"
            )
    return differences


def compare_snapshots(report: AuditReport, wallets: Application[UUID]) -> list[str]:
    """Wallets that load from a snapshot into a state other than their replay gives."""
    if wallets.snapshots is None:
        return []
    differences = []
    for wallet_id, version in report.versions.items():
        if not list(wallets.snapshots.get(wallet_id, desc=True, limit=1, lte=version)):
            continue  # no snapshot: the wallet loads by replay, as the audit replayed it
        restored: Wallet = wallets.repository.get(wallet_id, version=version)
        replayed: Wallet | None = None
        events: Iterable[Any] = wallets.events.get(wallet_id, lte=version)
        for event in events:
            replayed = event.mutate(replayed)
        if differing := state_differences(replayed, restored):
            differences.append(
                f"wallet {wallet_id}: restored from its snapshot at version {version}, it "
                f"differs from its replay: {'; '.join(differing)}"
            )
    return differences


STATUS_AFTER: dict[type[Any], TransferStatus] = {
    Transfer.Debited: TransferStatus.DEBITED,
    Transfer.Credited: TransferStatus.CREDITED,
    Transfer.Completed: TransferStatus.COMPLETED,
    Transfer.RefundRequested: TransferStatus.REFUNDING,
    Transfer.Failed: TransferStatus.FAILED,
    Transfer.Refunded: TransferStatus.FAILED,
}


def _apply_wallet_event(
    report: AuditReport, kinds: dict[UUID, WalletKind], position: int, event: Any
) -> None:
    wallet_id = event.originator_id
    report.versions[wallet_id] = event.originator_version
    if isinstance(event, Wallet.Opened):
        kinds[wallet_id] = WalletKind(event.kind)
        report.balances[wallet_id] = 0
        return
    delta, step = _movement(event)
    if delta == 0:
        return
    report.balances[wallet_id] += delta
    if step is None:  # one leg of a deposit; its other leg is in the same commit
        report.deposits_open[event.deposit_id] -= delta
    else:
        transfer_id = event.transfer_id
        report.steps[transfer_id][step] += 1
        report.in_flight[transfer_id] = report.in_flight.get(transfer_id, 0) - delta
        if report.in_flight[transfer_id] < 0:
            report.violations.append(
                f"position {position}: transfer {transfer_id} paid out more than was debited"
            )
    if kinds[wallet_id] == WalletKind.USER and report.balances[wallet_id] < 0:
        report.violations.append(f"position {position}: wallet {wallet_id} went below zero")
    # Every movement is one side of a transfer or a deposit, so conservation at each
    # position comes down to: no transfer pays out more than was debited (checked
    # above), and at the end each deposit's legs and each finished transfer balance.


# What each wallet event moves: (signed amount, saga step or None for a deposit leg).
MOVEMENTS: dict[type[Any], Callable[[Any], tuple[int, str | None]]] = {
    Wallet.Deposited: lambda e: (e.amount, None),
    Wallet.DepositFunded: lambda e: (-e.amount, None),
    Wallet.Debited: lambda e: (-e.amount, DEBIT),
    Wallet.Credited: lambda e: (e.amount, CREDIT),
    Wallet.DebitReversed: lambda e: (e.amount, REVERSAL),
}


def _movement(event: Any) -> tuple[int, str | None]:
    """What the event moves; nothing for the events the audit knowingly ignores
    (``AUDIT_MOVEMENTS.ignores``: declines, freezes, deposit records)."""
    move = MOVEMENTS.get(type(event))
    return (0, None) if move is None else move(event)


def _check_transfers(report: AuditReport, settled: bool) -> None:
    for transfer_id, steps in report.steps.items():
        for step, count in steps.items():
            if count > 1:
                report.violations.append(f"transfer {transfer_id}: {step} happened {count} times")
    for transfer_id, status in report.statuses.items():
        steps = report.steps.get(transfer_id, Counter())
        expected = _expected_steps(status, transfer_id in report.refunded)
        if settled and not status.is_terminal:
            report.violations.append(f"transfer {transfer_id}: still {status}")
        elif expected is not None and Counter(expected) != steps:
            report.violations.append(
                f"transfer {transfer_id}: {status} but steps were {dict(steps)}"
            )
        elif status.is_terminal and report.in_flight.get(transfer_id, 0) != 0:
            report.violations.append(
                f"transfer {transfer_id}: {status} but {report.in_flight[transfer_id]} "
                "is still in flight (credited or refunded a different amount)"
            )
    total = sum(report.balances.values()) + sum(report.in_flight.values())
    if total != 0:
        report.violations.append(f"money not conserved: balances and in-flight sum to {total}")


def _expected_steps(status: TransferStatus, refunded: bool) -> list[str] | None:
    """The wallet steps a finished transfer must have had; None while it is running."""
    if status == TransferStatus.COMPLETED:
        return [DEBIT, CREDIT]
    if status == TransferStatus.FAILED:
        return [DEBIT, REVERSAL] if refunded else []
    return None
