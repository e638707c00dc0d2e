"""How users, wallets and transfers look on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.money import Money
from domain.transfer import Transfer
from domain.user import User
from domain.wallet import Wallet
from infrastructure.tokens import TokenPair
from interfaces.ids import TRANSACTION, USER, WALLET, public_id


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


def wallet(w: Wallet) -> dict[str, Any]:
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


def transfer(t: Transfer) -> dict[str, Any]:
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
