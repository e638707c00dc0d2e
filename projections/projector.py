"""Events to read-model rows: what each event of the three logs changes in the tables.

Pure translation: each function returns the statements for one event, and
``folded`` merges a page's changes to one transfer's row into one statement; the
runner commits a page of them with one tracking record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import singledispatch
from typing import Any

from domain.deposit import Deposit
from domain.transfer import Transfer, TransferStatus
from domain.wallet import Wallet
from domain.webhook import Delivery, DeliveryStatus, Webhook, WebhookBook
from projections.store import Write


def stamp(moment: datetime) -> str:
    """A sortable UTC timestamp: fixed width, microseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@singledispatch
def writes_for(event: Any, position: int) -> list[Write]:
    """The statements an event implies; none for events no read model shows."""
    return []


# Transfers -----------------------------------------------------------------------


@dataclass(frozen=True)
class TransferRow(Write):
    """A write of one transfer's row: its INSERT, or a change of its status. The
    changes a page makes to one row are folded into that row's first write of the
    page (``folded``)."""

    transfer_id: str = ""
    columns: tuple[str, ...] = ()  # what a status change sets, beyond STATUS_COLUMNS


TRANSFER_INSERT = (
    "INSERT INTO {t}transfers (transfer_id, sender_id, receiver_id, amount, currency, "
    "status, description, failure_reason, initiated_at, completed_at, updated_at, position) "
    "VALUES (:transfer_id, :sender_id, :receiver_id, :amount, :currency, :status, "
    ":description, :failure_reason, :at, :completed_at, :updated_at, :position)"
)
STATUS_COLUMNS = ("status", "updated_at", "position")


@writes_for.register
def _initiated(event: Transfer.Initiated, position: int) -> list[Write]:
    at = stamp(event.timestamp)
    params = {
        "transfer_id": event.originator_id.hex,
        "sender_id": event.sender_id.hex,
        "receiver_id": event.receiver_id.hex,
        "amount": event.amount,
        "currency": event.currency,
        "status": TransferStatus.INITIATED.value,
        "description": event.description,
        "failure_reason": None,
        "at": at,
        "completed_at": None,
        "updated_at": at,
        "position": position,
    }
    return [TransferRow(TRANSFER_INSERT, params, transfer_id=event.originator_id.hex)]


