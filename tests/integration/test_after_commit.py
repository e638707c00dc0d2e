"""Only the commit can fail a command: what follows it never turns "saved" into "failed".

After a commit, an application tells its followers (the saga's wake-ups, Redis
hints). If telling them fails, the events are saved all the same; a caller told
"failed" would pay again under a new request, and an unkeyed transfer would move
twice. Followers that were not told catch up when they next poll.
"""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.system import RecordingEvent, RecordingEventReceiver

from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from tests.support.saga import asha_and_ravi, checked_audit, payflow_on


class FallsOver(RecordingEventReceiver[UUID]):
    """A follower that raises whenever it is told of a commit."""

    def __init__(self) -> None:
        self.told = 0

    def receive_recording_event(self, new_recording_event: RecordingEvent[UUID]) -> None:
        self.told += 1
        raise RuntimeError("the follower fell over")


@pytest.fixture
def deaf(ledger: Ledger) -> FallsOver:
    follower = FallsOver()
    ledger.wallets.lead(follower)
    ledger.transfers.lead(follower)
    return follower


def test_commands_whose_followers_fall_over_are_saved_once_and_answered(
    ledger: Ledger, deaf: FallsOver
) -> None:
    payflow = payflow_on(ledger)
    asha, ravi = asha_and_ravi(ledger)

    sent = payflow.send(asha, Money.parse("40"), receiver_id=ravi)  # no key: no replay
    ledger.drain()  # every saga step's commit falls over after it too

    assert deaf.told > 3
    transfers = ledger.transfers.recorder.select_notifications(start=1, limit=100)
    initiated = [n for n in transfers if n.topic.endswith("Transfer.Initiated")]
    assert [n.originator_id for n in initiated] == [sent.transfer.id]
    transfer = ledger.transfers.get_transfer(sent.transfer.id)
    assert transfer.status is TransferStatus.COMPLETED
    assert payflow.wallet_of(asha).balance == Money.parse("60")
    assert payflow.wallet_of(ravi).balance == Money.parse("40")
    assert checked_audit(ledger).violations == []
