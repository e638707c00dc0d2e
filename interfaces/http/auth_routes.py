"""Auth routes: register, log in, rotate a refresh token, log out, and who am I.

Password hashing runs on threads of its own (``hashing``), store access on others
(``blocking``): a flood of logins fills only the first, and is refused with 503
once their queue is full, while the ledger goes on. Registering or logging in
starts a refresh-token family in the event store;
refresh spends the presented token for a new pair of the same family, and
logout revokes the family. Access tokens stay stateless until they expire.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from infrastructure.tokens import REFRESH, Claims, InvalidToken, TokenPair
from interfaces.http import render
from interfaces.http.context import blocking, caller, container, hashing
from interfaces.http.jsonio import ok, read_json
from interfaces.http.schemas import LoginSchema, RefreshSchema, RegisterSchema, load

routes = web.RouteTableDef()


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    body = load(RegisterSchema, await read_json(request))
    payflow = container(request).payflow
    password_hash = await hashing(request, payflow.hasher.hash, body["password"])
    registration = await blocking(
        request,
        payflow.register_hashed,
        body["name"].strip(),
        body["email"],
        password_hash,
        body["phone"],
    )
    pair = await _sign_in(request, registration.user.id)
    data = {"user": render.user(registration.user), "tokens": render.tokens(pair)}
    return ok(data, status=201)


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    body = load(LoginSchema, await read_json(request))
    payflow = container(request).payflow
    sign_in = await blocking(request, payflow.sign_in_for, body["email"])
    verified = await hashing(
        request, payflow.hasher.verify, sign_in.password_hash, body["password"]
    )
    user = sign_in.user_if(verified)
    pair = await _sign_in(request, user.id)
    return ok({"user": render.user(user), "tokens": render.tokens(pair)})


@routes.post("/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    claims, family_id = await _presented(request)
    payflow = container(request).payflow
    jti = await blocking(request, payflow.rotate, claims.user_id, family_id, claims.jti)
    pair = container(request).tokens.issue_pair(claims.user_id, family=family_id.hex, jti=jti)
    return ok({"tokens": render.tokens(pair)})


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    claims, family_id = await _presented(request)
    await blocking(request, container(request).payflow.revoke, claims.user_id, family_id)
    return ok({"message": "Logged out successfully"})


@routes.get("/auth/me")
async def me(request: web.Request) -> web.Response:
    user = await blocking(request, container(request).payflow.user, caller(request))
    return ok({"user": render.user(user)})


async def _sign_in(request: web.Request, user_id: UUID) -> TokenPair:
    """Start a token family for the user and issue its first pair."""
    family = await blocking(request, container(request).payflow.start_session, user_id)
    tokens = container(request).tokens
    return tokens.issue_pair(user_id, family=family.id.hex, jti=family.current_jti)


async def _presented(request: web.Request) -> tuple[Claims, UUID]:
    """The claims of the body's refresh token, and the id of its family."""
    body = load(RefreshSchema, await read_json(request))
    claims = container(request).tokens.check(body["refresh_token"], REFRESH)
    try:
        return claims, UUID(claims.family or "")
    except ValueError:
        raise InvalidToken("refresh token names no valid family") from None
