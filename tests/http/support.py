"""Helpers for in-process HTTP tests: a thin client of the PayFlow API."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from infrastructure.tokens import TokenService
from interfaces.ids import USER, parse_id

CORRELATION = "X-Correlation-Id"
IDEMPOTENCY = "X-Idempotency-Key"
REPLAYED = "X-Idempotent-Replayed"
TERMINAL = {"COMPLETED", "FAILED"}
PASSWORD = "Str0ngPassw0rd"
TOKEN_KEYS = {"accessToken", "refreshToken"}
USER_KEYS = {"userId", "name", "email", "isEmailVerified", "vpa"}
WALLET_KEYS = {
    "walletId",
    "userId",
    "vpa",
    "balance",
    "currency",
    "isActive",
    "createdAt",
    "updatedAt",
}
TRANSACTION_KEYS = {
    "transactionId",
    "senderId",
    "receiverId",
    "amount",
    "currency",
    "status",
    "description",
    "failureReason",
    "initiatedAt",
    "completedAt",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def body_of(response: ClientResponse) -> dict[str, Any]:
    """The JSON body with every non-integer number as an exact Decimal."""
    parsed: dict[str, Any] = json.loads(await response.text(), parse_float=Decimal)
    return parsed


async def success(response: ClientResponse, status: int = 200) -> dict[str, Any]:
    """The ``data`` of a success envelope, after checking status and ``success``."""
    assert response.status == status, await response.text()
    body = await body_of(response)
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


async def failure(
    response: ClientResponse, status: int, code: int | set[int], *fields: str
) -> dict[str, Any]:
    """The ``error`` of an error envelope, after checking every envelope field."""
    assert response.status == status, await response.text()
    body = await body_of(response)
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    codes = code if isinstance(code, set) else {code}
    assert error["code"] in codes, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert datetime.fromisoformat(error["timestamp"]).tzinfo is not None
    assert error["correlationId"]
    assert error["correlationId"] == response.headers[CORRELATION]
    for field in fields:
        assert error["details"][field], error
    return error


@dataclass
class Account:
    """A registered user as a test sees it."""

    user_id: str
    vpa: str
    email: str
    access: str
    refresh: str

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.access)


class Api:
    """The PayFlow API over an aiohttp test client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def register(self, name: str = "Asha Kumar", email: str = "asha@example.com") -> Account:
        body = {"name": name, "email": email, "password": PASSWORD}
        data = await success(await self.client.post("/auth/register", json=body), 201)
        user, tokens = data["user"], data["tokens"]
        return Account(
            user["userId"], user["vpa"], email, tokens["accessToken"], tokens["refreshToken"]
        )

    async def balance(self, account: Account) -> Decimal:
        data = await success(await self.client.get("/wallets/me", headers=account.auth))
        balance = data["wallet"]["balance"]
        return Decimal(balance)

    async def deposit(self, account: Account, amount: str) -> dict[str, Any]:
        response = await self.post_raw(
            "/wallets/me/deposit", f'{{"amount": {amount}}}', account.auth
        )
        return await success(response)

    async def post_raw(
        self, path: str, text: str, headers: dict[str, str] | None = None
    ) -> ClientResponse:
        """POST a JSON body given as text, so amounts go on the wire exactly as written."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return await self.client.post(path, data=text.encode(), headers=all_headers)

    async def send(
        self, sender: Account, body: dict[str, Any], key: str | None = None
    ) -> ClientResponse:
        headers = sender.auth | ({IDEMPOTENCY: key} if key is not None else {})
        return await self.client.post("/transactions", json=body, headers=headers)

    async def transaction(self, account: Account, transaction_id: str) -> ClientResponse:
        return await self.client.get(f"/transactions/{transaction_id}", headers=account.auth)

    async def settled(
        self, account: Account, transaction_id: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Poll the transfer until its status is terminal, failing after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await success(await self.transaction(account, transaction_id))
            transaction: dict[str, Any] = data["transaction"]
            if transaction["status"] in TERMINAL:
                return transaction
            assert loop.time() < deadline, f"still {transaction['status']} after {timeout}s"
            await asyncio.sleep(0.02)


def expired_access_token(settings: Settings, account: Account) -> str:
    """An access token for ``account``, signed correctly but an hour past its expiry."""
    an_hour_ago = time.time() - 3600
    past = TokenService(
        settings.jwt_secret,
        settings.access_token_ttl,
        settings.refresh_token_ttl,
        clock=lambda: an_hour_ago,
    )
    return past.issue_pair(parse_id(USER, account.user_id)).access_token
