"""Refresh-token rotation, reuse detection, logout and /auth/me over HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from infrastructure.tokens import REFRESH, TokenService
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
from tests.http.test_openapi import response_schema, spec_of

CONCURRENT = 10
ENDPOINTS = ["/auth/refresh", "/auth/logout"]


async def refresh(client: TestClient, token: str) -> ClientResponse:
    return await client.post("/auth/refresh", json={"refreshToken": token})


async def rotated(client: TestClient, token: str) -> dict[str, str]:
    """The new pair a successful refresh returns."""
    data = await success(await refresh(client, token))
    assert set(data) == {"tokens"}
    assert set(data["tokens"]) == TOKEN_KEYS
    tokens: dict[str, str] = data["tokens"]
    return tokens


async def logout(client: TestClient, token: str) -> ClientResponse:
    return await client.post("/auth/logout", json={"refreshToken": token})


async def login(client: TestClient, account: Account) -> dict[str, str]:
    body = {"email": account.email, "password": PASSWORD}
    tokens: dict[str, str] = (await success(await client.post("/auth/login", json=body)))["tokens"]
    return tokens


def family_of(client: TestClient, token: str) -> UUID:
    family = client.app[CONTAINER].tokens.check(token, REFRESH).family
    assert family is not None
    return UUID(family)


def minted(settings: Settings, user_id: str, family: str, clock: float | None = None) -> str:
    """A refresh token signed with the deployment's own secret, for any family."""
    issued = time.time() if clock is None else clock
    tokens = TokenService(
        settings.jwt_secret,
        settings.access_token_ttl,
        settings.refresh_token_ttl,
        clock=lambda: issued,
    )
    return tokens.issue_pair(parse_id(USER, user_id), family=family).refresh_token


# Rotation --------------------------------------------------------------------------


async def test_refresh_returns_a_new_pair_of_the_same_family_that_works(
    client: TestClient, asha: Account
) -> None:
    tokens = await rotated(client, asha.refresh)

    assert tokens["refreshToken"] != asha.refresh
    assert tokens["accessToken"] != asha.access
    assert family_of(client, tokens["refreshToken"]) == family_of(client, asha.refresh)
    me = await success(await client.get("/auth/me", headers=bearer(tokens["accessToken"])))
    assert me["user"]["userId"] == asha.user_id


async def test_each_new_refresh_token_rotates_in_turn(client: TestClient, asha: Account) -> None:
    token = asha.refresh
    seen = {token}
    for _ in range(3):
        token = (await rotated(client, token))["refreshToken"]
        seen.add(token)

    assert len(seen) == 4


async def test_a_login_token_rotates_too(client: TestClient, asha: Account) -> None:
    tokens = await login(client, asha)

    await rotated(client, tokens["refreshToken"])


# Reuse detection -------------------------------------------------------------------


async def test_reusing_a_spent_refresh_token_revokes_the_newest_one_too(
    client: TestClient, asha: Account
) -> None:
    newest = (await rotated(client, asha.refresh))["refreshToken"]

    await failure(await refresh(client, asha.refresh), 401, 1002)  # the replay
    await failure(await refresh(client, newest), 401, 1002)  # the owner's, now dead too


async def test_reuse_in_one_family_leaves_another_login_working(
    client: TestClient, asha: Account
) -> None:
    other = await login(client, asha)
    await rotated(client, asha.refresh)
    await failure(await refresh(client, asha.refresh), 401, 1002)

    await rotated(client, other["refreshToken"])


# Logout ----------------------------------------------------------------------------


async def test_logout_revokes_every_token_of_the_family(client: TestClient, asha: Account) -> None:
    newest = (await rotated(client, asha.refresh))["refreshToken"]

    data = await success(await logout(client, newest))

    assert set(data) == {"message"}
    assert data["message"]
    await failure(await refresh(client, newest), 401, 1002)
    await failure(await refresh(client, asha.refresh), 401, 1002)


async def test_logging_out_twice_is_harmless(client: TestClient, asha: Account) -> None:
    await success(await logout(client, asha.refresh))
    await success(await logout(client, asha.refresh))

    await failure(await refresh(client, asha.refresh), 401, 1002)


async def test_logout_leaves_other_sessions_working(client: TestClient, asha: Account) -> None:
    other = await login(client, asha)

    await success(await logout(client, asha.refresh))

    await rotated(client, other["refreshToken"])


# Refused tokens --------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_an_access_token_is_never_a_refresh_token(
    client: TestClient, asha: Account, path: str
) -> None:
    response = await client.post(path, json={"refreshToken": asha.access})

    await failure(response, 401, 1002)
    await rotated(client, asha.refresh)  # the refusal touched nothing


