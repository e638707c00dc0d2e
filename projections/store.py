"""The read store: plain SQL tables of read models, and their tracking, in one transaction.

The same SQL runs on SQLite and PostgreSQL (only the parameter style and the
schema prefix differ). Each batch of row changes is committed together with the
tracking record of the last notification it came from, so a projector that
crashes and restarts neither skips nor repeats an event.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

READ_STORE_NAME = "ReadModels"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_NAMED_PARAMETER = re.compile(r":([a-z_]+)")

TABLES = (
    """CREATE TABLE IF NOT EXISTS {t}transfers (
        transfer_id TEXT PRIMARY KEY,
        sender_id TEXT NOT NULL,
        receiver_id TEXT NOT NULL,
        amount BIGINT NOT NULL,
        currency TEXT NOT NULL,
        status TEXT NOT NULL,
        description TEXT,
        failure_reason TEXT,
        initiated_at TEXT NOT NULL,
        completed_at TEXT,
        updated_at TEXT NOT NULL,
        position BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS {n}transfers_by_sender ON {t}transfers (sender_id, initiated_at)",
    "CREATE INDEX IF NOT EXISTS {n}transfers_by_receiver "
    "ON {t}transfers (receiver_id, initiated_at)",
    """CREATE TABLE IF NOT EXISTS {t}wallets (
        wallet_id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        currency TEXT NOT NULL,
        vpa TEXT,
        balance BIGINT NOT NULL,
        is_frozen BOOLEAN NOT NULL,
        is_closed BOOLEAN NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        position BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {t}movements (
        wallet_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        kind TEXT NOT NULL,
        amount BIGINT NOT NULL,
        balance_after BIGINT NOT NULL,
        operation_id TEXT NOT NULL,
        counterparty_wallet_id TEXT,
        occurred_at TEXT NOT NULL,
        PRIMARY KEY (wallet_id, position))""",
    """CREATE TABLE IF NOT EXISTS {t}deposits (
        deposit_id TEXT PRIMARY KEY,
        wallet_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        amount BIGINT NOT NULL,
        currency TEXT NOT NULL,
        deposited_at TEXT NOT NULL,
        position BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS {n}deposits_by_owner ON {t}deposits (owner_id, deposited_at)",
    """CREATE TABLE IF NOT EXISTS {t}webhook_deliveries (
        delivery_id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        event TEXT NOT NULL,
        transfer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_status_code INTEGER,
        last_error TEXT,
        next_attempt_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        position BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS {n}webhook_deliveries_by_webhook "
    "ON {t}webhook_deliveries (webhook_id, created_at)",
    """CREATE TABLE IF NOT EXISTS {t}webhook_attempts (
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status_code INTEGER,
        latency_ms INTEGER NOT NULL,
        error TEXT,
        delivered BOOLEAN NOT NULL,
        attempted_at TEXT NOT NULL,
        PRIMARY KEY (delivery_id, attempt))""",
    """{create_view} {t}daily_volumes AS
        SELECT substr(initiated_at, 1, 10) AS day, status, currency,
               COUNT(*) AS transfers, SUM(amount) AS amount
        FROM {t}transfers GROUP BY substr(initiated_at, 1, 10), status, currency""",
)
READ_TABLES = (
    "transfers",
    "wallets",
    "movements",
    "deposits",
    "webhook_deliveries",
    "webhook_attempts",
)


@dataclass(frozen=True)
class Write:
    """One parametrised statement; ``{t}`` stands for the table prefix."""

    sql: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class ReadSnapshot:
    """The read models at one instant: how far they got, balances and statuses."""

    positions: dict[str, int]
    balances: dict[str, int]  # wallet id (hex) -> minor units
    statuses: dict[str, str]  # transfer id (hex) -> status


class ProjectionOvertaken(Exception):
    """Another projector recorded positions of this page first; the page is rolled back."""


class ReadStore:
    """Runs read-model statements and records tracking in the same transaction."""

    tracking_table = "tracking"

    snapshot_isolation = ""  # a statement that makes a transaction one consistent snapshot
    create_view = "CREATE VIEW IF NOT EXISTS"

    datastore: Any
    table_prefix = ""
    index_prefix = ""

    if TYPE_CHECKING:  # provided by the library's tracking recorder it is mixed into

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...

        def max_tracking_id(self, application_name: str) -> int | None: ...

        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...

    def statement(self, sql: str) -> str:
        return sql.format(t=self.table_prefix, n=self.index_prefix, create_view=self.create_view)

    def prepared(self, sql: str) -> str:
        """``statement(sql)``, formatted once per store and kept."""
        kept: dict[str, str] = self.__dict__.setdefault("_prepared", {})
        found = kept.get(sql)
        if found is None:
            found = kept[sql] = self.statement(sql)
        return found

    def create_read_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for ddl in TABLES:
                c.execute(self.statement(ddl))

    def apply(self, writes: Sequence[Write], tracking: Tracking, after: int) -> None:
        """Commit the writes and move the tracking from ``after`` to the page's end,
        together, or neither. If another projector moved the tracking meanwhile (even
        to somewhere short of this page's end), ``ProjectionOvertaken`` is raised and
        nothing of this page is kept: its events may be in the other's page too."""
        with self.datastore.transaction(commit=True) as c:
            self._write(c, writes)
            self._move_tracking(c, tracking, after)

    def _write(self, c: Any, writes: Sequence[Write]) -> None:
        """Run the writes in order; a run of one statement goes as one executemany."""
        for sql, run in itertools.groupby(writes, key=lambda write: write.sql):
            params = [dict(write.params) for write in run]
            if len(params) == 1:
                c.execute(self.prepared(sql), params[0])
            else:
                c.executemany(self.prepared(sql), params)

    def _move_tracking(self, c: Any, tracking: Tracking, after: int) -> None:
        params = {"name": tracking.application_name, "at": tracking.notification_id}
        if after == 0:  # the first page: nobody may have recorded any position yet
            sql = (
                f"INSERT INTO {self.tracking_table} (application_name, notification_id) "
                "VALUES (:name, :at) ON CONFLICT DO NOTHING RETURNING notification_id"
            )
        else:  # compare and swap: only from exactly where this page began
            sql = (
                f"UPDATE {self.tracking_table} SET notification_id = :at "
                "WHERE application_name = :name AND notification_id = :after "
                "RETURNING notification_id"
            )
            params["after"] = after
        c.execute(self.statement(sql), params)
        if c.fetchone() is None:
            raise ProjectionOvertaken(f"{tracking.application_name} moved past {after}")

    def select(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.statement(sql), dict(params))
            return [dict(row) for row in c.fetchall()]

    def rebuild(self, pages: Iterable[tuple[str, list[Write], int]]) -> dict[str, int]:
        """Empty every read model and project ``pages`` (leader, writes, last position)
        again, all in one transaction: readers see the old rows until it commits, and a
        projector running meanwhile finds its tracking overtaken and moves on."""
        reached: dict[str, int] = {}
        with self.datastore.transaction(commit=True) as c:
            for table in READ_TABLES:
                c.execute(self.statement(f"DELETE FROM {{t}}{table}"))
            for leader_name, writes, last in pages:
                if leader_name not in reached:
                    self._delete_tracking(c, leader_name)
                self._write(c, writes)
                reached[leader_name] = last
            for leader_name, last in reached.items():
                self._insert_tracking(c, Tracking(leader_name, last))
        return reached

    def _delete_tracking(self, c: Any, leader_name: str) -> None:
        raise NotImplementedError

    def snapshot(self, leader_names: Sequence[str]) -> ReadSnapshot:
        """Positions and rows read in one consistent snapshot, even while projecting."""
        with self.datastore.transaction(commit=False) as c:
            if self.snapshot_isolation:
                c.execute(self.snapshot_isolation)
            positions = {name: self._max_tracking_id(name, c) or 0 for name in leader_names}
            c.execute(self.statement("SELECT wallet_id, balance FROM {t}wallets"))
            balances = {row["wallet_id"]: int(row["balance"]) for row in c.fetchall()}
            c.execute(self.statement("SELECT transfer_id, status FROM {t}transfers"))
            statuses = {row["transfer_id"]: row["status"] for row in c.fetchall()}
        return ReadSnapshot(positions, balances, statuses)

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            yield c


class SQLiteReadStore(ReadStore, SQLiteTrackingRecorder):
    def _delete_tracking(self, c: Any, leader_name: str) -> None:
        c.execute("DELETE FROM tracking WHERE application_name = :name", {"name": leader_name})

    def create_table(self) -> None:
        super().create_table()
        self.create_read_tables()


class PostgresReadStore(ReadStore, PostgresTrackingRecorder):
    snapshot_isolation = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
    create_view = "CREATE OR REPLACE VIEW"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = self.datastore.schema
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"unsafe schema name {schema!r}")
        self.table_prefix = f"{schema}.read_"
        self.index_prefix = "read_"

    def statement(self, sql: str) -> str:
        return _NAMED_PARAMETER.sub(r"%(\1)s", super().statement(sql))

    @property
    def tracking_table(self) -> str:  # type: ignore[override]
        return f"{self.datastore.schema}.{self.tracking_table_name}"

    def _delete_tracking(self, c: Any, leader_name: str) -> None:
        table = f"{self.datastore.schema}.{self.tracking_table_name}"
        c.execute(f"DELETE FROM {table} WHERE application_name = %(name)s", {"name": leader_name})

    def create_table(self) -> None:
        super().create_table()
        self.create_read_tables()


def open_read_store(env: Mapping[str, str]) -> ReadStore:
    """The read store for the store kind ``env`` names (as for the applications)."""
    factory: Any = InfrastructureFactory.construct(Environment(READ_STORE_NAME, dict(env)))
    if "postgres" in env.get("PERSISTENCE_MODULE", ""):
        store: ReadStore = factory.tracking_recorder(PostgresReadStore)
    else:
        store = factory.tracking_recorder(SQLiteReadStore)
    return store
