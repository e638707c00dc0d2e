"""``folded``: a page's changes to one transfer's row become one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from domain.transfer import Transfer
from domain.wallet import Wallet
from projections.projector import TRANSFER_INSERT, folded, writes_for
from projections.store import Write

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(cls: type[Any], originator: Any, version: int, **fields: Any) -> Any:
    return cls(
        originator_id=originator,
        originator_version=version,
        timestamp=T0 + timedelta(seconds=version),
        **fields,
    )


def writes(*events: Any) -> list[Write]:
    return [w for position, e in enumerate(events, start=1) for w in writes_for(e, position)]


def initiated(transfer: Any) -> Any:
    return event(
        Transfer.Initiated,
        transfer,
        1,
        sender_id=uuid4(),
        receiver_id=uuid4(),
        sender_wallet_id=uuid4(),
        receiver_wallet_id=uuid4(),
        amount=500,
        currency="INR",
        description="rent",
        idempotency_key=None,
        originator_topic="domain.transfer:Transfer",
    )


def debited(transfer: Any) -> Any:
    money = {"amount": 500, "currency": "INR"}
    return event(
        Transfer.Debited, transfer, 2, receiver_wallet_id=uuid4(), sender_wallet_id=uuid4(), **money
    )


def test_a_transfer_taken_to_completed_in_one_page_is_one_insert_of_its_last_state() -> None:
    transfer = uuid4()
    (write,) = folded(
        writes(
            initiated(transfer),
            debited(transfer),
            event(Transfer.Credited, transfer, 3),
            event(Transfer.Completed, transfer, 4),
        )
    )
    assert write.sql == TRANSFER_INSERT
    assert write.params["status"] == "COMPLETED"
    assert write.params["position"] == 4
    assert write.params["at"] == "2026-01-02T03:04:06.000000Z"  # initiated_at stays
    assert write.params["updated_at"] == write.params["completed_at"]
    assert write.params["completed_at"] == "2026-01-02T03:04:09.000000Z"


def test_status_changes_without_their_insert_fold_into_one_update_of_every_column() -> None:
    transfer = uuid4()
    (write,) = folded(
        writes(
            event(
                Transfer.RefundRequested,
                transfer,
                3,
                reason="receiver frozen",
                sender_wallet_id=uuid4(),
                amount=500,
                currency="INR",
                day="2026-01-02",
            ),
            event(Transfer.Refunded, transfer, 4, reason="receiver frozen"),
        )
    )
    assert write.sql.startswith("UPDATE {t}transfers SET status = :status")
    assert ":failure_reason" in write.sql
    assert ":completed_at" in write.sql
    assert write.params["status"] == "FAILED"
    assert write.params["failure_reason"] == "Refunded: receiver frozen"  # the later one
    assert write.params["position"] == 2


def test_other_writes_keep_their_order_and_other_transfers_their_rows() -> None:
    first, second, wallet = uuid4(), uuid4(), uuid4()
    page = writes(
        initiated(first),
        initiated(second),
        event(Wallet.Frozen, wallet, 5, reason="review"),
        event(Transfer.Failed, second, 2, reason="insufficient balance"),
        debited(first),
    )
    out = folded(page)
    assert len(out) == 3
    assert [w.params.get("transfer_id") for w in out] == [first.hex, second.hex, None]
    assert out[0].params["status"] == "DEBITED"
    assert out[1].params["status"] == "FAILED"
    assert out[2] == page[2]  # the wallet's write, untouched
