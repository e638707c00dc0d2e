"""TokenService: access and refresh JWTs, and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5

import jwt
import pytest

from infrastructure.tokens import (
    ACCESS,
    REFRESH,
    ExpiredToken,
    InvalidToken,
    TokenError,
    TokenService,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
USER = uuid5(NAMESPACE_URL, "https://payflow.test/users/asha")
LONG_AGO = 1_000_000_000.0  # September 2001


def service(secret: str = SECRET, clock: Callable[[], float] = time.time) -> TokenService:
    return TokenService(secret, access_ttl=900, refresh_ttl=7 * 24 * 3600, clock=clock)


def payload_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def signed(**claims: Any) -> str:
    now = int(time.time())
    base = {
        "iss": "payflow",
        "sub": str(USER),
        "type": ACCESS,
        "jti": uuid4().hex,
        "iat": now,
        "exp": now + 900,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, "HS256")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_issues_an_access_token_that_checks_as_access() -> None:
    pair = service().issue_pair(USER)
    claims = service().check(pair.access_token, ACCESS)
    assert claims.user_id == USER
    assert claims.token_type == ACCESS
    assert claims.family is None
    assert claims.jti


def test_issues_a_refresh_token_that_checks_as_refresh_with_a_family() -> None:
    pair = service().issue_pair(USER)
    claims = service().check(pair.refresh_token, REFRESH)
    assert claims.user_id == USER
    assert claims.token_type == REFRESH
    assert claims.family


def test_a_rotated_pair_keeps_the_family_it_is_given() -> None:
    pair = service().issue_pair(USER, family="fam-1")
    assert service().check(pair.refresh_token, REFRESH).family == "fam-1"


def test_each_pair_gets_a_new_family_and_new_token_ids() -> None:
    first, second = service().issue_pair(USER), service().issue_pair(USER)
    first_refresh = service().check(first.refresh_token, REFRESH)
    second_refresh = service().check(second.refresh_token, REFRESH)
    assert first_refresh.family != second_refresh.family
    jtis = {
        service().check(first.access_token, ACCESS).jti,
        service().check(second.access_token, ACCESS).jti,
        first_refresh.jti,
        second_refresh.jti,
    }
    assert len(jtis) == 4


def test_tokens_expire_after_their_own_ttl() -> None:
    issued = 1_700_000_000.0
    pair = TokenService(SECRET, access_ttl=60, refresh_ttl=3600, clock=lambda: issued).issue_pair(
        USER
    )
    access, refresh = payload_of(pair.access_token), payload_of(pair.refresh_token)
    assert (access["iat"], access["exp"]) == (1_700_000_000, 1_700_000_060)
    assert (refresh["iat"], refresh["exp"]) == (1_700_000_000, 1_700_003_600)
    assert access["iss"] == refresh["iss"] == "payflow"
    assert access["sub"] == str(USER)


def test_refuses_a_refresh_token_as_access() -> None:
    pair = service().issue_pair(USER)
    with pytest.raises(InvalidToken):
        service().check(pair.refresh_token, ACCESS)


def test_refuses_an_access_token_as_refresh() -> None:
    pair = service().issue_pair(USER)
    with pytest.raises(InvalidToken):
        service().check(pair.access_token, REFRESH)


def test_refuses_a_token_signed_with_another_secret() -> None:
    pair = service(secret="another-secret-that-is-long-enough-for-hs256").issue_pair(USER)
    with pytest.raises(InvalidToken):
        service().check(pair.access_token, ACCESS)


def test_refuses_a_token_whose_payload_was_changed() -> None:
    header, _, signature = service().issue_pair(USER).access_token.split(".")
    payload = payload_of(service().issue_pair(USER).access_token) | {"sub": str(uuid4())}
    forged = ".".join([header, b64(json.dumps(payload).encode()), signature])
    with pytest.raises(InvalidToken):
        service().check(forged, ACCESS)


def test_refuses_a_token_whose_signature_was_changed() -> None:
    header, payload, signature = service().issue_pair(USER).access_token.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(InvalidToken):
        service().check(f"{header}.{payload}.{flipped}", ACCESS)


def test_refuses_an_unsigned_token() -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(payload_of(service().issue_pair(USER).access_token)).encode())
    with pytest.raises(InvalidToken):
        service().check(f"{header}.{payload}.", ACCESS)


@pytest.mark.parametrize("token_type", [ACCESS, REFRESH])
def test_refuses_an_expired_token_as_expired(token_type: str) -> None:
    pair = service(clock=lambda: LONG_AGO).issue_pair(USER)
    token = pair.access_token if token_type == ACCESS else pair.refresh_token
    with pytest.raises(ExpiredToken):
        service().check(token, token_type)


def test_accepts_a_token_issued_a_minute_ago() -> None:
    pair = service(clock=lambda: time.time() - 60).issue_pair(USER)
    assert service().check(pair.access_token, ACCESS).user_id == USER


def test_refuses_an_access_token_just_past_its_ttl() -> None:
    pair = service(clock=lambda: time.time() - 901).issue_pair(USER)
    with pytest.raises(ExpiredToken):
        service().check(pair.access_token, ACCESS)


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9", "Bearer x.y.z", "ü.ü.ü"],
)
def test_refuses_garbage(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        service().check(garbage, ACCESS)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "someone-else"},
        {"iss": None},
        {"sub": "not-a-uuid"},
        {"sub": None},
        {"jti": None},
        {"type": None},
        {"exp": None},
        {"iat": None},
        {"type": "admin"},
    ],
    ids=lambda c: next(f"{k}={v}" for k, v in c.items()),
)
def test_refuses_a_correctly_signed_token_with_wrong_or_missing_claims(
    claims: dict[str, Any],
) -> None:
    with pytest.raises(InvalidToken):
        service().check(signed(**claims), ACCESS)


def test_a_correctly_signed_token_with_every_claim_is_accepted() -> None:
    assert service().check(signed(), ACCESS).user_id == USER


def test_both_refusals_are_token_errors() -> None:
    assert issubclass(InvalidToken, TokenError)
    assert issubclass(ExpiredToken, TokenError)
    assert not issubclass(ExpiredToken, InvalidToken)


# Remembered access tokens ------------------------------------------------------------


def test_an_access_token_verified_once_is_accepted_again_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = service()
    token = tokens.issue_pair(USER).access_token
    assert tokens.check(token, ACCESS).user_id == USER

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded again")

    monkeypatch.setattr(jwt, "decode", refuse)
    assert tokens.check(token, ACCESS).user_id == USER


def test_a_remembered_access_token_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = service()
    token = tokens.issue_pair(USER).access_token
    tokens.check(token, ACCESS)
    expiry = payload_of(token)["exp"]
    monkeypatch.setattr(time, "time", lambda: expiry + 0.5)
    with pytest.raises(ExpiredToken):
        tokens.check(token, ACCESS)


def test_a_changed_copy_of_a_remembered_token_is_still_refused() -> None:
    tokens = service()
    token = tokens.issue_pair(USER).access_token
    tokens.check(token, ACCESS)
    header, payload, signature = token.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sub"] = str(uuid4())
    with pytest.raises(InvalidToken):
        tokens.check(f"{header}.{b64(json.dumps(forged).encode())}.{signature}", ACCESS)
    with pytest.raises(InvalidToken):
        tokens.check(token, REFRESH)  # remembered as access, still not a refresh token


def test_refresh_tokens_are_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = service()
    token = tokens.issue_pair(USER).refresh_token
    tokens.check(token, REFRESH)
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: (_ for _ in ()).throw(jwt.PyJWTError()))
    with pytest.raises(InvalidToken):
        tokens.check(token, REFRESH)
