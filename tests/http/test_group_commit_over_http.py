"""Transfers wait for their commit without holding a command thread, so everything that
arrives while one commit runs goes in the next; past the writer's queue, 503 at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from eventsourcing.persistence import OperationalError

from application.base import GroupCommit
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.context import SHARES
from interfaces.http.keys import CONTAINER
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Account, Api, failure, success
from tests.support.saga import checked_audit

GUARD = 30.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Two command threads: were each transfer to hold one until its commit, no more
    # than two could ever wait for a commit.
    return make_settings("memory", tmp_path, PAYFLOW_WORKER_THREADS="2", **UNLIMITED)


@pytest.fixture(params=["checked by the writer", "checked on command threads"])
async def client(
    request: pytest.FixtureRequest, aiohttp_client: AiohttpClient, settings: Settings
) -> TestClient:
    """Both ways a transfer is checked: by the writer where this process is the only
    writer of wallets (``payflow up``), on command threads where it is not."""
    sole_writer = request.param == "checked by the writer"
    client = await aiohttp_client(create_app(bootstrap(settings, sole_writer=sole_writer)))
    assert client.app[CONTAINER].payflow.checks_in_memory is sole_writer
    return client


class HeldCommits:
    """The initiations' commits, each held until released; counts what each saved."""

    def __init__(self, group: GroupCommit) -> None:
        self.group = group
        self.sizes: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        real = group._save

        def held(*objs: Any) -> Any:
            self.entered.set()
            assert self.release.wait(GUARD)
            recordings = real(*objs)
            self.sizes.append(len(recordings))
            return recordings

        group._save = held

    async def until_queued(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GUARD
        while len(self.group._queue) < n:
            assert loop.time() < deadline, f"{len(self.group._queue)} queued, not {n}"
            await asyncio.sleep(0.005)


@pytest.fixture
def held(client: TestClient) -> Iterator[HeldCommits]:
    commits = HeldCommits(client.app[CONTAINER].ledger.transfers.initiations)
    yield commits
    commits.release.set()


async def first_in_commit(
    api: Api, sender: Account, body: dict[str, Any], held: HeldCommits
) -> Any:
    first = asyncio.ensure_future(api.send(sender, body))
    while not held.entered.is_set():
        await asyncio.sleep(0.005)
    return first


async def test_transfers_waiting_for_a_commit_hold_no_thread_and_share_the_next(
    api: Api, asha: Account, ravi: Account, held: HeldCommits
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 1}
    first = await first_in_commit(api, asha, body, held)

    rest = [asyncio.ensure_future(api.send(asha, body | {"amount": 2})) for _ in range(10)]
    await held.until_queued(10)  # ten queued behind the commit, on two command threads
    held.release.set()

    answers = [await success(r, 201) for r in [await first, *await asyncio.gather(*rest)]]
    assert held.sizes == [1, 10]  # the one in progress, then all who queued behind it
    assert len({a["transaction"]["transactionId"] for a in answers}) == 11


async def test_past_the_writer_s_queue_a_transfer_is_refused_at_once_and_nothing_moves(
    client: TestClient, api: Api, asha: Account, ravi: Account, held: HeldCommits
) -> None:
    await api.deposit(asha, "100")
    held.group.capacity = 2
    body = {"receiverId": ravi.user_id, "amount": 5}
    first = await first_in_commit(api, asha, body, held)
    queued = [asyncio.ensure_future(api.send(asha, body)) for _ in range(2)]
    await held.until_queued(2)

    refused = await api.send(asha, body)

    error = await failure(refused, 503, 5007)
    assert "busy" in error["message"]
    assert refused.headers["Retry-After"] == "1"
    held.release.set()
    for response in [await first, *await asyncio.gather(*queued)]:
        await success(response, 201)
    ledger = client.app[CONTAINER].ledger
    ledger.drain()
    assert await api.balance(asha) == 85  # three transfers moved; the refused one did not


async def test_twins_with_one_key_in_one_commit_are_one_transfer(
    client: TestClient, api: Api, asha: Account, ravi: Account, held: HeldCommits
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 7}
    first = await first_in_commit(api, asha, body | {"amount": 1}, held)
    twins = [asyncio.ensure_future(api.send(asha, body, key="rent")) for _ in range(2)]
    await held.until_queued(2)  # both checked before either was recorded
    held.release.set()

    await success(await first, 201)
    answers = [await r for r in twins]
    data = [await success(r, 201) for r in answers]
    assert data[0] == data[1]  # one transfer, answered alike
    assert sorted(r.headers.get("X-Idempotent-Replayed", "") for r in answers) == ["", "true"]
    client.app[CONTAINER].ledger.drain()
    assert await api.balance(asha) == 92


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_shared_commit_made_though_the_store_said_it_failed_moves_each_transfer_once(
    client: TestClient, api: Api, asha: Account, ravi: Account, held: HeldCommits, keyed: bool
) -> None:
    await api.deposit(asha, "100")
    group = held.group
    committing = group._save

    def made_but_unanswered(*objs: Any) -> Any:
        if len(objs) > 2:  # the shared commit of the three queued: made, its answer lost
            group._save = committing
            committing(*objs)
            raise OperationalError("server closed the connection unexpectedly")
        return committing(*objs)

    group._save = made_but_unanswered
    first = await first_in_commit(api, asha, {"receiverId": ravi.user_id, "amount": 1}, held)
    body = {"receiverId": ravi.user_id, "amount": 10}
    keys = [f"k{n}" if keyed else None for n in range(3)]
    rest = [asyncio.ensure_future(api.send(asha, body, key=key)) for key in keys]
    await held.until_queued(3)
    held.release.set()

    answers = [await first, *await asyncio.gather(*rest)]
    ids = {(await success(r, 201))["transaction"]["transactionId"] for r in answers}
    assert len(ids) == 4  # each told its own transfer was accepted, and it was, once
    ledger = client.app[CONTAINER].ledger
    ledger.drain()
    assert await api.balance(asha) == 69
    assert await api.balance(ravi) == 31
    assert checked_audit(ledger).violations == []


async def test_one_party_s_transfers_waiting_for_commits_are_bounded_and_others_go_on(
    client: TestClient, api: Api, asha: Account, ravi: Account, held: HeldCommits
) -> None:
    await api.deposit(asha, "100")
    await api.deposit(ravi, "100")
    share = client.app[SHARES].commands
    share.line = 1  # with a share of one thread: two of a party's calls at once
    body = {"receiverId": ravi.user_id, "amount": 3}
    first = await first_in_commit(api, asha, body, held)
    second = asyncio.ensure_future(api.send(asha, body))
    await held.until_queued(1)

    refused = await api.send(asha, body)
    others = asyncio.ensure_future(api.send(ravi, {"receiverId": asha.user_id, "amount": 2}))
    await held.until_queued(2)  # another party's transfer still queues

    await failure(refused, 429, 4001)
    assert refused.headers["Retry-After"] == "1"
    held.release.set()
    for response in (await first, await second, await others):
        await success(response, 201)
    client.app[CONTAINER].ledger.drain()
    assert await api.balance(asha) == 96  # two of hers moved (6), one of his came in (2)


async def test_a_retry_is_answered_however_full_the_writer_s_queue(
    client: TestClient, api: Api, asha: Account, ravi: Account, held: HeldCommits
) -> None:
    await api.deposit(asha, "100")
    body = {"receiverId": ravi.user_id, "amount": 7}
    held.release.set()
    first = await success(await api.send(asha, body, key="rent"), 201)
    held.release.clear()
    held.entered.clear()
    held.group.capacity = 1
    busy = await first_in_commit(api, asha, body | {"amount": 1}, held)
    queued = asyncio.ensure_future(api.send(asha, body | {"amount": 2}))
    await held.until_queued(1)  # the writer is busy, and its queue is full

    retried = await api.send(asha, body, key="rent")
    reused = await api.send(asha, body | {"amount": 8}, key="rent")
    refused = await api.send(asha, body | {"amount": 3})

    assert await success(retried, 201) == first  # the money moved: answered, not refused
    assert retried.headers["X-Idempotent-Replayed"] == "true"
    await failure(reused, 409, 3006)
    await failure(refused, 503, 5007)  # a new one is refused, and nothing was done
    held.release.set()
    for response in (await busy, await queued):
        await success(response, 201)
    client.app[CONTAINER].ledger.drain()
    assert await api.balance(asha) == 90  # 7 + 1 + 2


async def test_a_payee_named_by_vpa_is_looked_up_off_the_writer(
    client: TestClient, api: Api, asha: Account, ravi: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.deposit(asha, "100")
    accounts = client.app[CONTAINER].payflow.accounts
    threads: list[str] = []
    real = accounts.user_by_vpa

    def user_by_vpa(vpa: str) -> Any:
        threads.append(threading.current_thread().name)
        return real(vpa)

    monkeypatch.setattr(accounts, "user_by_vpa", user_by_vpa)

    await success(await api.send(asha, {"receiverVpa": ravi.vpa, "amount": 4}), 201)

    assert threads  # the accounts were asked whose it is ...
    assert not any(name.startswith("payflow-initiations") for name in threads)  # ... not by it
    client.app[CONTAINER].ledger.drain()
    assert await api.balance(ravi) == 4
