"""Event-store configuration for each application, from the settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

from infrastructure.settings import Settings

EnvFor = Callable[[str], dict[str, str]]


# The applications whose aggregates only the ledger's own processes write (no CLI command).
SOLE_WRITER_APPS = ("Wallets", "Transfers")


def env_for(settings: Settings, sole_writer: bool = False) -> EnvFor:
    """A function giving the ``eventsourcing`` environment of each application.

    ``sole_writer``: this process is the only one that writes wallets and transfers
    (``payflow up``), so its aggregate cache is what the store holds and a cached
    wallet is used without asking the store for newer events. Were it ever stale,
    its next commit would collide on (id, version) and the applications forget it
    (``Snapshotting._record``), so the retry decides on what the store holds.
    """

    def build(app_name: str) -> dict[str, str]:
        env = {
            "AGGREGATE_CACHE_MAXSIZE": "10000",
            # Processes starting together must not race to create tables and functions.
            "CREATE_TABLE": "y" if settings.create_tables else "n",
            "TRANSCODER_TOPIC": "infrastructure.transcoder:OrjsonTranscoder",
        }
        if sole_writer and app_name in SOLE_WRITER_APPS:
            env["AGGREGATE_CACHE_FASTFORWARD"] = "n"
        if settings.store == "sqlite":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            env |= {
                "PERSISTENCE_MODULE": "infrastructure.sqlite_store",
                "SQLITE_DBNAME": str(settings.data_dir / f"{app_name.lower()}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
                "SQLITE_SYNCHRONOUS": settings.sqlite_synchronous,
            }
        elif settings.store == "postgres":
            pg = settings.postgres
            env |= {
                "PERSISTENCE_MODULE": "infrastructure.postgres_store",
                "POSTGRES_HOST": pg.host,
                "POSTGRES_PORT": str(pg.port),
                "POSTGRES_DBNAME": pg.dbname,
                "POSTGRES_USER": pg.user,
                "POSTGRES_PASSWORD": pg.password,
                "POSTGRES_SCHEMA": pg.schema,
                "POSTGRES_CONNECT_TIMEOUT": "2",
                # One connection kept per application, up to 15 under load: a server-mode
                # deployment runs several processes of four applications each, and
                # PostgreSQL's default max_connections is 100.
                "POSTGRES_POOL_SIZE": "1",
                "POSTGRES_MAX_OVERFLOW": "14",
            }
        else:
            env["PERSISTENCE_MODULE"] = "infrastructure.memory_store"
        return env

    return build


def read_store_env(settings: Settings) -> dict[str, str]:
    """Where the read models live: beside the events, in the same kind of store.

    The in-memory store keeps its read models in an in-memory SQLite database of
    its own, so the same SQL serves every mode.
    """
    if settings.store == "memory":
        name = f"file:payflow-read-{uuid.uuid4().hex}?mode=memory&cache=shared"
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}
    return env_for(settings)("ReadModels")


def ensure_schema(settings: Settings) -> None:
    """Create the PostgreSQL schema PayFlow is told to use, if it is not there yet
    (only where this process creates the tables: `payflow init`, `payflow up`)."""
    pg = settings.postgres
    if settings.store != "postgres" or not settings.create_tables or not pg.schema:
        return
    with psycopg.connect(
        host=pg.host,
        port=pg.port,
        dbname=pg.dbname,
        user=pg.user,
        password=pg.password,
        connect_timeout=5,
        autocommit=True,
    ) as connection:
        connection.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(pg.schema))
        )
