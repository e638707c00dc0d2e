"""Group commit: concurrent callers share one transaction, and each gets its own outcome."""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from application.base import CommitsWaiting, GroupCommit, Pending

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


# Decisions: a command checked and committed by the writer -------------------------


def test_decisions_queued_during_a_commit_run_on_the_writer_in_order_and_share_the_next() -> None:
    store = Store()
    group = GroupCommit(store.save)
    store.release.clear()
    group.submit(Thing())
    assert store.entered.wait(GUARD)  # the writer is busy with the first commit
    seen: list[tuple[int, str]] = []
    things = [Thing() for _ in range(5)]

    def deciding(i: int) -> Any:
        def decide() -> Pending:
            seen.append((i, threading.current_thread().name))
            return Pending((things[i],), lambda error: i if error is None else -1)

        return decide

    answers = [group.decide(deciding(i)) for i in range(5)]
    assert seen == []  # nothing is decided on the callers' threads
    store.release.set()

    assert [a.result(GUARD) for a in answers] == [0, 1, 2, 3, 4]
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {"payflow-commits"}
    assert store.calls == [1, 5]  # all five decided, then committed together
    assert {t.id for t in things} <= store.saved


def test_a_decision_that_refuses_or_answers_at_once_commits_nothing_of_its_own() -> None:
    store = Store()
    group = GroupCommit(store.save)
    kept = Thing()

    def refuse() -> Any:
        raise LookupError("no such receiver")

    refused = group.decide(refuse)
    answered = group.decide(lambda: "the earlier transfer")
    committed = group.decide(lambda: Pending((kept,), lambda error: "accepted"))

    with pytest.raises(LookupError, match="no such receiver"):
        refused.result(GUARD)
    assert answered.result(GUARD) == "the earlier transfer"
    assert committed.result(GUARD) == "accepted"
    assert store.saved == {kept.id}
    assert sum(store.calls) == 1  # only the pending one's event was saved


def test_a_refused_commit_is_answered_by_the_decision_s_own_answer() -> None:
    store = Store()
    group = GroupCommit(store.save)
    taken = Thing()
    store.save(taken)
    errors: list[BaseException | None] = []

    def answer(error: BaseException | None) -> str:
        errors.append(error)
        if error is not None:
            raise error
        return "accepted"

    twin = group.decide(lambda: Pending((Thing(taken.id),), answer))
    with pytest.raises(IntegrityError):
        twin.result(GUARD)
    assert len(errors) == 1
    assert isinstance(errors[0], IntegrityError)

    forgiven = group.decide(lambda: Pending((Thing(taken.id),), lambda error: "made after all"))
    assert forgiven.result(GUARD) == "made after all"  # an answer may overrule the refusal


def test_a_decision_runs_in_its_caller_s_context() -> None:
    store = Store()
    group = GroupCommit(store.save)
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    request_id.set("req-1")
    seen = group.decide(request_id.get)
    request_id.set("req-2")
    assert seen.result(GUARD) == "req-1"  # the context as it was when it was queued


def test_past_its_capacity_a_decision_is_refused_at_once_and_never_runs() -> None:
    store = Store()
    group = GroupCommit(store.save, capacity=1)
    store.release.clear()
    group.submit(Thing())
    assert store.entered.wait(GUARD)
    group.submit(Thing())
    ran: list[str] = []

    with pytest.raises(CommitsWaiting):
        group.decide(lambda: ran.append("decided"))

    store.release.set()
    group.close()
    assert ran == []


def test_each_caller_is_replied_to_once_on_the_writer_and_a_failing_reply_stops_nothing() -> None:
    store = Store()
    group = GroupCommit(store.save)
    store.release.clear()
    group.submit(Thing())
    assert store.entered.wait(GUARD)  # the next callers share one commit
    replies: list[tuple[str, Any, BaseException | None, str]] = []
    done = threading.Event()

    def reply_as(name: str) -> Any:
        def reply(value: Any, error: BaseException | None) -> None:
            replies.append((name, value, error, threading.current_thread().name))
            if name == "careless":
                raise RuntimeError("this caller's reply is broken")
            if name == "last":
                done.set()

        return reply

    things = [Thing() for _ in range(3)]
    group.decide_then(lambda: Pending((things[0],), lambda e: "first"), reply_as("first"))
    group.decide_then(lambda: Pending((things[1],), lambda e: "careless"), reply_as("careless"))
    group.decide_then(lambda: Pending((things[2],), lambda e: "last"), reply_as("last"))
    store.release.set()

    assert done.wait(GUARD)
    assert [(name, value, error) for name, value, error, _ in replies] == [
        ("first", "first", None),
        ("careless", "careless", None),
        ("last", "last", None),
    ]
    assert {thread for *_, thread in replies} == {"payflow-commits"}
    assert store.calls == [1, 3]
    assert group.save(Thing()) == []  # the writer is still there after the broken reply
