"""The in-memory rate limiter: fixed windows on an injected clock, bounded memory."""

from __future__ import annotations

import threading

import pytest

from infrastructure.ratelimit import SWEEP_INTERVAL, Decision, InMemoryRateLimiter, Rule
from tests.support.clock import FakeClock as Clock

GUARD = 30.0  # seconds any wait here may take before the test fails


THREE_PER_MINUTE = Rule(3, 60)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(clock=clock)


def test_allows_up_to_the_limit_then_refuses(limiter: InMemoryRateLimiter) -> None:
    decisions = [limiter.hit_now("k", THREE_PER_MINUTE) for _ in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {3}


def test_the_reset_counts_down_from_the_first_hit_of_the_window(
    limiter: InMemoryRateLimiter, clock: Clock
) -> None:
    assert limiter.hit_now("k", THREE_PER_MINUTE).reset_after == 60
    clock.advance(15.5)

    decision = limiter.hit_now("k", THREE_PER_MINUTE)
    assert decision.reset_after == pytest.approx(44.5)
    assert decision.reset_seconds == 45


def test_a_new_window_starts_when_the_last_one_ends(
    limiter: InMemoryRateLimiter, clock: Clock
) -> None:
    for _ in range(4):
        limiter.hit_now("k", THREE_PER_MINUTE)
    clock.advance(59.9)
    assert not limiter.hit_now("k", THREE_PER_MINUTE).allowed
    clock.advance(0.1)

    decision = limiter.hit_now("k", THREE_PER_MINUTE)
    assert (decision.allowed, decision.remaining, decision.reset_after) == (True, 2, 60)


def test_keys_count_apart(limiter: InMemoryRateLimiter) -> None:
    for _ in range(3):
        limiter.hit_now("asha", THREE_PER_MINUTE)

    assert not limiter.hit_now("asha", THREE_PER_MINUTE).allowed
    assert limiter.hit_now("ravi", THREE_PER_MINUTE).remaining == 2


def test_the_reset_header_value_is_whole_seconds_and_never_zero() -> None:
    assert Decision(True, 5, 4, 0.2).reset_seconds == 1
    assert Decision(True, 5, 4, 899.01).reset_seconds == 900
    assert Decision(True, 5, 4, 0.0).reset_seconds == 1


async def test_the_async_hit_counts_like_the_blocking_one(limiter: InMemoryRateLimiter) -> None:
    limiter.hit_now("k", THREE_PER_MINUTE)

    assert (await limiter.hit("k", THREE_PER_MINUTE)).remaining == 1


def test_ended_windows_are_forgotten_at_the_next_sweep(
    limiter: InMemoryRateLimiter, clock: Clock
) -> None:
    for n in range(50):
        limiter.hit_now(f"client-{n}", THREE_PER_MINUTE)
    assert len(limiter) == 50
    clock.advance(SWEEP_INTERVAL)

    limiter.hit_now("late", Rule(3, 600))

    assert len(limiter) == 1


def test_live_windows_survive_a_sweep(limiter: InMemoryRateLimiter, clock: Clock) -> None:
    long = Rule(3, 3600)
    limiter.hit_now("patient", long)
    clock.advance(SWEEP_INTERVAL)

    limiter.hit_now("other", long)

    assert len(limiter) == 2
    assert limiter.hit_now("patient", long).remaining == 1  # its first hit still counts


def test_memory_stays_bounded_by_forgetting_the_oldest_keys(clock: Clock) -> None:
    limiter = InMemoryRateLimiter(clock=clock, max_keys=10)
    hour = Rule(1, 3600)
    for n in range(100):
        limiter.hit_now(f"client-{n}", hour)
        assert len(limiter) <= 10

    assert not limiter.hit_now("client-99", hour).allowed  # the newest are kept
    assert limiter.hit_now("client-0", hour).allowed  # the oldest were forgotten


def test_concurrent_threads_get_exactly_the_limit(limiter: InMemoryRateLimiter) -> None:
    rule = Rule(100, 60)
    allowed: list[bool] = []
    start = threading.Barrier(8, timeout=GUARD)

    def hammer() -> None:
        start.wait()
        allowed.extend(limiter.hit_now("k", rule).allowed for _ in range(50))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
        assert not thread.is_alive()

    assert len(allowed) == 400
    assert sum(allowed) == 100


async def test_a_forgiven_hit_is_taken_back_within_its_window_only(
    limiter: InMemoryRateLimiter,
) -> None:
    rule = Rule(2, 60)
    await limiter.forgive("k")  # nothing to take back
    for _ in range(2):
        limiter.hit_now("k", rule)
    await limiter.forgive("k")

    assert limiter.hit_now("k", rule).allowed
    assert not limiter.hit_now("k", rule).allowed
