"""The interfaces' JSON: Decimals as exact numbers, and nothing JSON cannot hold."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from interfaces.http.encoding import dumps


@pytest.mark.parametrize("text", ["99.50", "0.01", "1E+2", "-0", "1E-7", "123456789012345678.99"])
def test_a_decimal_is_written_as_the_number_it_is(text: str) -> None:
    written = dumps({"amount": Decimal(text)})
    assert written == f'{{"amount":{text}}}'
    assert json.loads(written, parse_float=Decimal)["amount"] == Decimal(text)


def test_what_orjson_does_not_take_is_written_all_the_same() -> None:
    payload = {"big": 2**70, 7: "seven", "name": "Asha Kumār", "amount": Decimal("1.5")}
    assert json.loads(dumps(payload), parse_float=Decimal) == {
        "big": 2**70,
        "7": "seven",
        "name": "Asha Kumār",
        "amount": Decimal("1.5"),
    }


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_number_json_cannot_hold_is_refused_not_written(value: Decimal) -> None:
    with pytest.raises(ValueError, match="JSON"):
        dumps({"amount": value})
