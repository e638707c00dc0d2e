"""Schemathesis against the real server: every operation answers as its OpenAPI entry says.

For each documented operation schemathesis sends its examples, its coverage
cases (boundaries, missing and mistyped fields) and a fixed number of
generated requests, valid and invalid, with a fixed seed. Every answer must be
no 5xx, with a documented status code, content type and body schema.

Most cases are signed in as a user with money, and some of their generated
values are swapped for real ones (a receiver, a transaction, credentials), so
that success paths run too; one case in four keeps whatever auth schemathesis
generated, usually none or a bogus token.

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


def call(url: str, method: str, path: str, user: User | None = None, **kw: Any) -> Any:
    """The ``data`` of a request that must succeed."""
    headers = {"Authorization": f"Bearer {user.access}"} if user else {}
    response = requests.request(method, url + path, headers=headers, timeout=30, **kw)
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


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
    own = call(url, "POST", "/transactions", asha, json={"receiverId": ravi.user_id, "amount": 1})
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
    )


@pytest.fixture(scope="module")
def api_schema(server: Server) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({**CONFIG, "base-url": server.url})
    return schemathesis.openapi.from_url(f"{server.url}/api-docs.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
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
        case "/auth/login" if isinstance(body.get("email"), str):
            body["email"] = world.asha.email
            if isinstance(body.get("password"), str):
                body["password"] = PASSWORD
        case "/auth/refresh" | "/auth/logout" if isinstance(body.get("refreshToken"), str):
            login = {"email": world.kiran.email, "password": PASSWORD}
            tokens = call(world.url, "POST", "/auth/login", json=login)["tokens"]
            body["refreshToken"] = tokens["refreshToken"]


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
