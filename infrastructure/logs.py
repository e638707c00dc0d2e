"""JSON log lines on stderr, one object per line, every line.

``LOG_LEVEL`` sets the level (INFO by default). While a request is being handled,
every line logged on its behalf carries its ``correlation_id`` and, once known,
the ``user_id`` of its caller (``request_context``), so one grep finds a request's
whole story. The HTTP layer logs one ``payflow.access`` line per request.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import logging
import logging.handlers
import os
import queue
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}
_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("payflow_log_context", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= _CONTEXT.get() or {}
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


@contextlib.contextmanager
def request_context(**fields: str) -> Iterator[dict[str, str]]:
    """Fields every line logged inside carries; add to the yielded dict as they are
    learnt (the caller's user id, say)."""
    context = dict(_CONTEXT.get() or {}) | fields
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def note_in_context(name: str, value: str) -> None:
    """Add a field to the lines of the request being handled, if there is one."""
    context = _CONTEXT.get()
    if context is not None:
        context[name] = value


LINES_WAITING = 100_000  # log lines formatted and not yet written, at most


class FormattedQueueHandler(logging.handlers.QueueHandler):
    """Formats each line in the thread that logs it (where its request's context is)
    and leaves the writing to ``QueueListener``'s thread, so no thread that logs
    waits on stderr. A thread that writes gives up the interpreter lock, and with
    every other thread busy it waits milliseconds to get it back: on the event
    loop, one access line per request cost more than the rest of the request.
    Past ``LINES_WAITING`` unwritten lines, logging waits for the writer, as
    writing directly would."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        line = self.format(record)
        record = copy.copy(record)
        record.msg, record.args, record.exc_info, record.exc_text = line, None, None, None
        record.message = line
        return record

    def __init__(self, lines: queue.Queue[logging.LogRecord], stream: TextIO) -> None:
        super().__init__(lines)
        self.lines = lines
        self.stream = stream  # where the writer writes

    def enqueue(self, record: logging.LogRecord) -> None:
        self.lines.put(record)  # blocks only when the writer is that far behind


_WRITERS: list[logging.handlers.QueueListener] = []  # the one writing, once configured


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on ``stream`` (stderr) at ``level``, written by a thread of their own.

    A record notes none of what no line shows: the caller's file and line (a walk
    of the stack per record), the thread, the process (the library's documented
    switches for each)."""
    stop_logging()
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stream = sys.stderr if stream is None else stream
    writer = logging.StreamHandler(stream)
    writer.setFormatter(logging.Formatter("%(message)s"))  # the line is formatted already
    lines: queue.Queue[logging.LogRecord] = queue.Queue(LINES_WAITING)
    handler = FormattedQueueHandler(lines, stream)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    listener = logging.handlers.QueueListener(lines, writer)
    listener.start()
    _WRITERS.append(listener)
    sys.excepthook = _log_uncaught  # in order with the lines before it, as one JSON line


def _log_uncaught(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    logging.getLogger("payflow").critical("unhandled error", exc_info=(kind, error, tb))


@atexit.register
def stop_logging() -> None:
    """Write every line still waiting, then stop the writer thread; lines logged
    after that (by later exit handlers, by daemon threads) are written directly."""
    while _WRITERS:
        _WRITERS.pop().stop()
    _write_directly()


def _write_directly() -> None:
    """Replace the queue's handler with one that writes each line itself (after the
    writer has stopped, or in a forked child, which has no writer thread)."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        if isinstance(handler, FormattedQueueHandler):
            direct = logging.StreamHandler(handler.stream)
            direct.setFormatter(JsonFormatter())
            root.removeHandler(handler)
            root.addHandler(direct)


os.register_at_fork(after_in_child=_write_directly)
