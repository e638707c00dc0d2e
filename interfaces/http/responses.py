"""Response schemas: what each answer holds, for the OpenAPI document and its tests.

The renderers in ``render.py`` build these shapes; the contract tests validate
real responses against these schemas, so the two cannot drift apart.
"""

from __future__ import annotations

import functools

from marshmallow import Schema, fields, validate

from domain.transfer import TransferStatus
from domain.webhook import DeliveryStatus, WebhookEvent


class Amount(fields.Decimal):
    """Rupees as an exact JSON number with at most two decimals."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(as_string=False, **kwargs)  # type: ignore[arg-type]


class UserOut(Schema):
    userId = fields.Str(required=True)
    name = fields.Str(required=True)
    email = fields.Str(required=True)
    isEmailVerified = fields.Bool(required=True)
    vpa = fields.Str(required=True)


class TokensOut(Schema):
    accessToken = fields.Str(required=True)
    refreshToken = fields.Str(required=True)


class AuthOut(Schema):
    user = fields.Nested(UserOut, required=True)
    tokens = fields.Nested(TokensOut, required=True)


class TokensData(Schema):
    tokens = fields.Nested(TokensOut, required=True)


class UserData(Schema):
    user = fields.Nested(UserOut, required=True)


class MessageOut(Schema):
    message = fields.Str(required=True)


class WalletOut(Schema):
    walletId = fields.Str(required=True)
    userId = fields.Str(required=True)
    vpa = fields.Str(required=True, allow_none=True)
    balance = Amount(required=True)
    currency = fields.Str(required=True)
    isActive = fields.Bool(required=True)
    isFrozen = fields.Bool(required=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)


class WalletData(Schema):
    wallet = fields.Nested(WalletOut, required=True)


class DepositOut(Schema):
    message = fields.Str(required=True)
    newBalance = Amount(required=True)
    operationId = fields.Str(required=True)
    idempotent = fields.Bool(required=True)


class TransactionOut(Schema):
    transactionId = fields.Str(required=True)
    senderId = fields.Str(required=True)
    receiverId = fields.Str(required=True)
    amount = Amount(required=True)
    currency = fields.Str(required=True)
    status = fields.Str(required=True, validate=validate.OneOf([s.value for s in TransferStatus]))
    description = fields.Str(required=True, allow_none=True)
    failureReason = fields.Str(required=True, allow_none=True)
    initiatedAt = fields.DateTime(required=True)
    completedAt = fields.DateTime(required=True, allow_none=True)


class TransactionData(Schema):
    transaction = fields.Nested(TransactionOut, required=True)


class ServiceOut(Schema):
    name = fields.Str(required=True)
    version = fields.Str(required=True)
    docs = fields.Str(required=True)


class HealthOut(Schema):
    status = fields.Str(
        required=True, validate=validate.OneOf(["healthy", "degraded", "unhealthy"])
    )
    services = fields.Dict(keys=fields.Str(), values=fields.Str(), required=True)
    store = fields.Str(required=True)
    timestamp = fields.DateTime(required=True)


class ErrorOut(Schema):
    code = fields.Int(required=True)
    message = fields.Str(required=True)
    timestamp = fields.DateTime(required=True)
    correlationId = fields.Str(required=True)
    details = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))


class ErrorEnvelope(Schema):
    success = fields.Bool(required=True, validate=validate.Equal(False))
    error = fields.Nested(ErrorOut, required=True)


@functools.cache
def envelope(data: type[Schema]) -> type[Schema]:
    """The success envelope ``{"success": true, "data": <data>}`` around a schema."""
    name = data.__name__.removesuffix("Out").removesuffix("Data") + "Envelope"
    return type(
        name,
        (Schema,),
        {
            "success": fields.Bool(required=True, validate=validate.Equal(True)),
            "data": fields.Nested(data, required=True),
        },
    )


class PaginationOut(Schema):
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
    hasMore = fields.Bool(required=True)
    nextCursor = fields.Str(required=True, allow_none=True)


class TransactionListOut(Schema):
    transactions = fields.List(fields.Nested(TransactionOut), required=True)
    pagination = fields.Nested(PaginationOut, required=True)


class MovementOut(Schema):
    type = fields.Str(
        required=True,
        validate=validate.OneOf(["DEPOSIT", "DEPOSIT_FUNDING", "DEBIT", "CREDIT", "REFUND"]),
    )
    amount = Amount(required=True)
    balanceAfter = Amount(required=True)
    operationId = fields.Str(required=True)
    counterpartyWalletId = fields.Str(required=True, allow_none=True)
    createdAt = fields.DateTime(required=True)


class HistoryPaginationOut(Schema):
    limit = fields.Int(required=True)
    hasMore = fields.Bool(required=True)


class HistoryOut(Schema):
    walletId = fields.Str(required=True)
    history = fields.List(fields.Nested(MovementOut), required=True)
    pagination = fields.Nested(HistoryPaginationOut, required=True)


class BalanceOut(Schema):
    walletId = fields.Str(required=True)
    balance = Amount(required=True)
    currency = fields.Str(required=True)
    updatedAt = fields.DateTime(required=True)


class SimulationOut(Schema):
    enabled = fields.Bool(required=True)
    failureRate = fields.Decimal(as_string=False, required=True)
    failureType = fields.Str(required=True, validate=validate.OneOf(["ERROR", "TIMEOUT"]))
    failTransactionIds = fields.List(fields.Str(), required=True)


class BalanceAsOfOut(Schema):
    walletId = fields.Str(required=True)
    balance = Amount(required=True)
    currency = fields.Str(required=True)
    asOf = fields.DateTime(required=True)


EVENT = validate.OneOf([e.value for e in WebhookEvent])
DELIVERY_STATUS = validate.OneOf([s.value for s in DeliveryStatus])


class WebhookOut(Schema):
    webhookId = fields.Str(required=True)
    url = fields.Str(required=True)
    events = fields.List(fields.Str(validate=EVENT), required=True)
    isActive = fields.Bool(required=True)
    failureCount = fields.Int(required=True)
    lastDeliveryAt = fields.DateTime(required=True, allow_none=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)
    disabledReason = fields.Str(required=True, allow_none=True)


class NewWebhookOut(WebhookOut):
    """A webhook as its creation answers it: the only answer that shows its secret."""

    secret = fields.Str(required=True)


class NewWebhookData(Schema):
    webhook = fields.Nested(NewWebhookOut, required=True)


class WebhookData(Schema):
    webhook = fields.Nested(WebhookOut, required=True)


class WebhookListOut(Schema):
    webhooks = fields.List(fields.Nested(WebhookOut), required=True)


class AttemptOut(Schema):
    attempt = fields.Int(required=True)
    statusCode = fields.Int(required=True, allow_none=True)
    latencyMs = fields.Int(required=True)
    error = fields.Str(required=True, allow_none=True)
    delivered = fields.Bool(required=True)
    attemptedAt = fields.DateTime(required=True)


class DeliveryLogOut(Schema):
    deliveryId = fields.Str(required=True)
    event = fields.Str(required=True, validate=EVENT)
    transactionId = fields.Str(required=True)
    status = fields.Str(required=True, validate=DELIVERY_STATUS)
    attempts = fields.Int(required=True)
    lastStatusCode = fields.Int(required=True, allow_none=True)
    lastError = fields.Str(required=True, allow_none=True)
    nextAttemptAt = fields.DateTime(required=True, allow_none=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)
    attemptsDetail = fields.List(fields.Nested(AttemptOut), required=True)


class OffsetPaginationOut(Schema):
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
    hasMore = fields.Bool(required=True)


class DeliveryLogListOut(Schema):
    logs = fields.List(fields.Nested(DeliveryLogOut), required=True)
    pagination = fields.Nested(OffsetPaginationOut, required=True)


class DeliveryOut(Schema):
    deliveryId = fields.Str(required=True)
    webhookId = fields.Str(required=True)
    event = fields.Str(required=True, validate=EVENT)
    transactionId = fields.Str(required=True)
    status = fields.Str(required=True, validate=DELIVERY_STATUS)
    attempts = fields.Int(required=True)
    lastError = fields.Str(required=True, allow_none=True)
    nextAttemptAt = fields.DateTime(required=True, allow_none=True)
    createdAt = fields.DateTime(required=True)
    updatedAt = fields.DateTime(required=True)


class DeliveryData(Schema):
    delivery = fields.Nested(DeliveryOut, required=True)
