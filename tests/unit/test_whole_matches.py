"""Identifiers and codes must match whole: ``$`` alone lets a final newline through."""

from __future__ import annotations

from uuid import uuid4

import pytest
from marshmallow import ValidationError

from interfaces.http.errors import ApiError
from interfaces.http.schemas import CURRENCY, IDEMPOTENCY_KEY, DepositSchema, load
from interfaces.ids import TRANSACTION, USER, MalformedId, parse_id, public_id


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00"])
def test_an_id_with_anything_after_it_is_malformed(suffix: str) -> None:
    good = public_id(USER, uuid4())
    assert parse_id(USER, good)
    with pytest.raises(MalformedId):
        parse_id(USER, good + suffix)
    with pytest.raises(MalformedId):
        parse_id(TRANSACTION, good)


@pytest.mark.parametrize(("validator", "value"), [(IDEMPOTENCY_KEY, "rent-1"), (CURRENCY, "INR")])
def test_keys_and_currencies_with_a_final_newline_are_refused(
    validator: object, value: str
) -> None:
    assert validator(value) == value  # type: ignore[operator]
    with pytest.raises(ValidationError):
        validator(value + "\n")  # type: ignore[operator]


def test_a_body_idempotency_key_with_a_final_newline_is_a_validation_error() -> None:
    with pytest.raises(ApiError) as refused:
        load(DepositSchema, {"amount": 1, "idempotencyKey": "rent\n"})
    assert refused.value.details is not None
    assert "idempotencyKey" in refused.value.details
