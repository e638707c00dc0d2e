"""Fault-injection settings kept in PostgreSQL, shared by every process of server mode.

One row of the ``payflow_simulation`` table, in the schema of the event tables
(``POSTGRES_SCHEMA``), holds the whole settings as JSON, the rate exact as
``"numerator/denominator"``. Each ``load`` is one small SELECT, never cached, so
what any API process saves is what the saga process uses for its next credit.
Until something is saved, the initial settings (``PAYFLOW_CREDIT_FAILURE_PERCENT``)
are in force. ``update`` locks the row for its read-modify-write, so concurrent
changes apply one after the other and each saved value is whole.

Database errors leave as the event store's own errors (``eventsourcing``'s
``OperationalError`` while PostgreSQL does not answer), which the API already
answers with 503.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from fractions import Fraction
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import DatabaseError, OperationalError, ProgrammingError
from psycopg import errors, sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolClosed

from application.policy import FailureType, FaultSettings
from infrastructure.postgres_store import RECONNECT_SECONDS
from infrastructure.settings import PostgresSettings, Settings

TABLE = "payflow_simulation"
CONNECT_TIMEOUT = 2  # seconds, to connect or to wait for a free connection
_RATE = re.compile(r"([0-9]+)/([0-9]+)")
_CREATE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} ("
    " id SMALLINT PRIMARY KEY CHECK (id = 1),"  # one row, always id 1
    " settings JSONB NOT NULL,"
    " saved_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
_SELECT = sql.SQL("SELECT settings FROM {table} WHERE id = 1")
_SELECT_FOR_UPDATE = sql.SQL("SELECT settings FROM {table} WHERE id = 1 FOR UPDATE")
_INSERT_IF_MISSING = sql.SQL(
    "INSERT INTO {table} (id, settings) VALUES (1, %s) ON CONFLICT (id) DO NOTHING"
)
_UPDATE = sql.SQL("UPDATE {table} SET settings = %s, saved_at = now() WHERE id = 1")


def encode(settings: FaultSettings) -> dict[str, Any]:
    """The settings as JSON: the rate as an exact ``"numerator/denominator"`` string."""
    rate = settings.rate
    return {
        "enabled": settings.enabled,
        "rate": f"{rate.numerator}/{rate.denominator}",
        "failure_type": settings.failure_type.value,
        "transfer_ids": sorted(str(t) for t in settings.transfer_ids),
    }


def decode(data: Mapping[str, Any]) -> FaultSettings:
    """Settings from their JSON; ValueError if anything in it is malformed."""
    try:
        enabled, rate = data["enabled"], _RATE.fullmatch(str(data["rate"]))
        if not isinstance(enabled, bool) or rate is None:
            raise ValueError
        return FaultSettings(
            enabled=enabled,
            rate=Fraction(int(rate[1]), int(rate[2])),
            failure_type=FailureType(data["failure_type"]),
            transfer_ids=frozenset(UUID(t) for t in data["transfer_ids"]),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"malformed fault settings: {dict(data)!r}") from None


class PostgresFaultSettings:
    """The fault settings in one PostgreSQL row (a ``FaultSettingsStore``).

    With ``create_table`` the table is created, if missing, on first use; server-mode
    workers start with it off (``PAYFLOW_CREATE_TABLES=no``) after ``payflow init``
    has called ``create_table``. A small pool of connections opens on first use.
    """

    def __init__(
        self,
        postgres: PostgresSettings,
        initial: FaultSettings | None = None,
        create_table: bool = True,
    ) -> None:
        self.initial = initial or FaultSettings()
        self._table = sql.Identifier(postgres.schema.strip() or "public", TABLE)
        self._may_create = create_table
        self._created = False
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            psycopg.conninfo.make_conninfo(
                host=postgres.host,
                port=postgres.port,
                dbname=postgres.dbname,
                user=postgres.user,
                password=postgres.password,
                connect_timeout=CONNECT_TIMEOUT,
            ),
            kwargs={"autocommit": True},
            min_size=1,
            max_size=4,
            timeout=CONNECT_TIMEOUT,
            reconnect_timeout=RECONNECT_SECONDS,  # back soon after an outage
            name="payflow-fault-settings",
            open=False,
        )
        self._opened = self._closed = False

    @classmethod
    def for_settings(cls, settings: Settings) -> PostgresFaultSettings:
        """The store a process with these settings uses."""
        return cls(settings.postgres, settings.fault_settings(), settings.create_tables)

    def load(self) -> FaultSettings:
        with self._connection() as conn:
            try:
                row = conn.execute(self._sql(_SELECT)).fetchone()
            except errors.UndefinedTable:
                return self.initial  # no table yet: nothing can have been saved
        return self.initial if row is None else decode(row[0])

    def update(self, change: Callable[[FaultSettings], FaultSettings]) -> FaultSettings:
        with self._connection() as conn:
            try:
                with conn.transaction():
                    return self._update(conn, change)
            except errors.UndefinedTable:
                raise ProgrammingError(
                    f"the {TABLE} table is missing: run `payflow init`"
                ) from None

    def create_table(self) -> None:
        """Create the table if it is missing (concurrent creators are harmless)."""
        with self._connection() as conn:
            self._create(conn)

    def close(self) -> None:
        """Close the connections; the store is not used again afterwards."""
        with self._lock:
            self._closed = True
            if self._opened:
                self._pool.close()

    def _update(
        self, conn: psycopg.Connection[Any], change: Callable[[FaultSettings], FaultSettings]
    ) -> FaultSettings:
        # The row is made first if missing, so that its lock serialises every change.
        conn.execute(self._sql(_INSERT_IF_MISSING), [Jsonb(encode(self.initial))])
        row = conn.execute(self._sql(_SELECT_FOR_UPDATE)).fetchone()
        if row is None:  # pragma: no cover - inserted above, and never deleted
            raise ProgrammingError(f"the {TABLE} row vanished")
        saved = change(decode(row[0]))
        conn.execute(self._sql(_UPDATE), [Jsonb(encode(saved))])
        return saved

    def _create(self, conn: psycopg.Connection[Any]) -> None:
        # IF NOT EXISTS still races with a creator in another process (on the table, or on
        # its row type); either way it exists.
        raced = (errors.UniqueViolation, errors.DuplicateTable, errors.DuplicateObject)
        with suppress(*raced), conn.transaction():
            conn.execute(self._sql(_CREATE))
        self._created = True

    def _sql(self, statement: sql.SQL) -> sql.Composed:
        return statement.format(table=self._table)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (the table made first, when allowed), with psycopg's
        errors turned into the event store's."""
        try:
            with self._opened_pool().connection() as conn:
                if self._may_create and not self._created:
                    self._create(conn)
                yield conn
        except psycopg.OperationalError as error:
            raise OperationalError(f"fault settings unavailable: {error}") from error
        except psycopg.Error as error:
            raise DatabaseError(f"fault settings: {error}") from error

    def _opened_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._closed:
                raise PoolClosed("the fault settings store is closed")
            if not self._opened:
                self._pool.open(wait=False)
                self._opened = True
        return self._pool
