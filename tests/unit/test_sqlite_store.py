"""The durable SQLite persistence module: WAL, and ``synchronous`` as configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from infrastructure.sqlite_store import Factory

SYNCHRONOUS_CODES = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


@pytest.fixture(autouse=True)
def _no_inherited_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library also reads os.environ; a level set there must not leak in."""
    monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)


@contextmanager
def application(tmp_path: Path, **env: str) -> Iterator[Application[UUID]]:
    app: Application[UUID] = Application(
        env={
            "PERSISTENCE_MODULE": "infrastructure.sqlite_store",
            "SQLITE_DBNAME": str(tmp_path / "x.sqlite"),
            **env,
        }
    )
    try:
        yield app
    finally:
        app.close()


def pragma(app: Application[UUID], name: str) -> object:
    with app.factory.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_uses_the_durable_factory(tmp_path: Path) -> None:
    with application(tmp_path) as app:
        assert isinstance(app.factory, Factory)


def test_synchronous_is_full_by_default(tmp_path: Path) -> None:
    with application(tmp_path) as app:
        assert pragma(app, "synchronous") == 2


def test_journal_mode_is_wal(tmp_path: Path) -> None:
    with application(tmp_path) as app:
        assert str(pragma(app, "journal_mode")).lower() == "wal"


@pytest.mark.parametrize(("level", "code"), [*SYNCHRONOUS_CODES.items(), ("normal", 1)])
def test_synchronous_follows_the_setting(tmp_path: Path, level: str, code: int) -> None:
    with application(tmp_path, SQLITE_SYNCHRONOUS=level) as app:
        assert pragma(app, "synchronous") == code


def test_every_new_connection_gets_the_level(tmp_path: Path) -> None:
    with application(tmp_path, SQLITE_SYNCHRONOUS="NORMAL") as app:
        datastore = app.factory.datastore  # type: ignore[attr-defined]
        with (
            datastore.transaction(commit=True) as writer,
            datastore.transaction(commit=False) as reader,
        ):
            writer.execute("PRAGMA synchronous")
            reader.execute("PRAGMA synchronous")
            assert writer.fetchone()[0] == reader.fetchone()[0] == 1


@pytest.mark.parametrize("level", ["FAST", "2", "FULL;", "FULL; DROP TABLE x"])
def test_refuses_an_unknown_level(tmp_path: Path, level: str) -> None:
    with pytest.raises(OSError, match="SQLITE_SYNCHRONOUS"):
        Application(
            env={
                "PERSISTENCE_MODULE": "infrastructure.sqlite_store",
                "SQLITE_DBNAME": str(tmp_path / "x.sqlite"),
                "SQLITE_SYNCHRONOUS": level,
            }
        )


def test_an_empty_level_means_the_default(tmp_path: Path) -> None:
    with application(tmp_path, SQLITE_SYNCHRONOUS="") as app:
        assert pragma(app, "synchronous") == 2


def test_events_saved_by_one_application_are_read_by_the_next(tmp_path: Path) -> None:
    with application(tmp_path) as app:
        aggregate = Aggregate()
        app.save(aggregate)
    with application(tmp_path) as app:
        assert app.repository.get(aggregate.id).version == 1
