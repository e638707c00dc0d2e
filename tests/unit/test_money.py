"""Money: exact parsing, refusal of inexact input, arithmetic within one currency."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from domain.errors import CurrencyMismatch, InvalidAmount
from domain.money import Money


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("250", 25000),
        ("99.5", 9950),
        ("99.50", 9950),
        ("0.01", 1),
        ("0.1", 10),
        ("100.00", 10000),
        ("0", 0),
        ("007", 700),
        ("123456789.99", 12345678999),
    ],
)
def test_parses_decimal_text_into_exact_paise(text: str, minor: int) -> None:
    assert Money.parse(text) == Money(minor, "INR")


@pytest.mark.parametrize(
    ("value", "minor"),
    [
        (Decimal("99.5"), 9950),
        (Decimal("0.01"), 1),
        (Decimal("1.000"), 100),
        (Decimal("1E+2"), 10000),
        (Decimal("-2.5"), -250),
    ],
)
def test_parses_a_decimal_exactly(value: Decimal, minor: int) -> None:
    assert Money.parse(value).minor == minor


def test_parses_an_int_as_whole_rupees() -> None:
    assert Money.parse(5).minor == 500
    assert Money.parse(0).minor == 0


def test_parse_keeps_the_currency_it_is_given() -> None:
    amount = Money.parse("12.34", "USD")
    assert amount.minor == 1234
    assert amount.currency == "USD"


def test_currency_defaults_to_inr() -> None:
    assert Money.parse("1").currency == "INR"
    assert Money(1).currency == "INR"


@pytest.mark.parametrize("value", [0.1, 1.0, 99.5, float("nan")])
def test_refuses_floats(value: float) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, False])
def test_refuses_bools_although_they_are_ints(value: bool) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)


@pytest.mark.parametrize("value", [None, [1], b"1", object()])
def test_refuses_values_that_are_not_amounts(value: object) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1.234", "0.001", Decimal("0.001"), Decimal("1.005")])
def test_refuses_more_than_two_decimal_places(value: str | Decimal) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "1.",
        ".5",
        "-1",
        "+1",
        "1e2",
        "1,000",
        "1_000",
        "0x10",
        "NaN",
        "Infinity",
        "five",
        "5\n",
        "\uff15",  # FULLWIDTH DIGIT FIVE
        "\u096b\u0966",  # Devanagari 50
    ],
)
def test_refuses_text_that_is_not_plain_ascii_decimal(text: str) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(text)


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
)
def test_refuses_nan_and_infinity(value: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)


@pytest.mark.parametrize(
    "value",
    [
        "1234567890123456789012345678.91",
        Decimal("1234567890123456789012345678.91"),
        Decimal("1E+999999"),
        10**40,
    ],
)
def test_refuses_an_amount_too_long_to_hold_exactly_instead_of_rounding_it(
    value: str | Decimal | int,
) -> None:
    with pytest.raises(InvalidAmount):
        Money.parse(value)


@pytest.mark.parametrize("minor", [1.5, True, Decimal(1), "100", None])
def test_refuses_minor_units_that_are_not_an_int(minor: object) -> None:
    with pytest.raises(InvalidAmount):
        Money(minor)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["inr", "IN", "INRR", "", "IN1", "I R", "INR\n", " INR", "₹₹₹"])
def test_refuses_a_currency_that_is_not_a_three_letter_iso_code(code: str) -> None:
    with pytest.raises(CurrencyMismatch):
        Money(100, code)
    with pytest.raises(CurrencyMismatch):
        Money.parse("1", code)


def test_adds_and_subtracts_in_paise() -> None:
    assert Money(150) + Money(275) == Money(425)
    assert Money(150) - Money(275) == Money(-125)
    assert -Money(150) == Money(-150)


def test_arithmetic_keeps_the_currency() -> None:
    assert (Money(1, "USD") + Money(2, "USD")).currency == "USD"
    assert (Money(1, "USD") - Money(2, "USD")).currency == "USD"
    assert (-Money(1, "USD")).currency == "USD"


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "sub", "lt", "le", "gt", "ge"],
)
def test_mixing_currencies_raises_currency_mismatch(combine: object) -> None:
    with pytest.raises(CurrencyMismatch):
        combine(Money(100, "INR"), Money(100, "USD"))  # type: ignore[operator]


def test_combining_with_a_bare_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(100) + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert Money(100) < 1  # type: ignore[operator]


def test_compares_amounts_of_one_currency() -> None:
    small, large = Money(999), Money(1000)
    assert small < large
    assert small <= large
    assert large > small
    assert large >= small
    assert not large < small
    assert not small > large
    assert Money(1000) <= large
    assert Money(1000) >= large


def test_equal_amounts_are_equal_only_in_the_same_currency() -> None:
    assert Money(500, "INR") == Money(500, "INR")
    assert Money(500, "INR") != Money(500, "USD")
    assert len({Money(500), Money(500), Money(501)}) == 2


def test_is_immutable() -> None:
    amount = Money(500)
    with pytest.raises(dataclasses.FrozenInstanceError):
        amount.minor = 1  # type: ignore[misc]


def test_only_amounts_above_zero_are_positive() -> None:
    assert Money(1).is_positive
    assert not Money(0).is_positive
    assert not Money(-1).is_positive
    assert Money.zero() == Money(0, "INR")
    assert Money.zero("USD") == Money(0, "USD")


@pytest.mark.parametrize(
    ("minor", "expected"),
    [
        (9950, "99.5"),
        (10000, "100"),
        (1, "0.01"),
        (10, "0.1"),
        (12345, "123.45"),
        (0, "0"),
        (-5, "-0.05"),
    ],
)
def test_renders_exact_major_units(minor: int, expected: str) -> None:
    rendered = Money(minor).to_decimal()
    assert rendered == Decimal(expected)
    assert str(rendered) == expected


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Money(9950), "INR 99.50"), (Money(1, "USD"), "USD 0.01"), (Money(-5), "INR -0.05")],
)
def test_str_shows_currency_and_two_decimals(amount: Money, text: str) -> None:
    assert str(amount) == text


@pytest.mark.parametrize("minor", [0, 1, 9, 10, 99, 100, 101, 9950, 10**12 + 7, 10**20 + 1])
def test_parsing_the_rendered_amount_gives_back_the_same_paise(minor: int) -> None:
    assert Money.parse(Money(minor).to_decimal()).minor == minor
    assert Money.parse(str(Money(minor).to_decimal())).minor == minor
