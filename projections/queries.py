"""Plain query functions over the read models: what the query routes answer from."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.money import Money
from domain.transfer import TransferStatus
from domain.webhook import DeliveryStatus
from projections.projector import stamp
from projections.store import ReadStore


class BadCursor(ValueError):
    """A pagination cursor that this service did not hand out."""


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class TransferRow:
    """A transfer as the read model holds it (the attributes the renderer reads)."""

    id: UUID
    sender_id: UUID
    receiver_id: UUID
    amount: Money
    currency: str
    status: TransferStatus
    description: str | None
    failure_reason: str | None
    created_on: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TransferRow:
        initiated = _moment(row["initiated_at"])
        assert initiated is not None
        return cls(
            id=UUID(row["transfer_id"]),
            sender_id=UUID(row["sender_id"]),
            receiver_id=UUID(row["receiver_id"]),
            amount=Money(int(row["amount"]), row["currency"]),
            currency=row["currency"],
            status=TransferStatus(row["status"]),
            description=row["description"],
            failure_reason=row["failure_reason"],
            created_on=initiated,
            completed_at=_moment(row["completed_at"]),
        )

    @property
    def cursor(self) -> str:
        raw = f"{stamp(self.created_on)}|{self.id.hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class TransferFilter:
    """Which of a user's transfers to list, newest first."""

    user_id: UUID
    status: TransferStatus | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    counterparty: UUID | None = None
    limit: int = 20
    offset: int = 0
    cursor: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        me = self.user_id.hex
        clauses = ["(sender_id = :me OR receiver_id = :me)"]
        params: dict[str, Any] = {"me": me}
        optional = [
            (self.status, "status = :status", lambda v: v.value),
            (self.since, "initiated_at >= :since", stamp),
            (self.until, "initiated_at <= :until", stamp),
            (self.min_amount, "amount >= :min_amount", int),
            (self.max_amount, "amount <= :max_amount", int),
        ]
        for value, clause, convert in optional:
            if value is not None:
                clauses.append(clause)
                params[clause.split(":")[-1]] = convert(value)  # type: ignore[operator]
        if self.counterparty is not None:
            clauses.append(
                "((sender_id = :me AND receiver_id = :other) "
                "OR (receiver_id = :me AND sender_id = :other))"
            )
            params["other"] = self.counterparty.hex
        return " AND ".join(clauses), params


@dataclass
class TransferPage:
    transfers: list[TransferRow]
    total: int
    has_more: bool
    next_cursor: str | None = field(default=None)


def transfers_for(store: ReadStore, wanted: TransferFilter) -> TransferPage:
    where, params = wanted.where()
    total = store.select(f"SELECT COUNT(*) AS n FROM {{t}}transfers WHERE {where}", params)
    page_where, page_params = where, dict(params)
    if wanted.cursor is not None:
        at, transfer_id = _decode(wanted.cursor)
        page_where += (
            " AND (initiated_at < :c_at OR (initiated_at = :c_at AND transfer_id < :c_id))"
        )
        page_params |= {"c_at": at, "c_id": transfer_id}
    rows = store.select(
        f"SELECT * FROM {{t}}transfers WHERE {page_where} "
        "ORDER BY initiated_at DESC, transfer_id DESC LIMIT :limit OFFSET :offset",
        page_params | {"limit": wanted.limit + 1, "offset": wanted.offset},
    )
    transfers = [TransferRow.from_row(row) for row in rows[: wanted.limit]]
    has_more = len(rows) > wanted.limit
    return TransferPage(
        transfers=transfers,
        total=int(total[0]["n"]),
        has_more=has_more,
        next_cursor=transfers[-1].cursor if has_more and transfers else None,
    )


