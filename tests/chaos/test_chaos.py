"""Chaos: while transfers flow through two API processes, break one part of the
deployment; once it has settled, nothing may be lost, duplicated or left half-done.

Each scenario runs the same load (8 clients, 6 users, reused idempotency keys) over a
deployment of its own. After the chaos the deployment is repaired (the killed process
restarted, Redis back), and then:
- every transfer reaches COMPLETED or FAILED, and the projector process catches up;
- ``payflow audit`` passes: invariants, conservation, read models equal to the replay;
- no transfer was debited, credited or refunded twice;
- no idempotency key produced two transfers, and every answer for a key named the same one;
- no client gave up: commands kept being answered throughout;
- every process stops cleanly on SIGTERM.
The random moments come from a seed printed with the figures (PAYFLOW_CHAOS_SEED replays it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from tests.chaos.cluster import Cluster
from tests.chaos.conftest import FIGURES
from tests.chaos.observer import Observer
from tests.chaos.traffic import Traffic

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.timeout(600)]

LOAD_SECONDS = 6.0
SETTLE_TIMEOUT = 120.0

Chaos = Callable[[], Awaitable[str]]


async def run_scenario(
    name: str, cluster: Cluster, observer: Observer, traffic: Traffic, chaos: Chaos, seed: int
) -> dict[str, int]:
    """Load and chaos together; then repair, settle and check everything. The statuses.
    The load runs for LOAD_SECONDS and on until the chaos is over, however slow."""
    chaos_over = asyncio.Event()
    load = asyncio.create_task(traffic.run(LOAD_SECONDS, until=chaos_over))
    try:
        what_happened = await chaos()
    finally:
        chaos_over.set()
        await load
    for process in cluster.WORKERS + cluster.APIS:  # repair whatever is still down
        if not cluster.running(process):
            await asyncio.to_thread(cluster.start, process)
    if not cluster.redis.answers():
        cluster.redis.start()

    settled = await asyncio.to_thread(observer.settle, SETTLE_TIMEOUT)

    assert not traffic.given_up, f"clients gave up on {len(traffic.given_up)} transfers"
    observer.check_each_step_taken_once()
    observer.check_one_transfer_per_key(traffic)
    audit = await asyncio.to_thread(cluster.payflow, "audit", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr + cluster.tails()
    summary = json.loads(audit.stdout)
    assert summary["ok"], summary
    assert summary["transfers"] == dict(settled.statuses), summary
    assert Decimal(summary["userBalances"]) == traffic.deposited, summary  # nothing created
    assert Decimal(summary["inFlight"]) == 0, summary
    exits = await asyncio.to_thread(cluster.stop_all)
    assert set(exits.values()) == {0}, f"{exits}\n{cluster.tails()}"

    pushed = len(traffic.acknowledged)
    requests = sum(traffic.outcomes.values())
    FIGURES.append(
        f"{name}: {pushed} transfers pushed ({requests} requests: {dict(traffic.outcomes)}); "
        f"{what_happened}; settled in {settled.seconds:.2f} s after the load stopped; "
        f"{dict(settled.statuses)}; seed {seed}"
    )
    assert pushed >= 20, f"too little load to prove anything: {traffic.outcomes}"
    return dict(settled.statuses)


async def a_moment(traffic: Traffic, low: float, high: float) -> None:
    """Let the load run for a random while: the chaos strikes at a random moment."""
    await asyncio.sleep(traffic.rng.uniform(low, high))


async def test_saga_killed_at_random_moments_and_restarted(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    async def chaos() -> str:
        for _ in range(3):
            await a_moment(traffic, 0.5, 1.5)
            await asyncio.to_thread(cluster.kill, "saga")
            await asyncio.to_thread(cluster.start, "saga")
        return f"saga killed -9 {cluster.kills['saga']} times"

    await run_scenario("saga kill -9", cluster, observer, traffic, chaos, seed)


async def test_projector_killed_and_restarted(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    async def chaos() -> str:
        for _ in range(2):
            await a_moment(traffic, 0.5, 1.5)
            await asyncio.to_thread(cluster.kill, "projector")
            await a_moment(traffic, 0.2, 1.0)  # the read models fall behind meanwhile
            await asyncio.to_thread(cluster.start, "projector")
        return f"projector killed -9 {cluster.kills['projector']} times"

    await run_scenario("projector kill -9", cluster, observer, traffic, chaos, seed)


async def test_api_killed_in_the_middle_of_requests(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    async def chaos() -> str:
        for api in cluster.APIS:
            await a_moment(traffic, 0.5, 1.0)
            await traffic.next_request_to(cluster.url(api))
            await asyncio.to_thread(cluster.kill, api)  # with that request unanswered
            await a_moment(traffic, 0.5, 1.0)  # its clients turn to the other API
            await asyncio.to_thread(cluster.start, api)
        lost = sum(n for outcome, n in traffic.outcomes.items() if outcome.startswith("no answer"))
        assert lost, "no request met a dead API process"
        cut = sum(n for o, n in traffic.outcomes.items() if "Disconnected" in o or "OSError" in o)
        return (
            f"each API killed -9 once, when a request had reached it ({lost} requests got no "
            f"answer and were retried on the other API, {cut} of them cut off mid-request)"
        )

    await run_scenario("API kill -9", cluster, observer, traffic, chaos, seed)


async def test_redis_stopped_and_started_again(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    async def chaos() -> str:
        await a_moment(traffic, 1.0, 1.5)
        cluster.redis.kill()
        answered_before = sum(traffic.outcomes.values())
        await a_moment(traffic, 2.0, 2.5)  # commands must go on without Redis
        answered_while_down = sum(traffic.outcomes.values()) - answered_before
        assert answered_while_down, traffic.outcomes
        await asyncio.to_thread(cluster.redis.start)
        return f"Redis killed for 2-2.5 s ({answered_while_down} requests answered meanwhile)"

    await run_scenario("Redis stop/start", cluster, observer, traffic, chaos, seed)


async def test_redis_flushed(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    async def chaos() -> str:
        flushed = []
        for _ in range(2):
            await a_moment(traffic, 1.0, 2.0)
            flushed.append(cluster.redis.dbsize())
            assert cluster.redis.command("FLUSHALL") == "OK"
        assert all(flushed), f"Redis held nothing to lose: {flushed}"
        return f"FLUSHALL twice (dropping {flushed[0]} and {flushed[1]} keys)"

    await run_scenario("Redis FLUSHALL", cluster, observer, traffic, chaos, seed)


async def test_credit_failures_at_30_percent(
    cluster: Cluster, observer: Observer, traffic: Traffic, seed: int
) -> None:
    first, second = cluster.urls
    status, body = await traffic.post(first, "/ledger/simulation", {"failureRate": Decimal("0.3")})
    assert status == 200, body
    status, body = await traffic.get(second, "/ledger/simulation")  # shared by every process
    assert status == 200, body
    assert Decimal(str(body["data"]["failureRate"])) == Decimal("0.3"), body

    async def chaos() -> str:
        return "credit failures injected at 30%"

    statuses = await run_scenario("credit failures 30%", cluster, observer, traffic, chaos, seed)
    refunded = observer.refunded()
    assert statuses["COMPLETED"], statuses
    assert refunded, statuses
    FIGURES[-1] += f"; {refunded} refunded after a failed credit"
