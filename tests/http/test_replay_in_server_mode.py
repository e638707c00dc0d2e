"""Replay first in server mode: two API processes and a saga process over PostgreSQL
and Redis. A retry sent to the other API once its cached answer is gone is still a
replay of the first answer, even though the day's allowance is spent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from infrastructure.redis_ratelimit import connect
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from tests.conftest import REDIS_URL, make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import REPLAYED, Api, failure, success

pytestmark = pytest.mark.postgres


@pytest.fixture
async def saga(tmp_path: Path, postgres_schema: str) -> AsyncIterator[Container]:
    """`payflow saga` and `payflow projector`: their workers in a container of their own."""
    container = bootstrap(make_settings("postgres", tmp_path / "saga", postgres_schema))
    container.saga.start()
    container.projector.start(container.settings.saga_poll_interval)
    yield container
    container.close()


async def api_process(
    aiohttp_client: AiohttpClient, where: Path, schema: str, prefix: str
) -> TestClient:
    settings = make_settings(
        "postgres", where, schema, REDIS_URL=REDIS_URL, PAYFLOW_REDIS_PREFIX=prefix, **UNLIMITED
    )
    return await aiohttp_client(create_app(bootstrap(settings), run_workers=False))


async def flush(prefix: str) -> None:
    redis: Redis = connect(REDIS_URL)
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_a_retry_at_the_other_api_after_a_flush_is_replayed(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    postgres_schema: str,
    redis_prefix: str,
    saga: Container,
) -> None:
    first = Api(await api_process(aiohttp_client, tmp_path / "a", postgres_schema, redis_prefix))
    second = Api(await api_process(aiohttp_client, tmp_path / "b", postgres_schema, redis_prefix))
    asha = await first.register()
    ravi = await first.register("Ravi Shah", "ravi@example.com")
    await first.deposit(asha, "100000")
    body = {"receiverId": ravi.user_id, "amount": 100000}
    headers = asha.auth | {"X-Idempotency-Key": "big-one", "Prefer": "wait=10"}

    answered = await first.client.post("/transactions", json=body, headers=headers)
    original = await success(answered, 201)
    assert original["transaction"]["status"] == "COMPLETED"
    await flush(redis_prefix)
    again = await second.client.post("/transactions", json=body, headers=headers)
    other = await second.client.post("/transactions", json=body | {"amount": 5}, headers=headers)

    assert await success(again, 201) == original
    assert again.headers[REPLAYED] == "true"
    await failure(other, 409, 3006)
    assert await second.balance(ravi) == Decimal(100000)
