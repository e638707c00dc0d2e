"""How users, wallets, transfers and webhooks look on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.money import Money
from domain.transfer import TransferStatus
from domain.user import User
from domain.webhook import Delivery, Webhook
from infrastructure.tokens import TokenPair
from interfaces.ids import DELIVERY, DEPOSIT, TRANSACTION, USER, WALLET, WEBHOOK, public_id
from projections.queries import AttemptRow, DeliveryRow, Movement


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


def webhook(w: Webhook) -> dict[str, Any]:
    """An endpoint, without its secret (only the answer that creates it shows that)."""
    return {
        "webhookId": public_id(WEBHOOK, w.id),
        "url": w.url,
        "events": list(w.events),
        "isActive": w.is_active,
        "failureCount": w.failure_count,
        "lastDeliveryAt": timestamp(w.last_delivery_at),
        "createdAt": timestamp(w.created_on),
        "updatedAt": timestamp(w.modified_on),
        "disabledReason": w.disabled_reason,
    }


def delivery(d: Delivery) -> dict[str, Any]:
    return {
        "deliveryId": public_id(DELIVERY, d.id),
        "webhookId": public_id(WEBHOOK, d.webhook_id),
        "event": d.event_type,
        "transactionId": public_id(TRANSACTION, d.transfer_id),
        "status": d.status.value,
        "attempts": d.attempts,
        "lastError": d.last_error,
        "nextAttemptAt": timestamp(d.next_attempt_at),
        "createdAt": timestamp(d.created_on),
        "updatedAt": timestamp(d.modified_on),
    }


def delivery_log(row: DeliveryRow) -> dict[str, Any]:
    """One entry of a webhook's delivery log, with every attempt, oldest first."""
    return {
        "deliveryId": public_id(DELIVERY, row.id),
        "event": row.event,
        "transactionId": public_id(TRANSACTION, row.transfer_id),
        "status": row.status.value,
        "attempts": row.attempts,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "nextAttemptAt": timestamp(row.next_attempt_at),
        "createdAt": timestamp(row.created_at),
        "updatedAt": timestamp(row.updated_at),
        "attemptsDetail": [attempt(a) for a in row.attempt_log],
    }


def attempt(a: AttemptRow) -> dict[str, Any]:
    return {
        "attempt": a.number,
        "statusCode": a.status_code,
        "latencyMs": a.latency_ms,
        "error": a.error,
        "delivered": a.delivered,
        "attemptedAt": timestamp(a.attempted_at),
    }
