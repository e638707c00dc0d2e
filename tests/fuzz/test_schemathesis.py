"""Schemathesis against the real server: every operation answers as its OpenAPI entry says.

For each documented operation schemathesis sends its examples, its coverage
cases (boundaries, missing and mistyped fields) and a fixed number of
generated requests, valid and invalid, with a fixed seed. Every answer must be
no 5xx, with a documented status code, content type and body schema.

Most cases are signed in as a user with money, and some of their generated
values are swapped for real ones (a receiver, a transaction, a webhook,
credentials), so that success paths run too; one case in four keeps whatever
auth schemathesis generated, usually none or a bogus token. The world holds a
webhook of each user and a dead-lettered delivery of Asha's, scheduled and
attempted in the server's process as the Webhooks process and the dispatcher would.

schemathesis leaves out the operation that serves the document it loaded
(GET /api-docs.json); tests/http/test_openapi.py covers that one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from application.webhooks import AttemptOutcome
from interfaces.http.keys import CONTAINER
from interfaces.ids import DELIVERY, parse_id
from tests.fuzz.conftest import Server, Tally

PASSWORD = "Str0ngPassw0rd"
# Sized for CI; set PAYFLOW_FUZZ_EXAMPLES / PAYFLOW_FUZZ_SEED to search deeper or elsewhere.
MAX_EXAMPLES = int(os.environ.get("PAYFLOW_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("PAYFLOW_FUZZ_SEED", "20260601"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
    "suppress-health-check": ["too_slow"],  # a busy CI machine generates slowly; no API fault
}


@dataclass(frozen=True)
class User:
    user_id: str
    vpa: str
    email: str
    access: str


@dataclass(frozen=True)
class World:
    """What the server holds before fuzzing: users, money and two transfers."""

    url: str
    asha: User  # signed in for most cases; has money
    ravi: User  # receives
    kiran: User
    own_transaction: str  # asha is a party to it
    others_transaction: str  # asha is not
    own_wallet: str
    others_wallet: str
    own_webhook: str
    others_webhook: str
    own_delivery: str  # to own_webhook, dead-lettered


def call(
    url: str,
    method: str,
    path: str,
    user: User | None = None,
    headers_extra: dict[str, str] | None = None,
    **kw: Any,
) -> Any:
    """The ``data`` of a request that must succeed."""
    headers = {"Authorization": f"Bearer {user.access}"} if user else {}
    headers |= headers_extra or {}
    response = requests.request(method, url + path, headers=headers, timeout=30, **kw)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


def subscribe(url: str, user: User, hook: str) -> str:
    body = {"url": hook, "events": ["TRANSACTION_COMPLETED"]}
    webhook_id: str = call(url, "POST", "/webhooks", user, json=body)["webhook"]["webhookId"]
    return webhook_id


def dead_delivery(server: Server, user: User, webhook_id: str) -> str:
    """Schedule what the transfers owe, and fail the webhook's one delivery to the end."""
    ledger = server.runner.app[CONTAINER].ledger
    ledger.webhooks.pull_and_process(ledger.transfers.name)
    (entry,) = call(server.url, "GET", f"/webhooks/{webhook_id}/logs", user)["logs"]
    failed = AttemptOutcome(delivered=False, status_code=500, latency_ms=1, error="HTTP 500")
    for _ in range(ledger.webhooks.rules.max_attempts):
        ledger.webhooks.record_attempt(parse_id(DELIVERY, entry["deliveryId"]), failed, 1.0)
    delivery_id: str = entry["deliveryId"]
    return delivery_id


def register(url: str, name: str, email: str) -> User:
    body = {"name": name, "email": email, "password": PASSWORD}
    data = call(url, "POST", "/auth/register", json=body)
    user = data["user"]
    return User(user["userId"], user["vpa"], email, data["tokens"]["accessToken"])


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    url = server.url
    asha = register(url, "Asha Kumar", "asha@example.com")
    ravi = register(url, "Ravi Shah", "ravi@example.com")
    kiran = register(url, "Kiran Rao", "kiran@example.com")
    call(url, "POST", "/wallets/me/deposit", asha, json={"amount": 50000})
    call(url, "POST", "/wallets/me/deposit", ravi, json={"amount": 100})
    own_webhook = subscribe(url, asha, "https://asha.example.com/hooks")
    others_webhook = subscribe(url, ravi, "https://ravi.example.com/hooks")
    own = call(
        url,
        "POST",
        "/transactions",
        asha,
        json={"receiverId": ravi.user_id, "amount": 1},
        headers_extra={"Prefer": "wait=10"},
    )
    other = call(
        url, "POST", "/transactions", ravi, json={"receiverId": kiran.user_id, "amount": 1}
    )
    return World(
        url,
        asha,
        ravi,
        kiran,
        own["transaction"]["transactionId"],
        other["transaction"]["transactionId"],
        call(url, "GET", "/wallets/me", asha)["wallet"]["walletId"],
        call(url, "GET", "/wallets/me", ravi)["wallet"]["walletId"],
        own_webhook,
        others_webhook,
        dead_delivery(server, asha, own_webhook),
    )


