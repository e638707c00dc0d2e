"""Shared fixtures: stores of every kind, a ledger on each, cheap settings."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from application.policy import CreditFaults, Limits
from application.saga import Ledger
from application.webhooks import WebhookRules
from infrastructure.redis_ratelimit import connect
from infrastructure.settings import Settings
from infrastructure.stores import env_for

PG = {
    "host": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "port": int(os.environ.get("POSTGRES_PORT", "5432")),
    "dbname": os.environ.get("PAYFLOW_TEST_POSTGRES_DBNAME", "postgres"),
    "user": os.environ.get("POSTGRES_USER", "postgres"),
    "password": os.environ.get("POSTGRES_PASSWORD", ""),
}
REDIS_URL = os.environ.get("PAYFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STORES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_available() -> bool:
    try:
        with psycopg.connect(**PG, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def require_postgres() -> None:
    """In CI PostgreSQL is mandatory: its absence fails the run instead of skipping."""
    if postgres_available():
        return
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is not reachable, and CI requires it")
    pytest.skip("PostgreSQL is not reachable (set CI=true to make this a failure)")


def redis_available() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def require_redis() -> None:
    """In CI Redis is mandatory: its absence fails the run instead of skipping."""
    if redis_available():
        return
    if os.environ.get("CI"):
        pytest.fail("Redis is not reachable, and CI requires it")
    pytest.skip("Redis is not reachable (set CI=true to make this a failure)")


def closed_port_url() -> str:
    """A redis:// URL on a local port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A fresh schema, dropped afterwards, so each test starts from an empty store."""
    require_postgres()
    schema = f"pf_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield schema
    with psycopg.connect(**PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_environ(schema: str) -> dict[str, str]:
    """The variables that point PayFlow at the test server, in ``schema``."""
    return {
        "POSTGRES_HOST": PG["host"],
        "POSTGRES_PORT": str(PG["port"]),
        "POSTGRES_DBNAME": PG["dbname"],
        "POSTGRES_USER": PG["user"],
        "POSTGRES_PASSWORD": PG["password"],
        "POSTGRES_SCHEMA": schema,
    }


def make_settings(store: str, tmp_path: Path, schema: str = "", **overrides: object) -> Settings:
    environ = {
        "PAYFLOW_STORE": store,
        "PAYFLOW_DATA_DIR": str(tmp_path / "data"),
        "PAYFLOW_SQLITE_SYNCHRONOUS": "NORMAL",  # tests trade power-loss safety for speed
        "PAYFLOW_ARGON2_TIME_COST": "1",
        "PAYFLOW_ARGON2_MEMORY_KIB": "64",
        "PAYFLOW_SAGA_POLL_MS": "50",
        **postgres_environ(schema),
    }
    environ |= {k: str(v) for k, v in overrides.items()}
    return Settings.from_env(environ)


LedgerFactory = Callable[..., Ledger]


def settings_for_param(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for the store kind a fixture is parametrized with; PostgreSQL gets a schema."""
    schema = ""
    if request.param == "postgres":
        schema = request.getfixturevalue("postgres_schema")
    return make_settings(request.param, tmp_path, schema)


@pytest.fixture(params=STORES)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for each store kind in turn: in-memory, SQLite, PostgreSQL."""
    return settings_for_param(request, tmp_path)


@pytest.fixture
def ledger_factory(store_settings: Settings) -> Iterator[LedgerFactory]:
    """Builds ledgers over one store; on a persistent store a second build is a restart."""
    built: list[Ledger] = []

    def build(
        limits: Limits | None = None,
        faults: CreditFaults | None = None,
        webhook_rules: WebhookRules | None = None,
    ) -> Ledger:
        ledger = Ledger.build(
            env_for(store_settings),
            limits=limits,
            faults=faults,
            webhook_rules=webhook_rules,
            snapshot_interval=store_settings.snapshot_interval,
        )
        built.append(ledger)
        return ledger

    yield build
    for ledger in built:
        ledger.close()


@pytest.fixture
def ledger(ledger_factory: LedgerFactory) -> Ledger:
    return ledger_factory()


PERSISTENT_STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=PERSISTENT_STORES)
def persistent_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a store that outlives its applications, for restart tests."""
    return settings_for_param(request, tmp_path)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix for one test; its keys are deleted afterwards."""
    require_redis()
    prefix = f"payflow-test:{uuid.uuid4().hex}:"
    yield prefix
    client = connect(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
