"""Bounded pools and shared calls: what they admit, refuse, share and release."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from infrastructure.bulkhead import Bulkhead, FairShare, Overloaded, SharedCall, TooMuchAtOnce

GUARD = 10.0  # seconds any wait here may take before the test fails


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    opened = threading.Event()
    yield opened
    opened.set()


@pytest.fixture
def pool() -> Iterator[Bulkhead]:
    made = Bulkhead("test", threads=1, queue=1)
    yield made
    made.shutdown()


async def test_admits_its_threads_and_queue_then_refuses_at_once(
    pool: Bulkhead, gate: threading.Event
) -> None:
    held = [asyncio.create_task(pool.run(gate.wait, GUARD)) for _ in range(2)]
    await asyncio.wait_for(_until(lambda: pool.in_use == 2), GUARD)

    with pytest.raises(Overloaded, match="the test pool is busy"):
        await pool.run(lambda: None)
    assert pool.in_use == 2
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(*held), GUARD) == [True, True]
    assert pool.in_use == 0
    assert await pool.run(lambda: "served again") == "served again"


async def test_a_call_counts_until_its_thread_is_done_even_if_its_caller_left(
    pool: Bulkhead, gate: threading.Event
) -> None:
    finished = threading.Event()

    def slow() -> None:
        gate.wait(GUARD)
        finished.set()

    caller = asyncio.create_task(pool.run(slow))
    await asyncio.wait_for(_until(lambda: pool.in_use == 1), GUARD)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert pool.in_use == 1  # the thread is still busy with it
    gate.set()
    assert await asyncio.to_thread(finished.wait, GUARD)
    await asyncio.wait_for(_until(lambda: pool.in_use == 0), GUARD)


async def test_a_shared_call_serves_every_caller_who_came_while_one_ran(
    pool: Bulkhead, gate: threading.Event
) -> None:
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        gate.wait(GUARD)
        return len(calls)

    shared = SharedCall(count, pool)
    first = asyncio.create_task(shared())
    await asyncio.wait_for(_until(lambda: bool(calls)), GUARD)
    later = [asyncio.create_task(shared()) for _ in range(20)]  # they came during call 1
    await asyncio.sleep(0)  # let them all ask (each asks at once, without waiting)
    gate.set()

    assert await asyncio.wait_for(first, GUARD) == 1
    assert await asyncio.wait_for(asyncio.gather(*later), GUARD) == [2] * 20
    assert len(calls) == 2  # twenty-one callers, two calls, none answered from before


async def test_a_failed_shared_call_fails_its_callers_and_the_next_one_calls_again(
    pool: Bulkhead,
) -> None:
    outcomes = iter([RuntimeError("store away"), "back"])

    def flaky() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    shared = SharedCall(flaky, pool)
    with pytest.raises(RuntimeError, match="store away"):
        await shared()
    assert await shared() == "back"


async def _until(condition: object) -> None:
    while not condition():  # type: ignore[operator]
        await asyncio.sleep(0.01)  # polling a condition; the caller bounds it


async def test_a_call_that_may_not_be_refused_waits_for_a_full_pool(
    pool: Bulkhead, gate: threading.Event
) -> None:
    held = [asyncio.create_task(pool.run(gate.wait, GUARD)) for _ in range(2)]
    await asyncio.wait_for(_until(lambda: pool.in_use == 2), GUARD)
    later = asyncio.create_task(pool.run(lambda: "done after all", refusable=False))
    await asyncio.wait_for(_until(lambda: pool.in_use == 3), GUARD)

    assert not later.done()  # admitted past the bound, waiting for the one thread
    gate.set()
    assert await asyncio.wait_for(later, GUARD) == "done after all"
    await asyncio.wait_for(asyncio.gather(*held), GUARD)


async def test_each_party_gets_its_share_and_a_bounded_line(
    gate: threading.Event,
) -> None:
    pool = Bulkhead("shared", threads=2, queue=10)
    fair = FairShare(pool, share=1, line=2)
    try:
        hers = [asyncio.create_task(fair.run("asha", gate.wait, GUARD)) for _ in range(3)]
        await asyncio.wait_for(_until(lambda: fair.lined_up("asha") == 2), GUARD)

        with pytest.raises(TooMuchAtOnce):
            await fair.run("asha", lambda: None)
        assert pool.in_use == 1  # her share, however many she sends
        his = asyncio.create_task(fair.run("ravi", lambda: "ravi served"))
        assert await asyncio.wait_for(his, GUARD) == "ravi served"
        late = asyncio.create_task(fair.run("asha", lambda: "waited", refusable=False))
        gate.set()
        assert await asyncio.wait_for(late, GUARD) == "waited"
        assert await asyncio.wait_for(asyncio.gather(*hers), GUARD) == [True] * 3
        assert fair.lined_up("asha") == 0
    finally:
        pool.shutdown()


async def test_a_failed_call_s_traceback_keeps_no_hold_on_its_future(
    pool: Bulkhead,
) -> None:
    """Else the failure, its traceback, the frame and the future form a cycle that
    only a full collection frees, with whatever the call's frames held."""

    def fails() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused") as raised:
        await pool.run(fails)
    frames = []
    tb = raised.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert any(frame.f_code is Bulkhead.run.__code__ for frame in frames)
    assert not [frame for frame in frames if "future" in frame.f_locals]
