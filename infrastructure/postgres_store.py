"""The server store: ``eventsourcing``'s PostgreSQL recorders, back soon after an outage.

Use as ``PERSISTENCE_MODULE=infrastructure.postgres_store``. The connection pool
the library builds retries a lost connection with an exponential backoff whose
waits double without a cap for five minutes: after PostgreSQL came back from a
few seconds' outage, PayFlow could wait half a minute or more for its next try.
Here a pool gives up retrying after ``RECONNECT_SECONDS``, and the next request
that needs a connection starts a fresh attempt at once, so service resumes within
about a second of the database answering again.

Its recorders also read many aggregates at once (``application.ports.ReadsMany``):
a saga page loads each aggregate it touches in one round trip for them all,
where one query each made a page wait on the network once per transfer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing import postgres
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.utils import Environment, EnvType
from psycopg.sql import SQL, Identifier

from application.tracking import PageTracking

RECONNECT_SECONDS = 2.0


class ReadsMany:
    """``select_events_after`` and ``select_latest_of`` over a recorder's events table."""

    datastore: postgres.PostgresDatastore
    events_table_name: str

    def select_events_after(self, after: Mapping[UUID, int]) -> list[StoredEvent]:
        """Every event of each aggregate in ``after`` past the version given for it,
        in (aggregate, version) order."""
        ids = list(after)
        statement = SQL(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state "
            "FROM {0}.{1} e JOIN unnest(%s::uuid[], %s::bigint[]) AS b(id, after) "
            "ON e.originator_id = b.id AND e.originator_version > b.after "
            "ORDER BY e.originator_id, e.originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        return self._stored(statement, [ids, [after[i] for i in ids]])

    def select_latest_of(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        """The last event (for a snapshot store: the latest snapshot) of each of ``ids``."""
        statement = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, state "
            "FROM {0}.{1} WHERE originator_id = ANY(%s::uuid[]) "
            "ORDER BY originator_id, originator_version DESC"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        return self._stored(statement, [list(ids)])

    def _stored(self, statement: Any, params: list[Any]) -> list[StoredEvent]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class SnapshotsPostgresRecorder(ReadsMany, postgres.PostgresAggregateRecorder):
    """The snapshot store, able to give many aggregates' latest snapshots at once."""


class PageTrackingPostgresRecorder(ReadsMany, postgres.PostgresProcessRecorder):
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
    aggregate_recorder_class = SnapshotsPostgresRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_SECONDS
