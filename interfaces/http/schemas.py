"""Request schemas (marshmallow): the one definition of what each body may hold."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from domain.errors import InvalidAmount
from domain.money import Money
from domain.webhook import DeliveryStatus, WebhookEvent
from infrastructure.webhooks.targets import MAX_URL_LENGTH
from interfaces.http.errors import ApiError, ErrorCode


class WholeMatch(validate.Regexp):
    """A ``Regexp`` the whole value must match (``$`` alone lets a final newline by)."""

    def __init__(self, regex: str, *, error: str) -> None:
        super().__init__(regex, error=error)
        self.whole = re.compile(regex)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.whole.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


IDEMPOTENCY_KEY = WholeMatch(
    r"[A-Za-z0-9_-]{1,64}", error="must be 1-64 letters, digits, '_' or '-'"
)
CURRENCY = WholeMatch(r"[A-Z]{3}", error="must be an ISO 4217 code such as INR")
MAX_AMOUNT_DIGITS = 15  # integer digits: far above any limit, far below absurd
MISSING = "Missing data for required field."


class Amount(fields.Field[Decimal]):
    """A JSON number of rupees with at most two decimals, greater than zero."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValidationError("must be a JSON number, not a string or boolean")
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValidationError("must be a finite number")
        if amount.adjusted() >= MAX_AMOUNT_DIGITS:
            raise ValidationError("is far too large")
        try:
            minor = Money.parse(amount).minor
        except InvalidAmount:
            raise ValidationError("must have at most 2 decimal places") from None
        if minor <= 0:
            raise ValidationError("must be greater than zero")
        return amount


class RegisterSchema(Schema):
    name = fields.Str(
        required=True,
        validate=[
            validate.Length(min=2, max=100),
            validate.Regexp(r"\s*\S.*\S", error="must have at least 2 characters besides spaces"),
        ],
    )
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.Str(
        required=True,
        validate=[
            validate.Length(min=8, max=128),
            validate.Regexp(
                r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)",
                error="must contain an uppercase letter, a lowercase letter and a digit",
            ),
        ],
    )
    phone = fields.Str(
        load_default=None,
        allow_none=True,
        validate=WholeMatch(r"\+?[0-9]{7,15}", error="must be 7-15 digits"),
    )


