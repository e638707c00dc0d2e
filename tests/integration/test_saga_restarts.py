"""The saga stopped, crashed, raced and redelivered: every step still happens once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.followers import SagaRunner
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from tests.support.saga import checked_audit, payflow_on, step_once

Restart = Callable[[], Ledger]


GUARD = 30.0  # seconds any wait here may take before the test fails


@pytest.fixture
def restart(persistent_settings: Settings) -> Iterator[Restart]:
    """Builds the ledger afresh over the same store, as a restarted process would."""
    opened: list[Ledger] = []

    def build() -> Ledger:
        if opened:
            opened[-1].close()
        opened.append(Ledger.build(env_for(persistent_settings)))
        return opened[-1]

    yield build
    opened[-1].close()


def three_transfers(ledger: Ledger) -> dict[str, Any]:
    """One transfer that completes, one the sender cannot pay, one refunded."""
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    meera = payflow.register("Meera Iyer", "meera@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("100"))
    ledger.wallets.freeze_wallet(payflow.wallet_of(meera).id, reason="closed by bank")
    return {
        "completes": payflow.send(asha, Money.parse("40"), receiver_id=ravi).transfer.id,
        # More than Ravi will hold, whichever order the steps run in.
        "unpaid": payflow.send(ravi, Money.parse("500"), receiver_id=asha).transfer.id,
        "refunded": payflow.send(asha, Money.parse("25"), receiver_id=meera).transfer.id,
        "users": (asha, ravi, meera),
    }


def test_each_step_happens_once_when_the_saga_stops_between_every_pair_of_steps(
    restart: Restart,
) -> None:
    ledger = restart()
    ids = three_transfers(ledger)
    steps = 0
    while step_once(ledger):  # one step, then the process "dies" and comes back
        steps += 1
        ledger = restart()
        assert checked_audit(ledger, settled=False).violations == []

    # completes: debit and credit, mark debited, mark credited and completed, the credit
    # step with nothing left to do (4); unpaid: declined debit, mark failed (2);
    # refunded: debit and declined credit, mark debited, refund requested, the credit
    # step with nothing left, reversal, failed (6).
    assert steps == 12
    get = ledger.transfers.get_transfer
    assert get(ids["completes"]).status is TransferStatus.COMPLETED
    assert get(ids["unpaid"]).status is TransferStatus.FAILED
    assert get(ids["refunded"]).was_refunded
    asha, ravi, meera = ids["users"]
    payflow = payflow_on(ledger)
    assert payflow.wallet_of(asha).balance == Money.parse("60")
    assert payflow.wallet_of(ravi).balance == Money.parse("40")
    assert payflow.wallet_of(meera).balance == Money.parse("0")
    assert checked_audit(ledger).violations == []


def test_a_step_that_crashes_before_its_commit_leaves_nothing_and_is_redone(
    restart: Restart, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = restart()
    ids = three_transfers(ledger)
    wallet_log_before = ledger.wallets.recorder.max_notification_id()

    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("power cut before commit")

    monkeypatch.setattr(ledger.wallets, "_record", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        step_once(ledger)

    ledger = restart()
    assert ledger.wallets.recorder.max_notification_id() == wallet_log_before
    assert ledger.wallets.recorder.max_tracking_id("Transfers") in (None, 0)
    ledger.drain()
    assert ledger.transfers.get_transfer(ids["completes"]).status is TransferStatus.COMPLETED
    assert checked_audit(ledger).violations == []


def test_a_redelivered_notification_is_not_processed_twice(restart: Restart) -> None:
    ledger = restart()
    ids = three_transfers(ledger)
    ledger.drain()
    events_before = ledger.wallets.recorder.max_notification_id()

    # Hand the Wallets process the first "transfer initiated" notification again.
    first = ledger.transfers.recorder.select_notifications(
        start=1, limit=1, topics=ledger.wallets.topics
    )[0]
    initiated = ledger.transfers.mapper.to_domain_event(first)
    ledger.wallets.process_event(initiated, Tracking("Transfers", first.id))

    assert ledger.wallets.recorder.max_notification_id() == events_before
    assert ledger.transfers.get_transfer(ids["completes"]).status is TransferStatus.COMPLETED
    assert checked_audit(ledger).violations == []


def test_retries_a_step_when_another_process_changes_the_wallet_first(
    restart: Restart, persistent_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = restart()
    ids = three_transfers(ledger)
    ravi = ids["users"][1]
    ravi_wallet = payflow_on(ledger).wallet_of(ravi).id
    other_process = Ledger.build(env_for(persistent_settings))
    real_load = ledger.wallets.load
    raced: list[bool] = []

    def load_then_race(aggregate_id: Any, step: Any) -> Any:
        wallet = real_load(aggregate_id, step)
        if aggregate_id == ravi_wallet and not raced:
            raced.append(True)  # another API process deposits between our load and save
            payflow_on(other_process).deposit(ravi, Money.parse("7"))
        return wallet

    monkeypatch.setattr(ledger.wallets, "load", load_then_race)
    try:
        ledger.drain()
    finally:
        other_process.close()

    assert raced == [True]
    # The race hit Ravi's wallet as the saga was about to credit him 40 rupees: the
    # step was redone on the fresh wallet, which now held the 7 deposited meanwhile,
    # and neither the deposit nor the credit was lost or made twice.
    get = ledger.transfers.get_transfer
    assert get(ids["completes"]).status is TransferStatus.COMPLETED
    assert get(ids["unpaid"]).status is TransferStatus.FAILED
    assert ledger.wallets.get_wallet(ravi_wallet).balance == Money.parse("47")  # 7 + 40
    assert checked_audit(ledger).violations == []


def test_the_saga_runner_completes_transfers_in_the_background_and_stops(
    restart: Restart,
) -> None:
    ledger = restart()
    runner = SagaRunner(ledger, poll_interval=5.0)  # only commits wake it this fast
    runner.start()
    try:
        ids = three_transfers(ledger)
        deadline = time.monotonic() + 10
        wanted = [ids["completes"], ids["unpaid"], ids["refunded"]]
        while not all(ledger.transfers.get_transfer(t).status.is_terminal for t in wanted):
            assert time.monotonic() < deadline, "saga did not finish within 10 s"
            time.sleep(0.01)
    finally:
        runner.stop()
    assert not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("saga-"))
    assert checked_audit(ledger).violations == []


def test_two_workers_pulling_the_same_log_at_once_take_each_step_once(restart: Restart) -> None:
    ledger = restart()
    payflow = payflow_on(ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("100"))
    for _ in range(60):
        payflow.send(asha, Money.parse("1"), receiver_id=ravi)
    start = threading.Barrier(2, timeout=GUARD)
    middle = (ledger.transfers.recorder.max_notification_id() or 0) // 2

    def pull(stop: int | None) -> None:  # the saga and a drain, or two saga processes,
        start.wait()  # reading overlapping stretches of the log that end apart
        ledger.wallets.pull_and_process(ledger.transfers.name, stop=stop)

    workers = [threading.Thread(target=pull, args=(stop,)) for stop in (middle, None)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(GUARD)
        assert not worker.is_alive(), "a saga pull did not finish"
    ledger.drain()

    report = checked_audit(ledger)
    assert report.violations == []
    assert payflow.wallet_of(ravi).balance == Money.parse("20")  # 20 a day; 40 declined
