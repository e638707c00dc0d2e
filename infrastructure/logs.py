"""JSON log lines on stderr, one object per line, every line.

``LOG_LEVEL`` sets the level (INFO by default). While a request is being handled,
every line logged on its behalf carries its ``correlation_id`` and, once known,
the ``user_id`` of its caller (``request_context``), so one grep finds a request's
whole story. The HTTP layer logs one ``payflow.access`` line per request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
