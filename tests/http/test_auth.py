"""Registration, login, and how protected routes treat tokens."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from infrastructure.tokens import TokenService
from interfaces.http.keys import CONTAINER
from interfaces.ids import USER, parse_id
from tests.http.support import (
    PASSWORD,
    TOKEN_KEYS,
    USER_KEYS,
    Account,
    Api,
    bearer,
    expired_access_token,
    failure,
    success,
)

VALID = {"name": "Asha Kumar", "email": "asha@example.com", "password": PASSWORD}


async def test_register_returns_the_user_with_a_wallet_handle_and_tokens(
    client: TestClient,
) -> None:
    data = await success(await client.post("/auth/register", json=VALID), 201)

    assert set(data) == {"user", "tokens"}
    user = data["user"]
    assert set(user) >= USER_KEYS
    assert user["userId"].startswith("user_")
    assert user["name"] == "Asha Kumar"
    assert user["email"] == "asha@example.com"
    assert user["isEmailVerified"] is False
    assert user["vpa"].endswith("@payflow")
    assert set(data["tokens"]) >= TOKEN_KEYS
    assert all(isinstance(t, str) and t for t in data["tokens"].values())


async def test_two_users_with_the_same_name_get_different_handles(api: Api) -> None:
    first = await api.register("Asha Kumar", "asha1@example.com")
    second = await api.register("Asha Kumar", "asha2@example.com")

    assert first.vpa.endswith("@payflow")
    assert second.vpa.endswith("@payflow")
    assert first.vpa != second.vpa
    assert first.user_id != second.user_id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "A"}, "name"),
        ({"name": "A" * 101}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "Sh0rt"}, "password"),
        ({"password": "nouppercase1"}, "password"),
        ({"password": "NOLOWERCASE1"}, "password"),
        ({"password": "NoDigitsHere"}, "password"),
        ({"nickname": "ash"}, "nickname"),
        ({"name": 123}, "name"),
        ({"email": ["asha@example.com"]}, "email"),
        ({"password": 12345678}, "password"),
        ({"phone": "call me"}, "phone"),
    ],
)
async def test_register_refuses_an_invalid_field_and_names_it(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/auth/register", json=VALID | change)

    await failure(response, 400, 2001, field)
    # The refusal recorded nothing: the same email can still register.
    await success(await client.post("/auth/register", json=VALID), 201)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ("name", "email", "password")),
        ({"name": "Asha Kumar"}, ("email", "password")),
        ({"name": "Asha Kumar", "email": "asha@example.com"}, ("password",)),
    ],
)
async def test_register_with_missing_fields_is_missing_required_field(
    client: TestClient, body: dict[str, Any], fields: tuple[str, ...]
) -> None:
    response = await client.post("/auth/register", json=body)

    error = await failure(response, 400, 2004, *fields)
    assert set(error["details"]) == set(fields)


@pytest.mark.parametrize("email", ["asha@example.com", "ASHA@Example.COM"])
async def test_register_refuses_an_email_already_registered(client: TestClient, email: str) -> None:
    await success(await client.post("/auth/register", json=VALID), 201)

    response = await client.post("/auth/register", json=VALID | {"email": email})

    await failure(response, 409, 3008)


async def test_a_refused_duplicate_leaves_the_first_account_usable(
    client: TestClient,
) -> None:
    await success(await client.post("/auth/register", json=VALID), 201)
    other_password = VALID | {"password": "An0therPassword"}
    await failure(await client.post("/auth/register", json=other_password), 409, 3008)

    login = {"email": "asha@example.com", "password": PASSWORD}
    await success(await client.post("/auth/login", json=login))
    wrong = login | {"password": "An0therPassword"}
    await failure(await client.post("/auth/login", json=wrong), 401, 1004)


async def test_login_returns_the_same_user_and_fresh_tokens(
    client: TestClient, asha: Account
) -> None:
    login = {"email": "asha@example.com", "password": PASSWORD}
    data = await success(await client.post("/auth/login", json=login))

    assert set(data) == {"user", "tokens"}
    assert set(data["user"]) >= USER_KEYS
    assert data["user"]["userId"] == asha.user_id
    assert data["user"]["vpa"] == asha.vpa
    assert set(data["tokens"]) >= TOKEN_KEYS
    wallet = await client.get("/wallets/me", headers=bearer(data["tokens"]["accessToken"]))
    assert (await success(wallet))["wallet"]["userId"] == asha.user_id


async def test_login_gives_one_answer_for_a_wrong_password_and_an_unknown_email(
    client: TestClient, asha: Account
) -> None:
    wrong_password = {"email": asha.email, "password": "Wr0ngPassword"}
    unknown_email = {"email": "nobody@example.com", "password": PASSWORD}

    first = await failure(await client.post("/auth/login", json=wrong_password), 401, 1004)
    second = await failure(await client.post("/auth/login", json=unknown_email), 401, 1004)

    assert first["message"] == second["message"]


async def test_login_with_missing_fields_is_refused(client: TestClient) -> None:
    await failure(await client.post("/auth/login", json={}), 400, 2004, "email", "password")


async def test_protected_route_without_a_token_is_unauthorized(client: TestClient) -> None:
    await failure(await client.get("/wallets/me"), 401, 1001)


@pytest.mark.parametrize("header", ["Basic abc", "Bearer ", "Bearer"])
async def test_protected_route_without_a_bearer_token_is_unauthorized(
    client: TestClient, header: str
) -> None:
    await failure(await client.get("/wallets/me", headers={"Authorization": header}), 401, 1001)


async def test_protected_route_refuses_a_garbage_token(client: TestClient) -> None:
    response = await client.get("/wallets/me", headers=bearer("not.a.jwt"))

    await failure(response, 401, 1002)


async def test_protected_route_refuses_a_refresh_token(client: TestClient, asha: Account) -> None:
    response = await client.get("/wallets/me", headers=bearer(asha.refresh))

    await failure(response, 401, 1002)


async def test_protected_route_refuses_a_token_signed_with_another_secret(
    client: TestClient, asha: Account, settings: Settings
) -> None:
    forger = TokenService(
        "another-secret-that-is-long-enough-for-hs256", settings.access_token_ttl, 60
    )
    forged = forger.issue_pair(parse_id(USER, asha.user_id)).access_token

    await failure(await client.get("/wallets/me", headers=bearer(forged)), 401, 1002)


async def test_protected_route_refuses_an_expired_access_token(
    client: TestClient, asha: Account, settings: Settings
) -> None:
    expired = expired_access_token(settings, asha)

    await failure(await client.get("/wallets/me", headers=bearer(expired)), 401, 1003)


async def test_login_to_a_disabled_account_is_forbidden(client: TestClient, asha: Account) -> None:
    accounts = client.app[CONTAINER].payflow.accounts
    user = accounts.get_user(parse_id(USER, asha.user_id))
    user.disable("reported as compromised")
    accounts.save(user)

    response = await client.post("/auth/login", json={"email": asha.email, "password": PASSWORD})

    await failure(response, 403, 1005)


async def test_refuses_a_name_of_only_spaces(client: TestClient) -> None:
    body = {"name": "    ", "email": "blank@example.com", "password": "Passw0rd1"}
    await failure(await client.post("/auth/register", json=body), 400, 2001, "name")
