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

from eventsourcing import postgres
from eventsourcing.utils import Environment, EnvType

RECONNECT_SECONDS = 2.0


class Factory(postgres.PostgresFactory):  # the one factory class the library looks for
    """The PostgreSQL factory, with pools that never wait long to reconnect."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_SECONDS
