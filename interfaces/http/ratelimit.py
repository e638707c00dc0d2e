"""Rate limits, as API.md "Rate limits" states them.

- per client (by IP), production mode only: every route but the exempt ones (4001);
- login and register, per IP and the body's email, and per IP whatever the email
  (4002): a flood of made-up emails is stopped as soon as one of a kind;
- ``POST /transactions``, per authenticated user (4003).

``/health*`` and ``/metrics`` are exempt. A command with an idempotency key is
counted like any other, but a refusal is left to its handler
(``deferred_refusal``), which answers a replay of an earlier outcome for that key
and raises the refusal only when there is none: a retry is never refused.
A request whose ``X-Load-Test-Token``
equals the configured ``LOAD_TEST_SECRET`` skips every limit (never when the
secret is unset). Limited responses carry ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` of the tightest limit, refused
ones also ``Retry-After``; ``rate_limit_headers`` adds them to whatever response
leaves, error envelopes included. Keys are hashed, so no email reaches the
counters' store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from aiohttp import web

from infrastructure.bulkhead import Overloaded, TooMuchAtOnce
from infrastructure.ratelimit import Decision, Rule
from infrastructure.tokens import InvalidToken
from interfaces.http.context import caller, container
from interfaces.http.errors import ApiError, ErrorCode, Handler
from interfaces.http.jsonio import read_body
from interfaces.http.metrics import route_template

LOAD_TEST_HEADER = "X-Load-Test-Token"
AUTH_ROUTES = {("POST", "/auth/login"), ("POST", "/auth/register")}
TRANSFER_ROUTES = {("POST", "/transactions")}
REPLAYABLE_ROUTES = {("POST", "/transactions"), ("POST", "/wallets/me/deposit")}
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
DECISION = web.RequestKey("rate_limit_decision", Decision)
REFUSAL = web.RequestKey("rate_limit_refusal", ApiError)


@dataclass(frozen=True)
class _Group:
    """A kind of limit: its counters' namespace and how a refusal reads."""

    name: str
    code: ErrorCode
    message: str

    def limit(self, rule: Rule, *identity: str) -> _Limit:
        text = "\0".join(identity).encode("utf-8", "surrogatepass")  # any JSON string hashes
        digest = hashlib.sha256(text).hexdigest()[:32]
        return _Limit(self, f"{self.name}:{digest}", rule)


@dataclass(frozen=True)
class _Limit:
    """One limit that applies to a request: its group, hashed counter key and rule."""

    group: _Group
    key: str
    rule: Rule


CLIENT = _Group(
    "client", ErrorCode.RATE_LIMIT_EXCEEDED, "Too many requests, please try again later"
)
AUTH = _Group(
    "auth", ErrorCode.TOO_MANY_LOGIN_ATTEMPTS, "Too many login attempts, please try again later"
)
AUTH_IP = _Group(
    "auth-ip",
    ErrorCode.TOO_MANY_LOGIN_ATTEMPTS,
    "Too many login attempts from this address, please try again later",
)
TRANSFERS = _Group(
    "transfers", ErrorCode.TOO_MANY_TRANSACTIONS, "Too many transactions, please try again later"
)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request against each limit that applies; refuse it past any of them."""
    if _exempt(request) or _bypasses(request):
        return await handler(request)
    limiter = container(request).rate_limiter
    counted = []
    for limit in await _limits_for(request):
        decision = await limiter.hit(limit.key, limit.rule)
        counted.append(limit)
        _remember(request, decision)
        if not decision.allowed:
            refusal = ApiError(429, limit.group.code, limit.group.message)
            if not await _keyed_command(request):
                raise refusal
            request[REFUSAL] = refusal  # the handler replays, or raises it
            break
    try:
        return await handler(request)
    except Exception as error:
        if _ours(error):  # the service could not serve it: it does not count against anyone
            for limit in counted:
                await limiter.forgive(limit.key)
        raise


def _ours(error: Exception) -> bool:
    """A refusal that is the service's doing (busy, or its store away), not the client's."""
    if isinstance(error, TooMuchAtOnce):
        return False
    return isinstance(error, Overloaded) or (isinstance(error, ApiError) and error.status == 503)


def deferred_refusal(request: web.Request) -> ApiError | None:
    """The rate limit's refusal of this keyed command, to raise unless it is a replay."""
    return request.get(REFUSAL)


async def rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the tightest limit's headers, and Retry-After on refusal."""
    decision = request.get(DECISION)
    if decision is None:
        return
    response.headers["RateLimit-Limit"] = str(decision.limit)
    response.headers["RateLimit-Remaining"] = str(decision.remaining)
    response.headers["RateLimit-Reset"] = str(decision.reset_seconds)
    if not decision.allowed and response.status == 429:  # not on a replay it let through
        response.headers["Retry-After"] = str(decision.reset_seconds)


def _exempt(request: web.Request) -> bool:
    return is_exempt(request.path)


def is_exempt(path: str) -> bool:
    """Whether requests to the path skip every limit (so never answer 429)."""
    return path in ("/health", "/metrics") or path.startswith("/health/")


def _bypasses(request: web.Request) -> bool:
    secret = container(request).settings.load_test_secret
    token = request.headers.get(LOAD_TEST_HEADER)
    if not secret or token is None:
        return False
    # aiohttp hands non-UTF-8 header bytes over as surrogates; give them back as bytes
    return hmac.compare_digest(token.encode("utf-8", "surrogateescape"), secret.encode())


async def _limits_for(request: web.Request) -> list[_Limit]:
    settings = container(request).settings
    rules = settings.rate_limits
    client = request.remote or "unknown"
    route = (request.method, route_template(request))
    limits = [CLIENT.limit(rules.per_client, client)] if settings.is_production else []
    if route in AUTH_ROUTES:
        limits.append(AUTH_IP.limit(rules.auth_per_ip, client))
        limits.append(AUTH.limit(rules.auth, client, await _email(request)))
    user = _user(request) if route in TRANSFER_ROUTES else None
    if user is not None:
        limits.append(TRANSFERS.limit(rules.transfers, user))
    return limits


def _remember(request: web.Request, decision: Decision) -> None:
    """Keep the decision with the fewest hits left (a refusal wins a tie)."""
    kept = request.get(DECISION)
    if kept is None or decision.remaining <= kept.remaining:
        request[DECISION] = decision


async def _email(request: web.Request) -> str:
    """The body's email, normalised; the body stays readable (aiohttp caches it)."""
    email = await _body_field(request, "email")
    return email.strip().lower() if isinstance(email, str) else ""


async def _keyed_command(request: web.Request) -> bool:
    """A command that carries an idempotency key, and so may be a replay."""
    if (request.method, route_template(request)) not in REPLAYABLE_ROUTES:
        return False
    return IDEMPOTENCY_HEADER in request.headers or bool(
        await _body_field(request, "idempotencyKey")
    )


async def _body_field(request: web.Request, name: str) -> object:
    try:
        body = json.loads(await read_body(request))
    except (ValueError, RecursionError):
        return None
    return body.get(name) if isinstance(body, dict) else None


def _user(request: web.Request) -> str | None:
    """The caller's user id; ``None`` when unauthenticated (the route answers 401)."""
    try:
        return str(caller(request))
    except (ApiError, InvalidToken):
        return None
