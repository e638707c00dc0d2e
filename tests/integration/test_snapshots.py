"""Wallets restored from their snapshots obey every rule a replayed wallet obeys.

A wallet's 100th event makes it snapshot; every later load starts from that
snapshot. These tests reach that state the ways production does: after a
restart, and with the snapshot written by one process (an API) and loaded by
another (the saga), on the stores that outlive their processes.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.utils import get_topic

from application.audit import audit
from application.saga import Ledger
from application.service import PayFlow
from domain.errors import DailyLimitExceeded
from domain.money import Money
from domain.transfer import TransferStatus
from domain.wallet import Wallet, WalletKind
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.support.saga import checked_audit, payflow_on

ONE_RUPEE = Money(100)
LAKH = Money(100_000_00)


def build(settings: Settings) -> Ledger:
    return Ledger.build(env_for(settings), snapshot_interval=settings.snapshot_interval)


def two_users(payflow: PayFlow) -> tuple[UUID, UUID]:
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    return asha, ravi


def reach_the_snapshot(payflow: PayFlow, user_id: UUID) -> Wallet:
    """Opened + 99 deposits: version 100, so the wallet has just been snapshotted."""
    for _ in range(99):
        payflow.deposit(user_id, ONE_RUPEE)
    wallet = payflow.wallet_of(user_id)
    assert wallet.version == 100
    return wallet


def latest_snapshot_version(ledger: Ledger, wallet_id: UUID) -> int:
    assert ledger.wallets.snapshots is not None
    (snapshot,) = ledger.wallets.snapshots.get(wallet_id, desc=True, limit=1)
    return snapshot.originator_version


def test_a_wallet_restored_from_its_snapshot_after_a_restart_cannot_be_overdrawn(
    persistent_settings: Settings,
) -> None:
    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    asha, ravi = two_users(payflow)
    wallet_id = reach_the_snapshot(payflow, asha).id
    assert latest_snapshot_version(ledger, wallet_id) == 100
    ledger.close()

    ledger = build(persistent_settings)  # the restart: every load starts at the snapshot
    payflow = payflow_on(ledger)
    restored = payflow.wallet_of(asha)
    assert restored.kind is WalletKind.USER
    sent = payflow.send(asha, LAKH, receiver_id=ravi)
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.FAILED
    assert "Insufficient funds" in str(transfer.failure_reason)
    assert payflow.wallet_of(asha).balance == Money(99_00)
    assert payflow.wallet_of(ravi).balance == Money(0)
    assert checked_audit(ledger).violations == []
    ledger.close()


def test_concurrent_transfers_from_a_wallet_another_process_snapshotted_cannot_overdraw_it(
    persistent_settings: Settings,
) -> None:
    api, saga = build(persistent_settings), build(persistent_settings)
    try:
        payflow = payflow_on(api)
        asha, ravi = two_users(payflow)
        reach_the_snapshot(payflow, asha)  # the API process wrote the snapshot

        with ThreadPoolExecutor(12) as pool:
            sends = [pool.submit(payflow.send, asha, LAKH, receiver_id=ravi) for _ in range(12)]
            sent = [future.result() for future in sends]
        saga.drain()  # the saga process loads the sender from that snapshot

        statuses = {saga.transfers.get_transfer(s.transfer.id).status for s in sent}
        assert statuses == {TransferStatus.FAILED}
        assert saga.wallets.get_wallet(payflow.wallet_of(asha).id).balance == Money(99_00)
        assert checked_audit(saga).violations == []
    finally:
        api.close()
        saga.close()


def test_the_daily_limits_hold_for_a_wallet_restored_from_its_snapshot(
    persistent_settings: Settings,
) -> None:
    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    asha, ravi = two_users(payflow)
    for _ in range(97):
        payflow.deposit(asha, ONE_RUPEE)
    payflow.deposit(asha, LAKH)
    payflow.deposit(asha, LAKH)  # version 100: snapshotted, holding 2,00,097.00
    ledger.close()

    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    first = payflow.send(asha, LAKH, receiver_id=ravi)
    second = payflow.send(asha, ONE_RUPEE, receiver_id=ravi)  # accepted: nothing debited yet
    ledger.drain()  # the wallet itself refuses the second debit

    assert ledger.transfers.get_transfer(first.transfer.id).status is TransferStatus.COMPLETED
    refused = ledger.transfers.get_transfer(second.transfer.id)
    assert refused.status is TransferStatus.FAILED
    assert "Daily limit exceeded" in str(refused.failure_reason)
    with pytest.raises(DailyLimitExceeded):  # and the next one is refused at once
        payflow.send(asha, ONE_RUPEE, receiver_id=ravi)
    assert payflow.wallet_of(asha).balance == Money(100_097_00)
    ledger.close()


def test_a_snapshot_written_before_kinds_kept_their_type_still_loads_a_user_wallet(
    persistent_settings: Settings,
) -> None:
    """Snapshots of wallet version 1 hold ``kind`` as bare text; they upcast on load."""
    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    asha, ravi = two_users(payflow)
    payflow.deposit(asha, ONE_RUPEE)
    wallet = payflow.wallet_of(asha)
    state = {k: v for k, v in vars(wallet).items() if k not in ("_id", "_version")}
    state = state | {"kind": "USER"}
    del state["_pending_events"]
    legacy = Snapshot(
        originator_id=wallet.id,
        originator_version=wallet.version,
        timestamp=datetime.now(UTC),
        topic=get_topic(Wallet),
        state=state,
    )
    assert ledger.wallets.snapshots is not None
    ledger.wallets.snapshots.put([legacy])
    ledger.close()

    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    assert payflow.wallet_of(asha).kind is WalletKind.USER
    sent = payflow.send(asha, Money(5_00), receiver_id=ravi)
    ledger.drain()
    assert ledger.transfers.get_transfer(sent.transfer.id).status is TransferStatus.FAILED
    assert audit(ledger.wallets, ledger.transfers, settled=True).violations == []
    ledger.close()


def test_the_audit_flags_a_wallet_whose_snapshot_differs_from_its_replay(
    persistent_settings: Settings,
) -> None:
    ledger = build(persistent_settings)
    payflow = payflow_on(ledger)
    asha, _ = two_users(payflow)
    payflow.deposit(asha, ONE_RUPEE)
    wallet = payflow.wallet_of(asha)
    assert ledger.wallets.snapshots is not None
    doctored = Wallet.Snapshot.take(wallet)
    object.__setattr__(doctored, "state", doctored.state | {"is_frozen": True})
    ledger.wallets.snapshots.put([doctored])

    report = audit(ledger.wallets, ledger.transfers, settled=True)

    (violation,) = report.violations
    assert violation.startswith(f"wallet {wallet.id}: restored from its snapshot at version 2")
    assert "is_frozen: False (bool) != True (bool)" in violation
    ledger.close()


def test_every_aggregate_type_snapshots_at_the_configured_interval(
    persistent_settings: Settings,
) -> None:
    settings = dataclasses.replace(persistent_settings, snapshot_interval=2)
    ledger = build(settings)
    payflow = payflow_on(ledger)
    asha, ravi = two_users(payflow)
    payflow.deposit(asha, Money(50_00))
    sent = payflow.send(asha, Money(10_00), receiver_id=ravi)
    ledger.drain()

    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.COMPLETED
    assert ledger.transfers.snapshots is not None
    versions = [s.originator_version for s in ledger.transfers.snapshots.get(transfer.id)]
    # Debited, credited and completed in one commit (versions 2 to 4): one snapshot, of
    # the transfer as that commit left it.
    assert versions == [4]
    assert latest_snapshot_version(ledger, payflow.wallet_of(asha).id) == 2
    assert checked_audit(ledger).violations == []
    ledger.close()
