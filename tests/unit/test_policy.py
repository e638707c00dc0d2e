"""Configured ledger rules: per-operation limits and credit fault injection."""

from __future__ import annotations

import random
from uuid import UUID, uuid4, uuid5

import pytest

from application.policy import CreditFaults, Limits
from domain.errors import CurrencyMismatch, InvalidAmount, LimitExceeded
from domain.money import Money

NAMESPACE = UUID("00000000-0000-0000-0000-000000000001")


def rupees(text: str, currency: str = "INR") -> Money:
    return Money.parse(text, currency)


def ids(count: int) -> list[UUID]:
    return [uuid5(NAMESPACE, str(n)) for n in range(count)]


# Limits ------------------------------------------------------------------------------


def test_default_limits_are_upi_like() -> None:
    limits = Limits()
    assert limits.max_transfer == rupees("100000")
    assert limits.max_deposit == rupees("100000")
    assert limits.balance_cap == rupees("1000000")
    assert limits.currencies == frozenset({"INR"})


@pytest.mark.parametrize("amount", ["0.01", "1", "99999.99", "100000", "100000.00"])
def test_accepts_amounts_up_to_and_including_the_limit(amount: str) -> None:
    Limits().check_transfer(rupees(amount))
    Limits().check_deposit(rupees(amount))


def test_refuses_a_transfer_over_the_limit() -> None:
    with pytest.raises(LimitExceeded, match="per-transfer"):
        Limits().check_transfer(rupees("100000.01"))


def test_refuses_a_deposit_over_the_limit() -> None:
    with pytest.raises(LimitExceeded, match="per-deposit"):
        Limits().check_deposit(rupees("100000.01"))


def test_transfer_and_deposit_limits_are_separate() -> None:
    limits = Limits(max_transfer=rupees("500"), max_deposit=rupees("2000"))
    limits.check_deposit(rupees("1500"))
    with pytest.raises(LimitExceeded):
        limits.check_transfer(rupees("500.01"))
    limits.check_transfer(rupees("500"))
    with pytest.raises(LimitExceeded):
        limits.check_deposit(rupees("2000.01"))


@pytest.mark.parametrize("check", ["check_transfer", "check_deposit"])
def test_refuses_a_currency_that_is_not_enabled(check: str) -> None:
    with pytest.raises(CurrencyMismatch):
        getattr(Limits(), check)(rupees("1", "USD"))


@pytest.mark.parametrize("check", ["check_transfer", "check_deposit"])
@pytest.mark.parametrize("minor", [0, -100])
def test_refuses_zero_and_negative_amounts(check: str, minor: int) -> None:
    with pytest.raises(InvalidAmount):
        getattr(Limits(), check)(Money(minor))


# Credit faults -----------------------------------------------------------------------


def test_listed_transfers_always_fail() -> None:
    listed = uuid4()
    faults = CreditFaults(transfer_ids={listed})
    for _ in range(5):
        reason = faults.failure_for(listed)
        assert reason is not None
        assert "listed" in reason


def test_unlisted_transfers_pass_when_the_rate_is_zero() -> None:
    faults = CreditFaults(numerator=0, transfer_ids={uuid4()}, rng=random.Random(7))
    assert all(faults.failure_for(i) is None for i in ids(2000))


def test_a_rate_of_one_hundred_percent_always_fails() -> None:
    faults = CreditFaults(numerator=100, denominator=100, rng=random.Random(7))
    reasons = [faults.failure_for(i) for i in ids(2000)]
    assert all(r is not None and "random" in r for r in reasons)


def test_a_partial_rate_fails_about_that_share_of_credits() -> None:
    faults = CreditFaults(numerator=25, denominator=100, rng=random.Random(1234))
    failures = sum(faults.failure_for(i) is not None for i in ids(10_000))
    assert 2200 < failures < 2800


def test_the_same_seed_fails_the_same_credits() -> None:
    def failing(seed: int) -> list[bool]:
        faults = CreditFaults(numerator=50, rng=random.Random(seed))
        return [faults.failure_for(i) is not None for i in ids(200)]

    assert failing(99) == failing(99)
    assert failing(99) != failing(100)


def test_a_rate_of_zero_draws_no_random_numbers() -> None:
    rng = random.Random(5)
    faults = CreditFaults(numerator=0, rng=rng)
    for i in ids(10):
        faults.failure_for(i)
    assert rng.random() == random.Random(5).random()


class FixedDraw(random.Random):
    """A random source whose every draw is the given number."""

    def __init__(self, draw: int) -> None:
        super().__init__(0)
        self.draw = draw

    def randrange(self, *args: object, **kwargs: object) -> int:
        return self.draw


@pytest.mark.parametrize(("draw", "fails"), [(0, True), (24, True), (25, False), (99, False)])
def test_a_rate_of_n_percent_fails_exactly_the_draws_below_n(draw: int, fails: bool) -> None:
    faults = CreditFaults(numerator=25, denominator=100, rng=FixedDraw(draw))
    assert (faults.failure_for(uuid4()) is not None) is fails
