"""How users, wallets and transfers look on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.money import Money
from domain.transfer import TransferStatus
from domain.user import User
from infrastructure.tokens import TokenPair
from interfaces.ids import DEPOSIT, TRANSACTION, USER, WALLET, public_id
from projections.queries import Movement


def amount(money: Money) -> Decimal:
    return money.to_decimal()


def timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def user(u: User) -> dict[str, Any]:
    return {
        "userId": public_id(USER, u.id),
        "name": u.name,
        "email": u.email,
        "isEmailVerified": u.is_email_verified,
        "vpa": u.vpa,
    }


def tokens(pair: TokenPair) -> dict[str, str]:
    return {"accessToken": pair.access_token, "refreshToken": pair.refresh_token}


class WalletLike(Protocol):
    """A wallet as an aggregate or as a read-model row: what rendering needs."""

    @property
    def id(self) -> UUID: ...
    @property
    def owner_id(self) -> UUID: ...
    @property
    def vpa(self) -> str | None: ...
    @property
    def balance(self) -> Money: ...
    @property
    def currency(self) -> str: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_frozen(self) -> bool: ...
    @property
    def created_on(self) -> datetime: ...
    @property
    def modified_on(self) -> datetime: ...


def wallet(w: WalletLike) -> dict[str, Any]:
    return {
        "walletId": public_id(WALLET, w.id),
        "userId": public_id(USER, w.owner_id),
        "vpa": w.vpa,
        "balance": amount(w.balance),
        "currency": w.currency,
        "isActive": w.is_active,
        "isFrozen": w.is_frozen,
        "createdAt": timestamp(w.created_on),
        "updatedAt": timestamp(w.modified_on),
    }


class TransferLike(Protocol):
    """A transfer as an aggregate or as a read-model row: what rendering needs."""

    @property
    def id(self) -> UUID: ...
    @property
    def sender_id(self) -> UUID: ...
    @property
    def receiver_id(self) -> UUID: ...
    @property
    def amount(self) -> Money: ...
    @property
    def currency(self) -> str: ...
    @property
    def status(self) -> TransferStatus: ...
    @property
    def description(self) -> str | None: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def created_on(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime | None: ...


def transfer(t: TransferLike) -> dict[str, Any]:
    return {
        "transactionId": public_id(TRANSACTION, t.id),
        "senderId": public_id(USER, t.sender_id),
        "receiverId": public_id(USER, t.receiver_id),
        "amount": amount(t.amount),
        "currency": t.currency,
        "status": t.status.value,
        "description": t.description,
        "failureReason": t.failure_reason,
        "initiatedAt": timestamp(t.created_on),
        "completedAt": timestamp(t.completed_at),
    }


def movement(m: Movement) -> dict[str, Any]:
    return {
        "type": m.kind,
        "amount": amount(m.amount),
        "balanceAfter": amount(m.balance_after),
        "operationId": public_id(
            DEPOSIT if m.kind.startswith("DEPOSIT") else TRANSACTION, m.operation_id
        ),
        "counterpartyWalletId": (
            None
            if m.counterparty_wallet_id is None
            else public_id(WALLET, m.counterparty_wallet_id)
        ),
        "createdAt": timestamp(m.occurred_at),
    }