async def test_a_refresh_token_is_never_an_access_token(client: TestClient, asha: Account) -> None:
    await failure(await client.get("/auth/me", headers=bearer(asha.refresh)), 401, 1002)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_an_expired_refresh_token_is_token_expired(
    client: TestClient, asha: Account, settings: Settings, path: str
) -> None:
    long_ago = time.time() - settings.refresh_token_ttl - 60
    family = family_of(client, asha.refresh).hex
    expired = minted(settings, asha.user_id, family, clock=long_ago)

    await failure(await client.post(path, json={"refreshToken": expired}), 401, 1003)


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("family", ["not-a-uuid", "unknown", "the-user-itself"])
async def test_a_refresh_token_of_no_family_of_ours_is_invalid(
    client: TestClient, asha: Account, settings: Settings, path: str, family: str
) -> None:
    named = {"unknown": uuid4().hex, "the-user-itself": parse_id(USER, asha.user_id).hex}
    token = minted(settings, asha.user_id, named.get(family, family))

    await failure(await client.post(path, json={"refreshToken": token}), 401, 1002)


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_a_refresh_token_of_another_users_family_is_invalid(
    client: TestClient, asha: Account, ravi: Account, settings: Settings, path: str
) -> None:
    token = minted(settings, asha.user_id, family_of(client, ravi.refresh).hex)

    await failure(await client.post(path, json={"refreshToken": token}), 401, 1002)
    await rotated(client, ravi.refresh)  # Ravi's family is untouched


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "code"),
    [({}, 2004), ({"refreshToken": ""}, 2001), ({"refreshToken": 42}, 2001)],
)
async def test_a_body_without_a_refresh_token_is_refused(
    client: TestClient, path: str, body: dict[str, Any], code: int
) -> None:
    await failure(await client.post(path, json=body), 400, code, "refreshToken")


async def test_a_disabled_user_cannot_refresh(client: TestClient, asha: Account) -> None:
    accounts = client.app[CONTAINER].payflow.accounts
    user = accounts.get_user(parse_id(USER, asha.user_id))
    user.disable("reported as compromised")
    accounts.save(user)

    await failure(await refresh(client, asha.refresh), 403, 1005)


# /auth/me --------------------------------------------------------------------------


async def test_me_returns_the_user_as_login_does(client: TestClient, asha: Account) -> None:
    body = {"email": asha.email, "password": PASSWORD}
    logged_in = await success(await client.post("/auth/login", json=body))

    data = await success(await client.get("/auth/me", headers=asha.auth))

    assert set(data) == {"user"}
    assert set(data["user"]) >= USER_KEYS
    assert data["user"] == logged_in["user"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, 1001), ({"Authorization": "Basic abc"}, 1001), (bearer("not.a.jwt"), 1002)],
)
async def test_me_without_a_valid_access_token_is_unauthorized(
    client: TestClient, headers: dict[str, str], code: int
) -> None:
    await failure(await client.get("/auth/me", headers=headers), 401, code)


async def test_me_with_an_expired_access_token_is_token_expired(
    client: TestClient, asha: Account, settings: Settings
) -> None:
    expired = expired_access_token(settings, asha)

    await failure(await client.get("/auth/me", headers=bearer(expired)), 401, 1003)


# Races and the contract ------------------------------------------------------------


async def test_concurrent_refreshes_with_one_token_let_one_win_then_revoke_the_family(
    client: TestClient, asha: Account
) -> None:
    """Decided: a burst of uses of one token is a reuse. One request gets a new pair;
    the losers find the token spent and revoke the family, so that pair dies too."""
    responses = await asyncio.gather(*(refresh(client, asha.refresh) for _ in range(CONCURRENT)))

    winners = [r for r in responses if r.status == 200]
    assert len(winners) == 1
    for loser in (r for r in responses if r.status != 200):
        await failure(loser, 401, 1002)
    successor = (await success(winners[0]))["tokens"]["refreshToken"]
    await failure(await refresh(client, successor), 401, 1002)
    sessions = client.app[CONTAINER].payflow.sessions
    family = sessions.get(family_of(client, asha.refresh), parse_id(USER, asha.user_id))
    assert family.is_revoked


async def test_answers_match_their_documented_schemas(client: TestClient, api: Api) -> None:
    asha = await api.register()
    spec = await spec_of(client)
    me = await client.get("/auth/me", headers=asha.auth)
    refreshed = await refresh(client, asha.refresh)
    reused = await refresh(client, asha.refresh)
    logged_out = await logout(client, asha.refresh)

    for method, path, response, status in [
        ("GET", "/auth/me", me, 200),
        ("POST", "/auth/refresh", refreshed, 200),
        ("POST", "/auth/refresh", reused, 401),
        ("POST", "/auth/logout", logged_out, 200),
    ]:
        assert response.status == status
        validator = response_schema(spec, method, path, status)
        errors = list(validator.iter_errors(await response.json()))
        assert errors == [], (path, status, [e.message for e in errors])
