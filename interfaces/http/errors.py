"""Error codes of the HTTP contract, and the middleware that renders every failure.

Handlers raise domain errors or ``ApiError``; only this module builds error
responses, all in the contract's envelope.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from eventsourcing.persistence import IntegrityError, PersistenceError

from application.base import CommitsWaiting
from domain import errors as domain
from infrastructure.bulkhead import Overloaded, TooMuchAtOnce
from infrastructure.tokens import ExpiredToken, InvalidToken
from interfaces.http.encoding import dumps
from interfaces.http.keys import CONTAINER

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
CORRELATION_ID = web.RequestKey("correlation_id", str)
_ids = random.Random()  # noqa: S311 (seeded from the system once; ids need not be secret)


def new_correlation_id() -> str:
    """32 random hex digits. A correlation id only tells requests apart in the logs, so
    it comes from a pseudo-random generator: ``uuid4`` asks the system for bytes, and
    on the event loop, with other threads busy, each ask cost as much as a request."""
    return f"{_ids.getrandbits(128):032x}"


class ErrorCode(IntEnum):
    UNAUTHORIZED = 1001
    INVALID_TOKEN = 1002
    TOKEN_EXPIRED = 1003
    INVALID_CREDENTIALS = 1004
    FORBIDDEN = 1005
    VALIDATION_ERROR = 2001
    INVALID_AMOUNT = 2002
    INVALID_INPUT = 2003
    MISSING_REQUIRED_FIELD = 2004
    INSUFFICIENT_BALANCE = 3001
    USER_NOT_FOUND = 3002
    WALLET_NOT_FOUND = 3003
    TRANSACTION_NOT_FOUND = 3004
    SELF_TRANSFER = 3005
    DUPLICATE_TRANSACTION = 3006
    WEBHOOK_NOT_FOUND = 3007
    USER_ALREADY_EXISTS = 3008
    RESOURCE_NOT_FOUND = 3010
    LIMIT_EXCEEDED = 3011
    DAILY_LIMIT_EXCEEDED = 3012
    BALANCE_CAP_EXCEEDED = 3013
    CURRENCY_MISMATCH = 3015
    WALLET_INACTIVE = 3016
    WALLET_NOT_EMPTY = 3017
    WEBHOOK_ALREADY_EXISTS = 3018
    DELIVERY_PENDING = 3019
    RATE_LIMIT_EXCEEDED = 4001
    TOO_MANY_LOGIN_ATTEMPTS = 4002
    TOO_MANY_TRANSACTIONS = 4003
    INTERNAL_ERROR = 5001
    DATABASE_ERROR = 5002
    READ_MODEL_BEHIND = 5006
    OVERLOADED = 5007


class ApiError(Exception):
    """A request-level failure with its HTTP status, code and optional field details."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        details: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


# Most specific first: the first matching class decides.
_DOMAIN_ERRORS: list[tuple[type[Exception], int, ErrorCode]] = [
    (domain.InvalidAmount, 400, ErrorCode.INVALID_AMOUNT),
    (domain.CurrencyMismatch, 400, ErrorCode.CURRENCY_MISMATCH),
    (domain.InsufficientFunds, 400, ErrorCode.INSUFFICIENT_BALANCE),
    (domain.BalanceCapExceeded, 400, ErrorCode.BALANCE_CAP_EXCEEDED),
    (domain.DailyLimitExceeded, 400, ErrorCode.DAILY_LIMIT_EXCEEDED),
    (domain.LimitExceeded, 400, ErrorCode.LIMIT_EXCEEDED),
    (domain.WalletFrozen, 400, ErrorCode.WALLET_INACTIVE),
    (domain.WalletClosed, 400, ErrorCode.WALLET_INACTIVE),
    (domain.WalletNotEmpty, 400, ErrorCode.WALLET_NOT_EMPTY),
    (domain.SelfTransfer, 400, ErrorCode.SELF_TRANSFER),
    (domain.UserAlreadyExists, 409, ErrorCode.USER_ALREADY_EXISTS),
    (domain.InvalidCredentials, 401, ErrorCode.INVALID_CREDENTIALS),
    (domain.IdempotencyConflict, 409, ErrorCode.DUPLICATE_TRANSACTION),
    (domain.WebhookExists, 409, ErrorCode.WEBHOOK_ALREADY_EXISTS),
    (domain.WebhookLimitReached, 400, ErrorCode.LIMIT_EXCEEDED),
    (domain.DeliveryPending, 409, ErrorCode.DELIVERY_PENDING),
    (domain.UserNotFound, 404, ErrorCode.USER_NOT_FOUND),
    (domain.WalletNotFound, 404, ErrorCode.WALLET_NOT_FOUND),
    (domain.TransferNotFound, 404, ErrorCode.TRANSACTION_NOT_FOUND),
    (domain.WebhookNotFound, 404, ErrorCode.WEBHOOK_NOT_FOUND),
    (domain.DeliveryNotFound, 404, ErrorCode.RESOURCE_NOT_FOUND),
    (domain.NotFound, 404, ErrorCode.RESOURCE_NOT_FOUND),
    (domain.Forbidden, 403, ErrorCode.FORBIDDEN),
    (domain.SessionInvalid, 401, ErrorCode.INVALID_TOKEN),
    (ExpiredToken, 401, ErrorCode.TOKEN_EXPIRED),
    (InvalidToken, 401, ErrorCode.INVALID_TOKEN),
]


