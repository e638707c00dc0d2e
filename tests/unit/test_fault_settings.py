"""How shared fault settings are written down: JSON, with the rate exact, never a float."""

from __future__ import annotations

from fractions import Fraction
from typing import Any
from uuid import UUID

import pytest

from application.policy import FailureType, FaultSettings
from infrastructure.fault_settings import decode, encode

A = UUID("00000000-0000-0000-0000-00000000000a")
B = UUID("00000000-0000-0000-0000-00000000000b")


def test_encodes_the_rate_as_an_exact_fraction_and_the_ids_sorted() -> None:
    settings = FaultSettings(True, Fraction(3, 10), FailureType.TIMEOUT, frozenset({B, A}))
    assert encode(settings) == {
        "enabled": True,
        "rate": "3/10",
        "failure_type": "TIMEOUT",
        "transfer_ids": [str(A), str(B)],
    }


@pytest.mark.parametrize(
    "settings",
    [
        FaultSettings(),
        FaultSettings(True, Fraction(1, 3), FailureType.ERROR, frozenset({A})),
        FaultSettings(False, Fraction(1), FailureType.TIMEOUT, frozenset({A, B})),
        FaultSettings(True, Fraction(1, 100_000), FailureType.ERROR, frozenset()),
    ],
)
def test_decoding_gives_back_exactly_what_was_encoded(settings: FaultSettings) -> None:
    assert decode(encode(settings)) == settings


GOOD: dict[str, Any] = {
    "enabled": True,
    "rate": "1/4",
    "failure_type": "ERROR",
    "transfer_ids": [str(A)],
}


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": "0.25"},  # a float's digits: not exact
        {"rate": 0.25},
        {"rate": "1/0"},
        {"rate": "5/4"},  # over 1
        {"rate": "-1/4"},
        {"enabled": "yes"},
        {"failure_type": "CRASH"},
        {"transfer_ids": ["nope"]},
        {"transfer_ids": None},
    ],
)
def test_refuses_malformed_settings(bad: dict[str, Any]) -> None:
    assert decode(GOOD) == FaultSettings(True, Fraction(1, 4), FailureType.ERROR, frozenset({A}))
    with pytest.raises(ValueError, match="malformed fault settings"):
        decode(GOOD | bad)


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_refuses_settings_with_a_field_missing(missing: str) -> None:
    with pytest.raises(ValueError, match="malformed fault settings"):
        decode({k: v for k, v in GOOD.items() if k != missing})
