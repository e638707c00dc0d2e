"""The server store: ``eventsourcing``'s PostgreSQL recorders, back soon after an outage.

Use as ``PERSISTENCE_MODULE=infrastructure.postgres_store``. The connection pool
the library builds retries a lost connection with an exponential backoff whose
waits double without a cap for five minutes: after PostgreSQL came back from a
few seconds' outage, PayFlow could wait half a minute or more for its next try.
Here a pool gives up retrying after ``RECONNECT_SECONDS``, and the next request
that needs a connection starts a fresh attempt at once, so service resumes within
about a second of the database answering again.
"""

from __future__ import annotations

from typing import Any

from eventsourcing import postgres
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import Environment, EnvType
from psycopg.sql import SQL, Identifier

from application.tracking import PageTracking

RECONNECT_SECONDS = 2.0


class PageTrackingPostgresRecorder(postgres.PostgresProcessRecorder):
    """Records a page's tracking only where the page began (compare and swap)."""

    def __init__(self, datastore: postgres.PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.page_tracking_statement = SQL(
            "INSERT INTO {0}.{1} VALUES (%(application_name)s, %(notification_id)s) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = %(notification_id)s "
            "WHERE {0}.{1}.notification_id = %(begins_after)s "
            "RETURNING notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name))

    def _insert_tracking(self, curs: Any, tracking: Tracking) -> None:
        if not isinstance(tracking, PageTracking):
            super()._insert_tracking(curs, tracking)
            return
        if not self.datastore.single_row_tracking:
            raise IntegrityError("pages of steps need the single-row tracking table")
        curs.execute(
            self.page_tracking_statement,
            {
                "application_name": tracking.application_name,
                "notification_id": tracking.notification_id,
                "begins_after": tracking.begins_after,
            },
            prepare=True,
        )
        if curs.fetchone() is None:
            raise IntegrityError(
                f"tracking of {tracking.application_name} moved past {tracking.begins_after}"
            )


class Factory(postgres.PostgresFactory):  # the one factory class the library looks for
    """The PostgreSQL factory, with pools that never wait long to reconnect."""

    process_recorder_class = PageTrackingPostgresRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_SECONDS
