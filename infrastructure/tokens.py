"""JWT access and refresh tokens (HS256, through PyJWT).

An access token says ``type: access`` and a refresh token ``type: refresh``;
neither is accepted in the other's place. Every refresh token carries a family
id (``fam``); whether a family and its ``jti`` are still valid is the event
store's business (see ``application/sessions.py``), not this module's.

An access token that verified once is remembered (the most recent
``VERIFIED_CACHE_SIZE``) until its expiry, so a client's next requests cost a
dictionary lookup instead of an HMAC and a JSON parse: only exactly the same
token string is accepted from memory, and never after its ``exp``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

ACCESS = "access"
REFRESH = "refresh"
ALGORITHM = "HS256"
ISSUER = "payflow"
VERIFIED_CACHE_SIZE = 10_000


class TokenError(Exception):
    """A token was refused."""


class InvalidToken(TokenError):
    """Malformed, wrongly signed, or of the wrong type."""


class ExpiredToken(TokenError):
    """Well-formed and signed, but past its expiry."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Claims:
    user_id: UUID
    token_type: str
    jti: str
    family: str | None


class TokenService:
    """Issues and checks the tokens of one deployment."""

    def __init__(
        self,
        secret: str,
        access_ttl: int,
        refresh_ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Claims, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def issue_pair(
        self, user_id: UUID, family: str | None = None, jti: str | None = None
    ) -> TokenPair:
        """An access token, and a refresh token of ``family`` whose id is ``jti``."""
        family = family or uuid.uuid4().hex
        refresh = self._encode(user_id, REFRESH, self._refresh_ttl, jti, fam=family)
        return TokenPair(
            access_token=self._encode(user_id, ACCESS, self._access_ttl),
            refresh_token=refresh,
        )

    def check(self, token: str, expected_type: str) -> Claims:
        if expected_type == ACCESS:
            remembered = self._remembered(token)
            if remembered is not None:
                return remembered
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "type"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("token has expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("token is not valid") from None
        if payload.get("type") != expected_type:
            raise InvalidToken(f"expected a {expected_type} token")
        try:
            user_id = UUID(payload["sub"])
        except (ValueError, TypeError):
            raise InvalidToken("token subject is not a user") from None
        claims = Claims(user_id, payload["type"], payload["jti"], payload.get("fam"))
        if expected_type == ACCESS:
            self._remember(token, claims, float(payload["exp"]))
        return claims

    def _remembered(self, token: str) -> Claims | None:
        """The claims of an access token verified before; ExpiredToken past its expiry."""
        with self._verified_lock:
            found = self._verified.get(token)
            if found is None:
                return None
            claims, expires = found
            if time.time() < expires:
                return claims
            del self._verified[token]
        raise ExpiredToken("token has expired")

    def _remember(self, token: str, claims: Claims, expires: float) -> None:
        with self._verified_lock:
            self._verified[token] = (claims, expires)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)

    def _encode(
        self, user_id: UUID, token_type: str, ttl: int, jti: str | None = None, **extra: Any
    ) -> str:
        now = int(self._clock())
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "userId": f"user_{user_id.hex}",
            "type": token_type,
            "jti": jti or uuid.uuid4().hex,
            "iat": now,
            "exp": now + ttl,
            **extra,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)