class LoginSchema(Schema):
    email = fields.Str(required=True, validate=validate.Length(min=1, max=254))
    password = fields.Str(required=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(Schema):
    refresh_token = fields.Str(
        data_key="refreshToken", required=True, validate=validate.Length(min=1, max=4096)
    )


class DepositSchema(Schema):
    amount = Amount(required=True)
    currency = fields.Str(load_default="INR", validate=CURRENCY)
    idempotency_key = fields.Str(
        data_key="idempotencyKey", load_default=None, allow_none=True, validate=IDEMPOTENCY_KEY
    )


class TransferSchema(Schema):
    receiver_id = fields.Str(data_key="receiverId", validate=validate.Length(min=1, max=80))
    receiver_vpa = fields.Str(data_key="receiverVpa", validate=validate.Length(min=3, max=120))
    amount = Amount(required=True)
    currency = fields.Str(load_default="INR", validate=CURRENCY)
    description = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=255))

    @validates_schema
    def one_receiver(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = [k for k in ("receiver_id", "receiver_vpa") if data.get(k) is not None]
        if len(given) != 1:
            raise ValidationError("give exactly one of receiverId or receiverVpa", "receiverId")


def load(schema: type[Schema], body: dict[str, Any]) -> dict[str, Any]:
    """Validate a body against ``schema``; a refusal is a 400 naming each bad field."""
    try:
        data: dict[str, Any] = _instance(schema).load(body)
    except ValidationError as error:
        details = _flatten(error.messages)
        raise ApiError(400, _code_for(details), "Validation failed", details) from None
    return data


@functools.cache
def _instance(schema: type[Schema]) -> Schema:
    """One instance per schema, made once: building one costs more than using it."""
    return schema()


def _flatten(messages: Any) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        return {
            str(field): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            for field, msgs in messages.items()
        }
    return {"_schema": [str(m) for m in messages]}


def _code_for(details: dict[str, list[str]]) -> ErrorCode:
    if "amount" in details and details["amount"] != [MISSING]:
        return ErrorCode.INVALID_AMOUNT
    if all(msgs == [MISSING] for msgs in details.values()):
        return ErrorCode.MISSING_REQUIRED_FIELD
    return ErrorCode.VALIDATION_ERROR


class QueryAmount(fields.Field[Decimal]):
    """An amount in a query string: decimal text with at most two decimals."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            return Money.parse(str(value)).to_decimal()
        except InvalidAmount:
            raise ValidationError("must be an amount like 250 or 99.50") from None


class ReadQuerySchema(Schema):
    """What every read-model query accepts: the position to read at least up to."""

    position = fields.Str(validate=validate.Length(min=1, max=200))


class TransactionQuerySchema(ReadQuerySchema):
    status = fields.Str(
        validate=validate.OneOf(
            ["INITIATED", "DEBITED", "CREDITED", "COMPLETED", "REFUNDING", "FAILED"]
        )
    )
    limit = fields.Int(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Int(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    cursor = fields.Str(validate=validate.Length(min=1, max=200))
    since = fields.AwareDateTime(data_key="from")
    until = fields.AwareDateTime(data_key="to")
    min_amount = QueryAmount(data_key="minAmount")
    max_amount = QueryAmount(data_key="maxAmount")
    counterparty = fields.Str(validate=validate.Length(min=1, max=80))


class HistoryQuerySchema(ReadQuerySchema):
    limit = fields.Int(load_default=20, validate=validate.Range(min=1, max=100))


class FailureRate(fields.Field[Decimal]):
    """A probability as an exact JSON number from 0 to 1 (at most 4 decimals)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValidationError("must be a JSON number from 0 to 1")
        rate = Decimal(value)
        if not rate.is_finite() or not 0 <= rate <= 1 or rate != rate.quantize(Decimal("0.0001")):
            raise ValidationError("must be a number from 0 to 1 with at most 4 decimals")
        return rate


class SimulationSchema(Schema):
    enabled = fields.Bool(truthy={True}, falsy={False})  # JSON booleans only
    failure_rate = FailureRate(data_key="failureRate")
    failure_type = fields.Str(data_key="failureType", validate=validate.OneOf(["ERROR", "TIMEOUT"]))
    fail_transaction_ids = fields.List(
        fields.Str(validate=validate.Length(max=80)),
        data_key="failTransactionIds",
        validate=validate.Length(max=1000),
    )


class BalanceQuerySchema(Schema):
    as_of = fields.AwareDateTime(data_key="asOf")


def _webhook_url(required: bool = False) -> fields.Str:
    """Checked further by ``check_target`` once loaded (scheme, host, address)."""
    return fields.Str(required=required, validate=validate.Length(min=1, max=MAX_URL_LENGTH))


def _webhook_events(required: bool = False) -> fields.List[str]:
    """At least one event type; a repeated one counts once."""
    return fields.List(
        fields.Str(validate=validate.OneOf([e.value for e in WebhookEvent])),
        required=required,
        validate=validate.Length(min=1, max=100),
    )


class WebhookSchema(Schema):
    url = _webhook_url(required=True)
    events = _webhook_events(required=True)
    secret = fields.Str(
        validate=[
            validate.Length(min=16, max=128),
            WholeMatch(r"^[\x20-\x7e]+$", error="must be printable ASCII characters"),
        ]
    )


class JsonBool(fields.Boolean):
    """``true`` or ``false`` only: not ``1``, ``0`` or ``"yes"`` (``1 in {True}`` holds)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class WebhookChangeSchema(Schema):
    url = _webhook_url()
    events = _webhook_events()
    is_active = JsonBool(data_key="isActive")

    @validates_schema
    def something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("give at least one of url, events or isActive")


class DeliveryLogQuerySchema(ReadQuerySchema):
    limit = fields.Int(load_default=20, validate=validate.Range(min=1, max=100))
    offset = fields.Int(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    status = fields.Str(validate=validate.OneOf([s.value for s in DeliveryStatus]))