@pytest.fixture(scope="module")
def api_schema(server: Server) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({**CONFIG, "base-url": server.url})
    return schemathesis.openapi.from_url(f"{server.url}/api-docs.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@pytest.mark.timeout(600)  # every operation, hundreds of cases, on a loaded machine too
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, world: World, tally: Tally
) -> None:
    label = case.operation.label
    turn = tally.turn(label)
    if turn % 4 != 3:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {world.asha.access}"}
    if turn % 2 == 0:
        make_real(case, world, turn)
    response = case.call(base_url=world.url, timeout=30)
    tally.statuses[label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def make_real(case: schemathesis.Case, world: World, turn: int) -> None:
    """Swap generated strings for ones the server knows, keeping the case's shape."""
    body = case.body if isinstance(case.body, dict) else {}
    match case.operation.path:
        case "/transactions":
            real_transfer(body, world, turn)
        case "/wallets/me/deposit" if turn % 4 == 0:
            payable(body, turn)
        case "/transactions/{id}" if case.path_parameters:
            mine = turn % 4 == 0
            case.path_parameters["id"] = world.own_transaction if mine else world.others_transaction
        case "/wallets/{id}/balance" if case.path_parameters:
            mine = turn % 4 == 0
            case.path_parameters["id"] = world.own_wallet if mine else world.others_wallet
        case "/webhooks":
            real_webhook(body, turn)
        case "/webhooks/{id}/deliveries/{deliveryId}/redeliver" if case.path_parameters:
            mine = turn % 4 == 0
            case.path_parameters["id"] = world.own_webhook if mine else world.others_webhook
            case.path_parameters["deliveryId"] = world.own_delivery
        case "/webhooks/{id}" | "/webhooks/{id}/logs" if case.path_parameters:
            mine = turn % 4 == 0
            if mine and case.method.upper() == "DELETE":
                case.path_parameters["id"] = throwaway_webhook(world, turn)
            else:
                case.path_parameters["id"] = world.own_webhook if mine else world.others_webhook
        case "/auth/login" if isinstance(body.get("email"), str):
            body["email"] = world.asha.email
            if isinstance(body.get("password"), str):
                body["password"] = PASSWORD
        case "/auth/refresh" | "/auth/logout" if isinstance(body.get("refreshToken"), str):
            login = {"email": world.kiran.email, "password": PASSWORD}
            tokens = call(world.url, "POST", "/auth/login", json=login)["tokens"]
            body["refreshToken"] = tokens["refreshToken"]


def real_webhook(body: dict[str, Any], turn: int) -> None:
    """A URL that may be subscribed, and every other time events that may be too."""
    if isinstance(body.get("url"), str):
        body["url"] = f"https://merchant{turn}.example.com/hooks"
    if turn % 4 == 0 and isinstance(body.get("events"), list):
        body["events"] = ["TRANSACTION_COMPLETED"]


def throwaway_webhook(world: World, turn: int) -> str:
    """A webhook of Asha's to delete: any but the world's own, or a new one."""
    for webhook in call(world.url, "GET", "/webhooks", world.asha)["webhooks"]:
        if webhook["webhookId"] != world.own_webhook:
            found: str = webhook["webhookId"]
            return found
    body = {"url": f"https://throwaway{turn}.example.com/", "events": ["DEBIT_FAILED"]}
    created = call(world.url, "POST", "/webhooks", world.asha, json=body)
    webhook_id: str = created["webhook"]["webhookId"]
    return webhook_id


def real_transfer(body: dict[str, Any], world: World, turn: int) -> None:
    """Ravi as the receiver; every other time also one receiver only and a payable amount."""
    named = {key: body[key] for key in ("receiverId", "receiverVpa") if key in body}
    if not all(isinstance(value, str) for value in named.values()):
        return  # a mistyped receiver stays mistyped
    real = {"receiverId": world.ravi.user_id, "receiverVpa": world.ravi.vpa}
    if turn % 4 == 0:
        payable(body, turn)
        body.pop("receiverId", None)
        body.pop("receiverVpa", None)
        named = {"receiverId" if turn % 8 == 0 else "receiverVpa": ""}
    body.update({key: real[key] for key in named})


def payable(body: dict[str, Any], turn: int) -> None:
    """A small amount in rupees and INR, if the case has a numeric amount and a currency."""
    amount = body.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        body["amount"] = 1 + turn % 9 + (turn % 3) / 4  # 1 to 9.5, at most 2 decimals
    if isinstance(body.get("currency"), str):
        body["currency"] = "INR"
