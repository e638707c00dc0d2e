"""``Prefer: wait=N`` on POST /transactions: the answer waits for the saga, bounded."""

from __future__ import annotations

import time
from uuid import uuid4

import pytest
from aiohttp.test_utils import TestClient

from domain.money import Money
from domain.transfer import Transfer
from interfaces.http.keys import CONTAINER
from interfaces.http.waiting import (
    MAX_WAIT_SECONDS,
    TransferOutcomes,
    preferred_wait,
    wait_for_outcome,
)
from tests.http.support import Account


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 0),
        ("", 0),
        ("wait=3", 3),
        ("respond-async, wait=5", 5),
        ("WAIT = 2", 2),
        ("wait=999", MAX_WAIT_SECONDS),
        ("wait=-1", 0),
        ("wait=abc", 0),
        ("return=minimal", 0),
    ],
)
def test_reads_the_wait_preference(header: str | None, seconds: int) -> None:
    assert preferred_wait(header) == seconds


async def send(client: TestClient, sender: Account, receiver: Account, amount: object, **h: str):
    headers = sender.auth | h
    body = {"receiverId": receiver.user_id, "amount": amount}
    return await client.post("/transactions", json=body, headers=headers)


async def deposit(client: TestClient, account: Account, amount: int) -> None:
    response = await client.post(
        "/wallets/me/deposit", json={"amount": amount}, headers=account.auth
    )
    assert response.status == 200


async def test_answers_with_the_terminal_status_when_the_saga_finishes_in_time(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    await deposit(client, asha, 100)

    response = await send(client, asha, ravi, 40, Prefer="wait=5")

    assert response.status == 201
    assert response.headers["Preference-Applied"] == "wait=5"
    transaction = (await response.json())["data"]["transaction"]
    assert transaction["status"] == "COMPLETED"
    assert transaction["completedAt"] is not None


async def test_answers_failed_at_once_when_the_sender_cannot_pay(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    response = await send(client, asha, ravi, 40, Prefer="wait=5")

    transaction = (await response.json())["data"]["transaction"]
    assert transaction["status"] == "FAILED"
    assert transaction["failureReason"].startswith("Insufficient funds")


async def test_answers_as_it_stands_when_the_wait_runs_out(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    client.app[CONTAINER].saga.stop()  # nothing will move the transfer on
    await deposit(client, asha, 100)

    started = time.monotonic()
    response = await send(client, asha, ravi, 40, Prefer="wait=1")

    assert time.monotonic() - started >= 1
    assert response.status == 201
    assert (await response.json())["data"]["transaction"]["status"] == "INITIATED"


async def test_a_replay_after_the_saga_finished_still_answers_as_the_wait_ended(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    container = client.app[CONTAINER]
    container.saga.stop()  # the wait runs out with the transfer untouched
    await deposit(client, asha, 100)
    key = {"X-Idempotency-Key": "slow"}
    first = await send(client, asha, ravi, 40, Prefer="wait=1", **key)
    original = await first.json()
    assert original["data"]["transaction"]["status"] == "INITIATED"
    container.ledger.drain()  # now the saga has completed it
    transfer_id = original["data"]["transaction"]["transactionId"]

    again = await send(client, asha, ravi, 40, Prefer="wait=1", **key)
    now = await client.get(f"/transactions/{transfer_id}", headers=asha.auth)

    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert await again.json() == original  # as the first answer was, not as it is now
    assert (await now.json())["data"]["transaction"]["status"] == "COMPLETED"


async def test_without_the_preference_answers_initiated_at_once(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    client.app[CONTAINER].saga.stop()
    await deposit(client, asha, 100)

    response = await send(client, asha, ravi, 40)

    assert "Preference-Applied" not in response.headers
    assert (await response.json())["data"]["transaction"]["status"] == "INITIATED"


async def test_a_replay_returns_the_original_answer_without_waiting(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    await deposit(client, asha, 100)
    first = await send(client, asha, ravi, 40, **{"X-Idempotency-Key": "k1"})
    assert (await first.json())["data"]["transaction"]["status"] == "INITIATED"

    again = await send(client, asha, ravi, 40, Prefer="wait=5", **{"X-Idempotency-Key": "k1"})

    assert again.headers["X-Idempotent-Replayed"] == "true"
    assert "Preference-Applied" not in again.headers
    assert await again.json() == await first.json()


async def test_a_wait_looks_again_when_no_commit_here_wakes_it() -> None:
    """The saga in another process: nothing in this one is told, the recheck finds it."""
    outcomes = TransferOutcomes()
    transfer = Transfer.initiate(uuid4(), uuid4(), uuid4(), uuid4(), Money(100))
    loads = 0

    async def load() -> Transfer:
        nonlocal loads
        loads += 1
        if loads == 3:  # meanwhile another process ran the whole saga
            transfer.mark_debited()
            transfer.mark_credited()
            transfer.complete()
        return transfer

    started = time.monotonic()
    finished = await wait_for_outcome(outcomes, transfer.id, 5, load, recheck=0.01)

    assert finished.status.value == "COMPLETED"
    assert loads == 3
    assert time.monotonic() - started < 5
