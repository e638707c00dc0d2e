"""Fixtures of the chaos suite, and a summary of what each scenario pushed through."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.chaos.cluster import Cluster, RedisServer
from tests.chaos.observer import Observer
from tests.chaos.traffic import Traffic

FIGURES: list[str] = []


@pytest.fixture
def seed() -> int:
    """Random moments and amounts come from this seed; set PAYFLOW_CHAOS_SEED to replay."""
    return int(os.environ.get("PAYFLOW_CHAOS_SEED") or random.randrange(1_000_000))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def cluster(tmp_path: Path, postgres_schema: str, redis_server: RedisServer) -> Iterator[Cluster]:
    deployment = Cluster(tmp_path, postgres_schema, redis_server)
    try:
        deployment.start_all()
        yield deployment
    finally:
        deployment.kill_all()


@pytest.fixture
def observer(tmp_path: Path, postgres_schema: str, cluster: Cluster) -> Iterator[Observer]:
    watching = Observer(tmp_path, postgres_schema)
    yield watching
    watching.close()


@pytest.fixture
async def traffic(cluster: Cluster, seed: int) -> AsyncIterator[Traffic]:
    async with Traffic(cluster.urls, random.Random(seed)) as clients:
        await clients.open_accounts(6, deposit=Decimal("20000"))
        yield clients


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("chaos scenarios")
        for line in FIGURES:
            terminalreporter.write_line(line)
