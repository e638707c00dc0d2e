"""The embedded store: ``eventsourcing``'s SQLite recorders, made durable.

Use as ``PERSISTENCE_MODULE=infrastructure.sqlite_store``. Each connection runs
in WAL mode (as the library sets) with ``PRAGMA synchronous`` taken from
``SQLITE_SYNCHRONOUS`` (``FULL`` unless told otherwise), so an acknowledged
commit survives power loss, not only a process crash.
"""

from __future__ import annotations

from typing import Any

from eventsourcing import sqlite
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import Environment, EnvType

from application.tracking import PageTracking

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
DEFAULT_SYNCHRONOUS = "FULL"


class DurableSQLiteConnectionPool(sqlite.SQLiteConnectionPool):
    """Opens every connection with the configured ``synchronous`` level."""

    synchronous = DEFAULT_SYNCHRONOUS

    def _create_connection(self) -> sqlite.SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA synchronous={self.synchronous};")
        return connection


class PageTrackingSQLiteRecorder(sqlite.SQLiteProcessRecorder):
    """Records a page's tracking only where the page began (compare and swap)."""

    page_tracking_statement = (
        "INSERT INTO tracking VALUES (:application_name, :notification_id) "
        "ON CONFLICT (application_name) DO UPDATE "
        "SET notification_id = :notification_id "
        "WHERE tracking.notification_id = :begins_after "
        "RETURNING notification_id"
    )

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        if not isinstance(tracking, PageTracking):
            super()._insert_tracking(c, tracking)
            return
        if not self.datastore.single_row_tracking:
            raise IntegrityError("pages of steps need the single-row tracking table")
        c.execute(
            self.page_tracking_statement,
            {
                "application_name": tracking.application_name,
                "notification_id": tracking.notification_id,
                "begins_after": tracking.begins_after,
            },
        )
        if c.fetchone() is None:
            raise IntegrityError(
                f"tracking of {tracking.application_name} moved past {tracking.begins_after}"
            )


class Factory(sqlite.SQLiteFactory):  # the one factory class the library looks for
    """The SQLite factory, with the durability level as a setting."""

    SQLITE_SYNCHRONOUS = "SQLITE_SYNCHRONOUS"
    process_recorder_class = PageTrackingSQLiteRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        level = (self.env.get(self.SQLITE_SYNCHRONOUS) or DEFAULT_SYNCHRONOUS).upper()
        if level not in SYNCHRONOUS_LEVELS:
            raise OSError(f"SQLITE_SYNCHRONOUS must be one of {SYNCHRONOUS_LEVELS}")
        library_pool = self.datastore.pool
        pool = DurableSQLiteConnectionPool(
            db_name=library_pool.db_name, lock_timeout=library_pool.lock_timeout
        )
        pool.synchronous = level
        library_pool.close()
        self.datastore.pool = pool