def as_api_error(error: Exception) -> ApiError:
    """The contract's view of any exception."""
    if isinstance(error, ApiError):
        return error
    for cls, status, code in _DOMAIN_ERRORS:
        if isinstance(error, cls):
            return ApiError(status, code, str(error))
    return _infrastructure_error(error) or ApiError(
        500, ErrorCode.INTERNAL_ERROR, "Internal server error"
    )


def _infrastructure_error(error: Exception) -> ApiError | None:
    """What the contract says of a failure outside the ledger, if it says anything."""
    if isinstance(error, RequestPayloadError | HttpProcessingError):
        return ApiError(
            400, ErrorCode.VALIDATION_ERROR, "The body could not be read as its headers describe it"
        )
    if isinstance(error, TooMuchAtOnce):
        return ApiError(
            429,
            ErrorCode.RATE_LIMIT_EXCEEDED,
            "Too many of your requests at once; wait for the earlier ones",
            headers={"Retry-After": "1"},
        )
    if isinstance(error, Overloaded | CommitsWaiting):
        return ApiError(
            503,
            ErrorCode.OVERLOADED,
            f"PayFlow is busy ({error.name}); nothing was done. Retry shortly.",
            headers={"Retry-After": str(error.retry_after)},
        )
    if isinstance(error, PersistenceError) and not isinstance(error, IntegrityError):
        return ApiError(503, ErrorCode.DATABASE_ERROR, "The event store is unavailable")
    return None


def _from_http_exception(error: web.HTTPException) -> ApiError:
    if error.status == 404:
        return ApiError(404, ErrorCode.VALIDATION_ERROR, "Route not found")
    if error.status == 413:
        return ApiError(413, ErrorCode.VALIDATION_ERROR, "Request body is too large")
    return ApiError(error.status, ErrorCode.VALIDATION_ERROR, error.reason)


def error_response(error: ApiError, correlation_id: str) -> web.Response:
    body: dict[str, Any] = {
        "code": int(error.code),
        "message": error.message,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "correlationId": correlation_id,
    }
    if error.details:
        body["details"] = error.details
    return web.json_response(
        {"success": False, "error": body}, status=error.status, headers=error.headers, dumps=dumps
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@web.middleware
async def store_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse writes at once while the event store is known to be unreachable."""
    probe = request.app[CONTAINER].probe
    if request.method in WRITES and probe is not None and not probe.is_up:
        raise ApiError(
            503,
            ErrorCode.DATABASE_ERROR,
            "The event store is unreachable; nothing was written. Retry shortly.",
            headers={"Retry-After": "1"},
        )
    return await handler(request)


@web.middleware
async def envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as an error envelope, and echo the correlation id."""
    correlation_id = request.get(CORRELATION_ID) or new_correlation_id()  # set by the access log
    try:
        response = await handler(request)
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        response = error_response(_from_http_exception(http_error), correlation_id)
    except Exception as error:  # every failure leaves in the envelope
        response = _failure_response(request, error, correlation_id)
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


def _failure_response(
    request: web.Request, error: Exception, correlation_id: str
) -> web.StreamResponse:
    """The envelope for ``error``. Apart from the middleware, so that no frame on the
    error's traceback keeps the error (a cycle only a full collection frees)."""
    if isinstance(error, RequestPayloadError):  # the rest of that body is unreadable too:
        request.content.feed_eof()  # nothing more to drain from it after the answer
    api_error = as_api_error(error)
    if api_error.status == 500:  # a fault of ours: the traceback is the clue
        log.exception("request failed", extra={"correlation_id": correlation_id})
    return error_response(api_error, correlation_id)
