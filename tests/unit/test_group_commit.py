"""Group commit: concurrent callers share one transaction, and each gets its own outcome."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from application.base import CommitsWaiting, GroupCommit

GUARD = 30


@dataclass(frozen=True)
class Created:
    originator_id: UUID


class Thing:
    """An aggregate with one pending event, handed over once, as the library does."""

    def __init__(self, thing_id: UUID | None = None) -> None:
        self.id = thing_id or uuid4()
        self._pending = [Created(self.id)]

    def collect_events(self) -> list[Created]:
        pending, self._pending = self._pending, []
        return pending


class Store:
    """Commits whole calls; refuses a call holding an id it has seen; can be held."""

    def __init__(self) -> None:
        self.saved: set[UUID] = set()
        self.calls: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.failing: BaseException | None = None

    def save(self, *objs: Thing | Created) -> list[Any]:
        """Like ``Application.save``: takes aggregates' pending events, or events."""
        events = [e for o in objs for e in (o.collect_events() if isinstance(o, Thing) else [o])]
        self.entered.set()
        assert self.release.wait(GUARD)
        self.calls.append(len(events))
        if self.failing is not None:
            raise self.failing
        ids = [e.originator_id for e in events]
        if self.saved & set(ids) or len(set(ids)) < len(ids):
            raise IntegrityError("duplicate id")
        self.saved |= set(ids)
        return []


def in_threads(group: GroupCommit, batches: list[list[Thing]]) -> list[BaseException | None]:
    outcomes: list[BaseException | None] = [None] * len(batches)

    def call(i: int) -> None:
        try:
            group.save(*batches[i])
        except BaseException as error:  # the outcome under test
            outcomes[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    return outcomes if _joined(threads) else pytest.fail("a caller never returned")


def _joined(threads: list[threading.Thread]) -> bool:
    for thread in threads:
        thread.join(GUARD)
    return not any(t.is_alive() for t in threads)


def held_then_released(store: Store, group: GroupCommit, batches: list[list[Thing]]) -> Any:
    """One caller's commit is in progress while the others queue; then it finishes."""
    store.release.clear()
    first = Thing()
    lead = threading.Thread(target=group.save, args=(first,))
    lead.start()
    assert store.entered.wait(GUARD)
    result: list[Any] = []
    rest = threading.Thread(target=lambda: result.append(in_threads(group, batches)))
    rest.start()
    deadline = time.monotonic() + GUARD
    while len(group._queue) < len(batches):  # until every other caller has queued
        assert time.monotonic() < deadline, "the other callers did not queue"
        time.sleep(0.001)
    store.release.set()
    assert _joined([lead, rest])
    return first, result[0]


def test_callers_that_arrive_during_a_commit_share_the_next_one() -> None:
    store = Store()
    group = GroupCommit(store.save)
    batches = [[Thing()] for _ in range(10)]
    first, outcomes = held_then_released(store, group, batches)
    assert outcomes == [None] * 10
    assert store.calls == [1, 10]  # the one in progress, then everyone who queued behind it
    assert store.saved == {first.id} | {b[0].id for b in batches}


def test_a_collision_fails_only_the_caller_it_belongs_to() -> None:
    store = Store()
    group = GroupCommit(store.save)
    taken = Thing()
    store.save(taken)
    batches = [[Thing()], [Thing(taken.id)], [Thing(), Thing()]]
    _, outcomes = held_then_released(store, group, batches)
    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert {b.id for b in batches[0] + batches[2]} <= store.saved


def test_when_the_store_fails_every_caller_is_told_and_none_is_told_saved() -> None:
    store = Store()
    group = GroupCommit(store.save)
    store.failing = OperationalError("the store went away")
    outcomes = in_threads(group, [[Thing()] for _ in range(6)])
    assert all(isinstance(o, OperationalError) for o in outcomes)
    assert store.saved == set()


def test_a_caller_is_given_the_future_of_its_commit_without_waiting_for_it() -> None:
    store = Store()
    group = GroupCommit(store.save)
    store.release.clear()
    thing = Thing()

    outcome = group.submit(thing)  # returns while the commit is held

    assert store.entered.wait(GUARD)
    assert not outcome.done()
    store.release.set()
    assert outcome.result(GUARD) == []
    assert store.saved == {thing.id}


def test_past_its_capacity_a_caller_is_refused_at_once_and_nothing_is_queued() -> None:
    store = Store()
    group = GroupCommit(store.save, name="initiations", capacity=2)
    store.release.clear()
    group.submit(Thing())
    assert store.entered.wait(GUARD)  # in the commit; two more may wait
    waiting = [group.submit(Thing()), group.submit(Thing())]
    refused = Thing()

    with pytest.raises(CommitsWaiting, match="initiations"):
        group.submit(refused)

    store.release.set()
    for outcome in waiting:
        outcome.result(GUARD)
    assert refused.id not in store.saved
    assert refused.collect_events() != []  # its events were left with it, unsaved


def test_closing_commits_what_is_queued_then_refuses_more() -> None:
    store = Store()
    group = GroupCommit(store.save)
    store.release.clear()
    first = group.submit(Thing())
    assert store.entered.wait(GUARD)
    queued = group.submit(Thing())
    closer = threading.Thread(target=group.close)
    closer.start()
    store.release.set()
    closer.join(GUARD)

    assert not closer.is_alive()
    assert first.done()
    assert queued.done()
    assert queued.exception() is None
    with pytest.raises(RuntimeError, match="closed"):
        group.submit(Thing())
