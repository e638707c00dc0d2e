"""A page's row changes run in their order; runs of one statement go as one executemany."""

from __future__ import annotations

from typing import Any

from projections.store import SQLiteReadStore, Write


class Cursor:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def execute(self, sql: str, params: Any) -> None:
        self.calls.append(("execute", sql, params))

    def executemany(self, sql: str, params: Any) -> None:
        self.calls.append(("executemany", sql, params))


def test_writes_keep_their_order_and_runs_of_one_statement_go_together() -> None:
    store = SQLiteReadStore.__new__(SQLiteReadStore)  # no database: only the statements
    insert, update = "INSERT INTO {t}x VALUES (:n)", "UPDATE {t}x SET n = :n"
    writes = [
        Write(insert, {"n": 1}),
        Write(insert, {"n": 2}),
        Write(update, {"n": 3}),
        Write(insert, {"n": 4}),
    ]
    cursor = Cursor()

    store._write(cursor, writes)

    assert cursor.calls == [
        ("executemany", "INSERT INTO x VALUES (:n)", [{"n": 1}, {"n": 2}]),
        ("execute", "UPDATE x SET n = :n", {"n": 3}),
        ("execute", "INSERT INTO x VALUES (:n)", {"n": 4}),
    ]
