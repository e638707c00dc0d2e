"""Knowing, cheaply, whether the event store answers: so commands can fail fast.

A thread asks PostgreSQL a trivial question every second with a short timeout.
While it gets no answer, commands are refused at once (503) instead of waiting
through the store client's own retries, and nothing is written; once it answers
again, everything carries on without a restart.
"""

from __future__ import annotations

import logging
import threading

import psycopg

from infrastructure.settings import Settings

log = logging.getLogger(__name__)
PROBE_INTERVAL = 1.0
PROBE_TIMEOUT = 1


class StoreProbe:
    """The last known reachability of a PostgreSQL store (SQLite and memory: always up)."""

    def __init__(self, settings: Settings) -> None:
        pg = settings.postgres
        self._conninfo = None
        if settings.store == "postgres":
            self._conninfo = psycopg.conninfo.make_conninfo(
                host=pg.host,
                port=pg.port,
                dbname=pg.dbname,
                user=pg.user,
                password=pg.password,
                connect_timeout=PROBE_TIMEOUT,
            )
        self.is_up = True  # as of the last look, at most PROBE_INTERVAL ago while watching
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def watching(self) -> bool:
        """Whether it asks a store over the network (PostgreSQL) at all."""
        return self._conninfo is not None

    def check(self) -> bool:
        """Ask the store now; remember and return whether it answered."""
        if self._conninfo is None:
            return True
        try:
            with psycopg.connect(self._conninfo) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            answered = False
        else:
            answered = True
        if answered != self.is_up:
            log.warning("event store is %s", "back" if answered else "unreachable")
        self.is_up = answered
        return answered

    def start(self) -> None:
        if self._conninfo is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="store-probe", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.check()
            self._stopping.wait(PROBE_INTERVAL)