def _status_sql(columns: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{name} = :{name}" for name in STATUS_COLUMNS + columns)
    return f"UPDATE {{t}}transfers SET {assignments} WHERE transfer_id = :transfer_id"


def _status(event: Any, position: int, status: TransferStatus, **columns: Any) -> list[Write]:
    transfer_id = event.originator_id.hex
    params = {
        "status": status.value,
        "updated_at": stamp(event.timestamp),
        "position": position,
        "transfer_id": transfer_id,
        **columns,
    }
    names = tuple(columns)
    return [TransferRow(_status_sql(names), params, transfer_id=transfer_id, columns=names)]


def folded(writes: Iterable[Write]) -> list[Write]:
    """``writes`` in order, but with each status change of a transfer folded into the
    first write of its row among them (its INSERT, or its first status change): one
    statement where a page took a transfer through several states, leaving the row
    exactly as the writes one by one would have. Nothing else among a page's writes
    reads a transfer's row, so writing its final state earlier changes nothing else."""
    out: list[Write] = []
    first_of: dict[str, int] = {}
    for write in writes:
        if not isinstance(write, TransferRow):
            out.append(write)
            continue
        at = first_of.get(write.transfer_id)
        if at is None:
            first_of[write.transfer_id] = len(out)
            out.append(write)
            continue
        earlier = out[at]
        assert isinstance(earlier, TransferRow)
        params = {**earlier.params, **write.params}
        if earlier.sql == TRANSFER_INSERT:
            out[at] = TransferRow(TRANSFER_INSERT, params, transfer_id=write.transfer_id)
        else:
            columns = earlier.columns + tuple(c for c in write.columns if c not in earlier.columns)
            sql = _status_sql(columns)
            out[at] = TransferRow(sql, params, transfer_id=write.transfer_id, columns=columns)
    return out


@writes_for.register
def _debited(event: Transfer.Debited, position: int) -> list[Write]:
    return _status(event, position, TransferStatus.DEBITED)


@writes_for.register
def _credited(event: Transfer.Credited, position: int) -> list[Write]:
    return _status(event, position, TransferStatus.CREDITED)


@writes_for.register
def _completed(event: Transfer.Completed, position: int) -> list[Write]:
    return _status(event, position, TransferStatus.COMPLETED, completed_at=stamp(event.timestamp))


@writes_for.register
def _refund_requested(event: Transfer.RefundRequested, position: int) -> list[Write]:
    return _status(event, position, TransferStatus.REFUNDING, failure_reason=event.reason)


@writes_for.register
def _failed(event: Transfer.Failed, position: int) -> list[Write]:
    return _ended_failed(event, position, event.reason)


@writes_for.register
def _refunded(event: Transfer.Refunded, position: int) -> list[Write]:
    return _ended_failed(event, position, event.failure_reason)


def _ended_failed(event: Transfer.Event, position: int, reason: str) -> list[Write]:
    at = stamp(event.timestamp)
    return _status(event, position, TransferStatus.FAILED, failure_reason=reason, completed_at=at)


# Wallets -------------------------------------------------------------------------


@writes_for.register
def _opened(event: Wallet.Opened, position: int) -> list[Write]:
    sql = (
        "INSERT INTO {t}wallets (wallet_id, owner_id, kind, currency, vpa, balance, is_frozen, "
        "is_closed, opened_at, updated_at, position) VALUES (:wallet_id, :owner_id, :kind, "
        ":currency, :vpa, 0, FALSE, FALSE, :at, :at, :position)"
    )
    params = {
        "wallet_id": event.originator_id.hex,
        "owner_id": event.owner_id.hex,
        "kind": event.kind,
        "currency": event.currency,
        "vpa": event.vpa,
        "at": stamp(event.timestamp),
        "position": position,
    }
    return [Write(sql, params)]


def _movement(
    event: Any, position: int, kind: str, delta: int, operation_id: Any, counterparty: Any
) -> list[Write]:
    common = {"wallet_id": event.originator_id.hex, "at": stamp(event.timestamp)}
    balance = Write(
        "UPDATE {t}wallets SET balance = balance + :delta, updated_at = :at, "
        "position = :position WHERE wallet_id = :wallet_id",
        {**common, "delta": delta, "position": position},
    )
    movement = Write(
        "INSERT INTO {t}movements (wallet_id, position, kind, amount, balance_after, "
        "operation_id, counterparty_wallet_id, occurred_at) SELECT :wallet_id, :position, "
        ":kind, :amount, balance, :operation_id, :counterparty, :at "
        "FROM {t}wallets WHERE wallet_id = :wallet_id",
        {
            **common,
            "position": position,
            "kind": kind,
            "amount": delta,
            "operation_id": operation_id.hex,
            "counterparty": None if counterparty is None else counterparty.hex,
        },
    )
    return [balance, movement]


@writes_for.register
def _deposited(event: Wallet.Deposited, position: int) -> list[Write]:
    record = Write(
        "INSERT INTO {t}deposits (deposit_id, wallet_id, owner_id, amount, currency, "
        "deposited_at, position) SELECT :deposit_id, wallet_id, owner_id, :amount, currency, "
        ":at, :position FROM {t}wallets WHERE wallet_id = :wallet_id",
        {
            "deposit_id": event.deposit_id.hex,
            "wallet_id": event.originator_id.hex,
            "amount": event.amount,
            "at": stamp(event.timestamp),
            "position": position,
        },
    )
    return [*_movement(event, position, "DEPOSIT", event.amount, event.deposit_id, None), record]


@writes_for.register
def _deposit_funded(event: Wallet.DepositFunded, position: int) -> list[Write]:
    return _movement(event, position, "DEPOSIT_FUNDING", -event.amount, event.deposit_id, None)


@writes_for.register
def _wallet_debited(event: Wallet.Debited, position: int) -> list[Write]:
    return _movement(
        event, position, "DEBIT", -event.amount, event.transfer_id, event.counterparty_id
    )


@writes_for.register
def _wallet_credited(event: Wallet.Credited, position: int) -> list[Write]:
    return _movement(
        event, position, "CREDIT", event.amount, event.transfer_id, event.counterparty_id
    )


@writes_for.register
def _reversed(event: Wallet.DebitReversed, position: int) -> list[Write]:
    return _movement(event, position, "REFUND", event.amount, event.transfer_id, None)


def _flag(event: Any, position: int, column: str, value: bool) -> list[Write]:
    sql = (
        f"UPDATE {{t}}wallets SET {column} = :value, updated_at = :at, position = :position "
        "WHERE wallet_id = :wallet_id"
    )
    params = {
        "value": value,
        "at": stamp(event.timestamp),
        "position": position,
        "wallet_id": event.originator_id.hex,
    }
    return [Write(sql, params)]


@writes_for.register
def _frozen(event: Wallet.Frozen, position: int) -> list[Write]:
    return _flag(event, position, "is_frozen", True)


@writes_for.register
def _unfrozen(event: Wallet.Unfrozen, position: int) -> list[Write]:
    return _flag(event, position, "is_frozen", False)


@writes_for.register
def _closed(event: Wallet.Closed, position: int) -> list[Write]:
    return _flag(event, position, "is_closed", True)


# Webhook deliveries ----------------------------------------------------------------


def _delivery_event(name: str) -> type[Any]:
    """A ``Delivery`` event class; they are made by the ``@event`` decorators."""
    kind: type[Any] = getattr(Delivery, name)
    return kind


def _stamp_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else stamp(moment)


@writes_for.register(_delivery_event("Scheduled"))
def _scheduled(event: Any, position: int) -> list[Write]:
    sql = (
        "INSERT INTO {t}webhook_deliveries (delivery_id, webhook_id, owner_id, event, "
        "transfer_id, status, attempts, last_status_code, last_error, next_attempt_at, "
        "created_at, updated_at, position) VALUES (:delivery_id, :webhook_id, :owner_id, "
        ":event, :transfer_id, :status, 0, NULL, NULL, :next_attempt_at, :at, :at, :position)"
    )
    params = {
        "delivery_id": event.originator_id.hex,
        "webhook_id": event.webhook_id.hex,
        "owner_id": event.owner_id.hex,
        "event": event.event_type,
        "transfer_id": event.transfer_id.hex,
        "status": DeliveryStatus.PENDING.value,
        "next_attempt_at": _stamp_or_none(event.due_at),
        "at": stamp(event.timestamp),
        "position": position,
    }
    return [Write(sql, params)]


def _delivery(event: Any, position: int, **columns: Any) -> Write:
    assignments = "".join(f", {name} = :{name}" for name in columns)
    sql = (
        f"UPDATE {{t}}webhook_deliveries SET updated_at = :at, position = :position"
        f"{assignments} WHERE delivery_id = :delivery_id"
    )
    params = {
        "at": stamp(event.timestamp),
        "position": position,
        "delivery_id": event.originator_id.hex,
        **columns,
    }
    return Write(sql, params)


@writes_for.register(_delivery_event("Attempted"))
def _attempted(event: Any, position: int) -> list[Write]:
    """The attempt's row, and the delivery as the aggregate then stands."""
    columns: dict[str, Any] = {
        "attempts": event.number,
        "last_status_code": event.status_code,
        "last_error": None if event.delivered else event.error,
        "next_attempt_at": _stamp_or_none(event.next_attempt_at),
    }
    if event.delivered:
        columns["status"] = DeliveryStatus.DELIVERED.value
    elif event.next_attempt_at is None:
        columns["status"] = DeliveryStatus.DEAD.value
    attempt = Write(
        "INSERT INTO {t}webhook_attempts (delivery_id, attempt, status_code, latency_ms, "
        "error, delivered, attempted_at) VALUES (:delivery_id, :attempt, :status_code, "
        ":latency_ms, :error, :delivered, :attempted_at)",
        {
            "delivery_id": event.originator_id.hex,
            "attempt": event.number,
            "status_code": event.status_code,
            "latency_ms": event.latency_ms,
            "error": event.error,
            "delivered": bool(event.delivered),
            "attempted_at": stamp(event.at),
        },
    )
    return [_delivery(event, position, **columns), attempt]


@writes_for.register(_delivery_event("Abandoned"))
def _abandoned(event: Any, position: int) -> list[Write]:
    return [
        _delivery(
            event,
            position,
            status=DeliveryStatus.DEAD.value,
            next_attempt_at=None,
            last_error=event.reason,
        )
    ]


@writes_for.register(_delivery_event("Redelivering"))
def _redelivering(event: Any, position: int) -> list[Write]:
    return [
        _delivery(
            event, position, status=DeliveryStatus.PENDING.value, next_attempt_at=stamp(event.at)
        )
    ]


# What no read model shows. Every event of the logs the projector follows is either
# given statements above or listed here (tests/unit/test_event_registry.py checks).
IGNORED: frozenset[type[Any]] = frozenset(
    {
        Deposit.Recorded,  # type: ignore[attr-defined]  # its wallet's Deposited is shown
        Wallet.DebitDeclined,  # the transfer's Failed is shown
        Wallet.CreditDeclined,  # the transfer's RefundRequested is shown
        # Subscriptions live in the Webhooks application; only deliveries are projected.
        *(getattr(WebhookBook, name) for name in ["Opened", "Added", "Removed"]),
        *(
            getattr(Webhook, name)
            for name in [
                "Subscribed",
                "Changed",
                "Enabled",
                "Disabled",
                "Delivered",
                "AttemptFailed",
                "Deleted",
            ]
        ),
    }
)
