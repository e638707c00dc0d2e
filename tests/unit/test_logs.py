"""JSON log lines: formatted where they are logged, written by a thread of their own."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from infrastructure import logs


class Stderr(io.StringIO):
    """A stderr that notes which thread wrote each line."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        return super().write(text)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line]


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stderr]:
    root = logging.getLogger()
    kept_handlers, kept_level = root.handlers[:], root.level
    for switch in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, switch, getattr(logging, switch))  # put back after
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    stream = Stderr()
    logs.configure_logging("INFO", stream)
    yield stream
    logs.stop_logging()
    root.handlers[:] = kept_handlers
    root.setLevel(kept_level)


def test_a_line_carries_its_request_s_context_though_another_thread_writes_it(
    stderr: Stderr,
) -> None:
    with logs.request_context(correlation_id="abc123"):
        logs.note_in_context("user_id", "usr_1")
        logging.getLogger("payflow.test").info("sent %s", "money", extra={"status": 201})
    logging.getLogger("payflow.test").info("outside")
    logs.stop_logging()  # everything waiting is written

    inside, outside = stderr.lines()
    assert inside["message"] == "sent money"
    assert (inside["correlation_id"], inside["user_id"], inside["status"]) == (
        "abc123",
        "usr_1",
        201,
    )
    assert "correlation_id" not in outside
    assert threading.current_thread().name not in stderr.writers  # the caller never wrote


def test_an_error_s_traceback_is_in_its_line(stderr: Stderr) -> None:
    try:
        raise ValueError("the store went away")
    except ValueError:
        logging.getLogger("payflow.test").exception("could not commit")
    logs.stop_logging()

    [line] = stderr.lines()
    assert line["level"] == "error"
    assert line["message"] == "could not commit"
    assert "ValueError: the store went away" in line["error"]


def test_lines_below_the_level_are_not_written(stderr: Stderr) -> None:
    logging.getLogger("payflow.test").debug("noise")
    logging.getLogger("payflow.test").warning("signal")
    logs.stop_logging()
    assert [line["message"] for line in stderr.lines()] == ["signal"]


def test_a_line_logged_after_the_writer_stopped_is_written_all_the_same(stderr: Stderr) -> None:
    logging.getLogger("payflow.test").warning("before")
    logs.stop_logging()  # as at exit
    logging.getLogger("payflow.test").warning("after")  # a later exit handler, say
    assert [line["message"] for line in stderr.lines()] == ["before", "after"]


def test_an_uncaught_error_is_one_json_line_after_the_lines_before_it(stderr: Stderr) -> None:
    for n in range(100):
        logging.getLogger("payflow.test").info("line %d", n)
    try:
        raise RuntimeError("the ledger could not start")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # what the interpreter calls for an uncaught error
    logs.stop_logging()

    lines = stderr.lines()
    assert [line["message"] for line in lines[:100]] == [f"line {n}" for n in range(100)]
    assert lines[100]["message"] == "unhandled error"
    assert "RuntimeError: the ledger could not start" in lines[100]["error"]