def _decode(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, transfer_id = raw.split("|")
        _moment(at)
        UUID(hex=transfer_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("not a cursor this service gave out") from None
    return at, transfer_id


@dataclass(frozen=True)
class Movement:
    """One change of a wallet's balance."""

    kind: str
    amount: Money
    balance_after: Money
    operation_id: UUID
    counterparty_wallet_id: UUID | None
    occurred_at: datetime


def movements_of(store: ReadStore, wallet_id: UUID, limit: int) -> tuple[list[Movement], bool]:
    """A wallet's latest movements, newest first, and whether older ones exist."""
    rows = store.select(
        "SELECT m.*, w.currency FROM {t}movements m JOIN {t}wallets w "
        "ON w.wallet_id = m.wallet_id WHERE m.wallet_id = :wallet_id "
        "ORDER BY m.position DESC LIMIT :limit",
        {"wallet_id": wallet_id.hex, "limit": limit + 1},
    )
    movements = [
        Movement(
            kind=row["kind"],
            amount=Money(int(row["amount"]), row["currency"]),
            balance_after=Money(int(row["balance_after"]), row["currency"]),
            operation_id=UUID(row["operation_id"]),
            counterparty_wallet_id=(
                UUID(row["counterparty_wallet_id"]) if row["counterparty_wallet_id"] else None
            ),
            occurred_at=_moment(row["occurred_at"]) or datetime.now(UTC),
        )
        for row in rows[:limit]
    ]
    return movements, len(rows) > limit


@dataclass(frozen=True)
class WalletBalance:
    wallet_id: UUID
    owner_id: UUID
    balance: Money
    updated_at: datetime


def wallet_balance(store: ReadStore, wallet_id: UUID) -> WalletBalance | None:
    rows = store.select(
        "SELECT * FROM {t}wallets WHERE wallet_id = :wallet_id", {"wallet_id": wallet_id.hex}
    )
    if not rows:
        return None
    row = rows[0]
    return WalletBalance(
        wallet_id=UUID(row["wallet_id"]),
        owner_id=UUID(row["owner_id"]),
        balance=Money(int(row["balance"]), row["currency"]),
        updated_at=_moment(row["updated_at"]) or datetime.now(UTC),
    )


def transfers_between(
    store: ReadStore, since: datetime | None, until: datetime | None
) -> list[TransferRow]:
    """Every transfer initiated in the window, oldest first (for exports)."""
    rows = store.select(
        "SELECT * FROM {t}transfers WHERE initiated_at >= :since AND initiated_at <= :until "
        "ORDER BY initiated_at, transfer_id",
        {
            "since": stamp(since) if since else "",
            "until": stamp(until) if until else "9999",
        },
    )
    return [TransferRow.from_row(row) for row in rows]


def transfer_row(store: ReadStore, transfer_id: UUID) -> TransferRow | None:
    rows = store.select(
        "SELECT * FROM {t}transfers WHERE transfer_id = :id", {"id": transfer_id.hex}
    )
    return TransferRow.from_row(rows[0]) if rows else None


@dataclass(frozen=True)
class WalletRow:
    """A wallet as the read model holds it (the attributes the renderer reads)."""

    id: UUID
    owner_id: UUID
    vpa: str | None
    balance: Money
    currency: str
    is_frozen: bool
    is_closed: bool
    created_on: datetime
    modified_on: datetime

    @property
    def is_active(self) -> bool:
        return not (self.is_frozen or self.is_closed)


def wallet_row(store: ReadStore, wallet_id: UUID) -> WalletRow | None:
    rows = store.select("SELECT * FROM {t}wallets WHERE wallet_id = :id", {"id": wallet_id.hex})
    if not rows:
        return None
    row = rows[0]
    opened, updated = _moment(row["opened_at"]), _moment(row["updated_at"])
    assert opened is not None
    assert updated is not None
    return WalletRow(
        id=UUID(row["wallet_id"]),
        owner_id=UUID(row["owner_id"]),
        vpa=row["vpa"],
        balance=Money(int(row["balance"]), row["currency"]),
        currency=row["currency"],
        is_frozen=bool(row["is_frozen"]),
        is_closed=bool(row["is_closed"]),
        created_on=opened,
        modified_on=updated,
    )


@dataclass(frozen=True)
class AttemptRow:
    """One attempt to deliver, as the read model holds it."""

    number: int
    status_code: int | None
    latency_ms: int
    error: str | None
    delivered: bool
    attempted_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    """A webhook delivery as the read model holds it, with every attempt, oldest first."""

    id: UUID
    webhook_id: UUID
    owner_id: UUID
    event: str
    transfer_id: UUID
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempt_log: tuple[AttemptRow, ...] = ()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeliveryRow:
        created, updated = _moment(row["created_at"]), _moment(row["updated_at"])
        assert created is not None
        assert updated is not None
        return cls(
            id=UUID(row["delivery_id"]),
            webhook_id=UUID(row["webhook_id"]),
            owner_id=UUID(row["owner_id"]),
            event=row["event"],
            transfer_id=UUID(row["transfer_id"]),
            status=DeliveryStatus(row["status"]),
            attempts=int(row["attempts"]),
            last_status_code=_integer(row["last_status_code"]),
            last_error=row["last_error"],
            next_attempt_at=_moment(row["next_attempt_at"]),
            created_at=created,
            updated_at=updated,
        )


@dataclass
class DeliveryPage:
    deliveries: list[DeliveryRow]
    total: int
    has_more: bool


def deliveries_of(
    store: ReadStore,
    webhook_id: UUID,
    status: DeliveryStatus | None = None,
    limit: int = 20,
    offset: int = 0,
) -> DeliveryPage:
    """A webhook's deliveries, newest first, each with its attempts.

    One page of deliveries and their attempts are read by one statement, so a
    delivery's attempts always agree with its ``attempts`` count.
    """
    where, params = "webhook_id = :webhook_id", {"webhook_id": webhook_id.hex}
    if status is not None:
        where, params = f"{where} AND status = :status", params | {"status": status.value}
    total = store.select(f"SELECT COUNT(*) AS n FROM {{t}}webhook_deliveries WHERE {where}", params)
    rows = store.select(
        "SELECT d.*, a.attempt, a.status_code AS attempt_status_code, a.latency_ms, "
        "a.error AS attempt_error, a.delivered, a.attempted_at "
        f"FROM (SELECT * FROM {{t}}webhook_deliveries WHERE {where} "
        "ORDER BY created_at DESC, delivery_id DESC LIMIT :limit OFFSET :offset) d "
        "LEFT JOIN {t}webhook_attempts a ON a.delivery_id = d.delivery_id "
        "ORDER BY d.created_at DESC, d.delivery_id DESC, a.attempt",
        params | {"limit": limit + 1, "offset": offset},
    )
    deliveries: dict[str, DeliveryRow] = {}
    attempts: dict[str, list[AttemptRow]] = {}
    for row in rows:
        key = row["delivery_id"]
        if key not in deliveries:
            deliveries[key], attempts[key] = DeliveryRow.from_row(row), []
        if row["attempt"] is not None:
            attempts[key].append(_attempt(row))
    page = [
        replace(delivery, attempt_log=tuple(attempts[key])) for key, delivery in deliveries.items()
    ]
    return DeliveryPage(page[:limit], int(total[0]["n"]), has_more=len(page) > limit)


def _attempt(row: dict[str, Any]) -> AttemptRow:
    attempted = _moment(row["attempted_at"])
    assert attempted is not None
    return AttemptRow(
        number=int(row["attempt"]),
        status_code=_integer(row["attempt_status_code"]),
        latency_ms=int(row["latency_ms"]),
        error=row["attempt_error"],
        delivered=bool(row["delivered"]),
        attempted_at=attempted,
    )


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)
