"""JSON in and out with exact decimals: no binary float ever touches an amount."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from typing import Any

from aiohttp import web

from interfaces.http.encoding import dumps
from interfaces.http.errors import ApiError, ErrorCode
from interfaces.http.keys import CONTAINER

JSON_TYPES = ("application/json",)
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, numbers parsed as exact Decimals."""
    if request.content_type not in JSON_TYPES:
        raise ApiError(415, ErrorCode.VALIDATION_ERROR, "Content-Type must be application/json")
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise ApiError(415, ErrorCode.VALIDATION_ERROR, "A JSON body must be UTF-8")
    raw = await read_body(request)
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


async def read_body(request: web.Request) -> bytes:
    """The whole body (aiohttp keeps it for a second read), within the settings'
    ``body_timeout``: a client that stops half-way through holds nothing for longer."""
    if request.content.is_eof():  # all of it arrived with the headers: nothing to wait for
        return await request.read()
    seconds = request.app[CONTAINER].settings.body_timeout
    try:
        async with asyncio.timeout(seconds):
            return await request.read()
    except TimeoutError:
        raise ApiError(
            408, ErrorCode.VALIDATION_ERROR, f"The body did not arrive within {seconds:g} s"
        ) from None
    except ConnectionResetError:
        raise ApiError(
            400, ErrorCode.VALIDATION_ERROR, "The connection closed before the body was complete"
        ) from None


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
