"""A user wallet enforces its own daily sending limits, day by day."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.errors import DailyLimitExceeded
from domain.limits import DailyLimit
from domain.money import Money
from domain.wallet import Wallet

TODAY, TOMORROW = "2026-11-27", "2026-11-28"
RECEIVER = UUID(int=7)
LIMIT = DailyLimit(max_amount=Money.parse("100").minor, max_count=3)


def funded(amount: str = "1000") -> Wallet:
    wallet = Wallet.open_user_wallet(uuid4(), "INR", "asha.k@payflow", None)
    wallet.deposit(uuid4(), Money.parse(amount))
    return wallet


def send(wallet: Wallet, amount: str, day: str = TODAY) -> UUID:
    transfer_id = uuid4()
    wallet.debit(transfer_id, Money.parse(amount), RECEIVER, day, LIMIT)
    return transfer_id


def test_refuses_a_transfer_past_the_daily_count_and_records_nothing() -> None:
    wallet = funded()
    for _ in range(3):
        send(wallet, "1")
    version = wallet.version

    with pytest.raises(DailyLimitExceeded, match="3 transfers"):
        send(wallet, "1")
    assert wallet.version == version
    assert wallet.balance == Money.parse("997")


def test_refuses_a_transfer_that_would_pass_the_daily_amount() -> None:
    wallet = funded()
    send(wallet, "60")

    with pytest.raises(DailyLimitExceeded, match=r"INR 100\.00"):
        send(wallet, "40.01")
    send(wallet, "40")  # exactly up to the limit is allowed
    assert wallet.sent_today == Money.parse("100").minor


def test_a_new_day_starts_a_new_allowance() -> None:
    wallet = funded()
    send(wallet, "100")

    send(wallet, "100", day=TOMORROW)

    assert (wallet.usage_day, wallet.sent_today, wallet.count_today) == (TOMORROW, 10000, 1)


def test_a_refund_on_the_same_day_gives_the_allowance_back() -> None:
    wallet = funded()
    refunded = send(wallet, "100")

    wallet.reverse_debit(refunded, Money.parse("100"), TODAY)

    send(wallet, "100")
    assert wallet.count_today == 1


def test_a_refund_of_an_earlier_day_does_not_touch_todays_allowance() -> None:
    wallet = funded()
    yesterday = send(wallet, "50", day="2026-11-26")
    send(wallet, "100")

    wallet.reverse_debit(yesterday, Money.parse("50"), "2026-11-26")

    assert (wallet.sent_today, wallet.count_today) == (10000, 1)
    with pytest.raises(DailyLimitExceeded):
        send(wallet, "0.01")


def test_the_settlement_account_has_no_daily_limit() -> None:
    settlement = Wallet.open_settlement("INR")
    for _ in range(5):
        settlement.debit(uuid4(), Money.parse("100"), RECEIVER, TODAY, LIMIT)
    assert settlement.balance == Money(-50000)


def test_a_replayed_wallet_has_the_same_allowance() -> None:
    wallet = funded()
    send(wallet, "30")
    send(wallet, "20", day=TOMORROW)

    replayed = None
    for event in wallet.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Wallet)
    assert (replayed.usage_day, replayed.sent_today, replayed.count_today) == (TOMORROW, 2000, 1)
