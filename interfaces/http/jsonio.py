"""JSON in and out with exact decimals: no binary float ever touches an amount."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from aiohttp import web

from interfaces.http.encoding import dumps
from interfaces.http.errors import ApiError, ErrorCode

JSON_TYPES = ("application/json",)
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, numbers parsed as exact Decimals."""
    if request.content_type not in JSON_TYPES:
        raise ApiError(415, ErrorCode.VALIDATION_ERROR, "Content-Type must be application/json")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=Decimal)
        text = _is_text(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body is not valid JSON") from None
    if not text:
        message = "A string in the body holds a NUL (\\u0000) or a lone surrogate"
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, message)
    if not isinstance(body, dict):
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body must be a JSON object")
    return body


def _is_text(value: Any) -> bool:
    """Whether every string in a parsed body is storable text. A lone surrogate escape
    (``"\\ud800"``) parses but cannot be encoded as UTF-8, and PostgreSQL text columns
    (the read models) refuse NUL, so one such description would stall their projector."""
    if isinstance(value, str):
        return _NOT_TEXT.search(value) is None
    if isinstance(value, dict):
        return all(_is_text(k) and _is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_text(item) for item in value)
    return True


def ok(
    data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """The success envelope: ``{"success": true, "data": {...}}``."""
    return web.json_response(
        {"success": True, "data": data}, status=status, headers=headers, dumps=dumps
    )
