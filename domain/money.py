"""Exact money: integer minor units (paise) and an ISO 4217 currency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import CurrencyMismatch, InvalidAmount

MINOR_UNITS_PER_MAJOR = 100
_CURRENCY = re.compile(r"[A-Z]{3}")
_DECIMAL_TEXT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency, held as integer minor units."""

    minor: int
    currency: str = "INR"

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise InvalidAmount(f"minor units must be an int, not {self.minor!r}")
        if not _CURRENCY.fullmatch(self.currency):
            raise CurrencyMismatch(f"not an ISO 4217 code: {self.currency!r}")

    @classmethod
    def parse(cls, value: str | Decimal | int, currency: str = "INR") -> Money:
        """Parse major units given as decimal text, a Decimal or an int, exactly.

        Floats are refused: they cannot hold most decimal amounts exactly.
        """
        if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
            raise InvalidAmount(f"amount must be decimal text, not {type(value).__name__}")
        if isinstance(value, str):
            if not _DECIMAL_TEXT.fullmatch(value):
                raise InvalidAmount(f"not an amount with at most 2 decimals: {value!r}")
            value = Decimal(value)
        return cls(_to_minor(Decimal(value)), currency)

    @classmethod
    def zero(cls, currency: str = "INR") -> Money:
        return cls(0, currency)

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal('99.5')`` for 9950 paise)."""
        return Decimal(self.minor) / MINOR_UNITS_PER_MAJOR

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.minor < self._same(other).minor

    def __le__(self, other: Money) -> bool:
        return self.minor <= self._same(other).minor

    def __str__(self) -> str:
        return f"{self.currency} {Decimal(self.minor) / MINOR_UNITS_PER_MAJOR:.2f}"

    def _same(self, other: Money) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")
        return other


def _to_minor(value: Decimal) -> int:
    if not value.is_finite():
        raise InvalidAmount("amount must be finite")
    try:  # quantize refuses (never rounds) a result longer than the context's precision
        cents = value.quantize(_CENT)
    except InvalidOperation as error:
        raise InvalidAmount(f"not an exact amount: {value}") from error
    if cents != value:
        raise InvalidAmount(f"more than 2 decimal places: {value}")
    return int(cents.scaleb(2))
