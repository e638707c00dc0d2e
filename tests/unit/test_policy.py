"""Configured ledger rules: per-operation limits and credit fault injection."""

from __future__ import annotations

import random
from dataclasses import FrozenInstanceError
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from application.policy import (
    CreditFaults,
    FailureType,
    FaultSettings,
    InMemoryFaultSettings,
    Limits,
)
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


def injecting(rng: random.Random | None = None, **settings: Any) -> CreditFaults:
    """Credit faults switched on with these settings, kept in memory."""
    store = InMemoryFaultSettings(FaultSettings(enabled=True, **settings))
    return CreditFaults(store, rng or random.Random())


def test_listed_transfers_always_fail() -> None:
    listed = uuid4()
    faults = injecting(transfer_ids=frozenset({listed}))
    for _ in range(5):
        reason = faults.failure_for(listed)
        assert reason is not None
        assert "listed" in reason


def test_unlisted_transfers_pass_when_the_rate_is_zero() -> None:
    faults = injecting(random.Random(7), transfer_ids=frozenset({uuid4()}))
    assert all(faults.failure_for(i) is None for i in ids(2000))


def test_a_rate_of_one_hundred_percent_always_fails() -> None:
    faults = injecting(random.Random(7), rate=Fraction(100, 100))
    reasons = [faults.failure_for(i) for i in ids(2000)]
    assert all(r is not None and "random" in r for r in reasons)


def test_a_partial_rate_fails_about_that_share_of_credits() -> None:
    faults = injecting(random.Random(1234), rate=Fraction(25, 100))
    failures = sum(faults.failure_for(i) is not None for i in ids(10_000))
    assert 2200 < failures < 2800


def test_the_same_seed_fails_the_same_credits() -> None:
    def failing(seed: int) -> list[bool]:
        faults = injecting(random.Random(seed), rate=Fraction(1, 2))
        return [faults.failure_for(i) is not None for i in ids(200)]

    assert failing(99) == failing(99)
    assert failing(99) != failing(100)


def test_a_rate_of_zero_draws_no_random_numbers() -> None:
    rng = random.Random(5)
    faults = injecting(rng)
    for i in ids(10):
        faults.failure_for(i)
    assert rng.random() == random.Random(5).random()


class FixedDraw(random.Random):
    """A random source whose every draw is the given number; it notes what it was asked."""

    def __init__(self, draw: int) -> None:
        super().__init__(0)
        self.draw = draw
        self.asked: list[object] = []

    def randrange(self, *args: object, **kwargs: object) -> int:
        self.asked.append(args)
        return self.draw


@pytest.mark.parametrize(("draw", "fails"), [(0, True), (2, True), (3, False), (9, False)])
def test_a_rate_of_n_tenths_fails_exactly_the_draws_below_n(draw: int, fails: bool) -> None:
    rng = FixedDraw(draw)
    faults = injecting(rng, rate=Fraction(3, 10))
    assert (faults.failure_for(uuid4()) is not None) is fails
    assert rng.asked == [(10,)]  # one draw among the rate's exact denominator


def test_nothing_fails_while_injection_is_switched_off() -> None:
    listed = uuid4()
    faults = CreditFaults(
        InMemoryFaultSettings(FaultSettings(rate=Fraction(1), transfer_ids=frozenset({listed})))
    )
    assert faults.failure_for(listed) is None
    assert all(faults.failure_for(i) is None for i in ids(100))


def test_a_timeout_failure_says_the_credit_timed_out() -> None:
    listed = uuid4()
    faults = injecting(failure_type=FailureType.TIMEOUT, transfer_ids=frozenset({listed}))
    assert faults.failure_for(listed) == "Injected fault: credit timed out (transfer listed)"


# Fault settings and where they are kept ------------------------------------------------


def test_fault_settings_default_to_off() -> None:
    settings = FaultSettings()
    assert settings == FaultSettings(False, Fraction(0), FailureType.ERROR, frozenset())
    assert CreditFaults().settings() == settings


@pytest.mark.parametrize("rate", [Fraction(-1, 100), Fraction(101, 100), Fraction(3, 2)])
def test_fault_settings_refuse_a_rate_outside_zero_to_one(rate: Fraction) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultSettings(rate=rate)


def test_fault_settings_are_an_immutable_value() -> None:
    settings = FaultSettings()
    with pytest.raises(FrozenInstanceError):
        settings.enabled = True  # type: ignore[misc]
    assert hash(settings) == hash(FaultSettings())


def test_changing_some_fault_settings_keeps_the_others() -> None:
    listed = frozenset({uuid4()})
    before = FaultSettings(True, Fraction(3, 10), FailureType.TIMEOUT, listed)
    assert before.changed(rate=Fraction(1, 2)) == FaultSettings(
        True, Fraction(1, 2), FailureType.TIMEOUT, listed
    )
    assert before.changed(enabled=False).rate == Fraction(3, 10)
    assert before.changed(transfer_ids=[]).transfer_ids == frozenset()
    assert before.changed() == before


def test_configure_saves_the_whole_new_settings_and_returns_them() -> None:
    listed = uuid4()
    faults = CreditFaults()
    saved = faults.configure(rate=Fraction(3, 10), transfer_ids={listed})
    assert saved == FaultSettings(False, Fraction(3, 10), FailureType.ERROR, frozenset({listed}))
    assert faults.settings() == saved
    assert faults.configure(enabled=True, failure_type=FailureType.TIMEOUT) == FaultSettings(
        True, Fraction(3, 10), FailureType.TIMEOUT, frozenset({listed})
    )
    assert (faults.enabled, faults.rate, faults.failure_type, faults.transfer_ids) == (
        True,
        Fraction(3, 10),
        FailureType.TIMEOUT,
        frozenset({listed}),
    )


def test_an_invalid_rate_raises_and_changes_nothing() -> None:
    faults = CreditFaults()
    before = faults.configure(enabled=True, rate=Fraction(1, 4))
    with pytest.raises(ValueError, match="between 0 and 1"):
        faults.configure(enabled=False, rate=Fraction(5, 4), transfer_ids={uuid4()})
    assert faults.settings() == before


def test_reset_switches_everything_off() -> None:
    faults = injecting(rate=Fraction(1), failure_type=FailureType.TIMEOUT)
    faults.configure(transfer_ids={uuid4()})
    assert faults.reset() == FaultSettings()
    assert faults.settings() == FaultSettings()


def test_the_in_memory_store_starts_from_its_initial_settings() -> None:
    initial = FaultSettings(enabled=True, rate=Fraction(1, 5))
    assert InMemoryFaultSettings(initial).load() == initial
    assert InMemoryFaultSettings().load() == FaultSettings()


def test_the_in_memory_store_saves_nothing_when_the_change_fails() -> None:
    store = InMemoryFaultSettings(FaultSettings(enabled=True))

    def broken(current: FaultSettings) -> FaultSettings:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.update(broken)
    assert store.load() == FaultSettings(enabled=True)


def test_every_decision_reads_the_settings_from_the_store() -> None:
    store = InMemoryFaultSettings()
    deciding, configuring = CreditFaults(store), CreditFaults(store)
    listed = uuid4()
    assert deciding.failure_for(listed) is None
    configuring.configure(enabled=True, transfer_ids={listed})
    assert deciding.failure_for(listed) is not None
    configuring.reset()
    assert deciding.failure_for(listed) is None
