"""The PostgreSQL store's pools give up a reconnection quickly, so service resumes soon."""

from __future__ import annotations

from infrastructure.postgres_store import RECONNECT_SECONDS, Factory


def test_its_pools_stop_backing_off_after_a_couple_of_seconds() -> None:
    factory = Factory(
        {
            "POSTGRES_DBNAME": "payflow",
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": "5432",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "",
        }
    )
    try:
        assert factory.datastore.pool.reconnect_timeout == RECONNECT_SECONDS <= 5
    finally:
        factory.close()
