"""JSON in and out with exact decimals: no binary float ever touches an amount."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from interfaces.http.encoding import dumps
from interfaces.http.errors import ApiError, ErrorCode

JSON_TYPES = ("application/json",)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, numbers parsed as exact Decimals."""
    if request.content_type not in JSON_TYPES:
        raise ApiError(415, ErrorCode.VALIDATION_ERROR, "Content-Type must be application/json")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, ErrorCode.VALIDATION_ERROR, "Body must be a JSON object")
    return body


def ok(
    data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """The success envelope: ``{"success": true, "data": {...}}``."""
    return web.json_response(
        {"success": True, "data": data}, status=status, headers=headers, dumps=dumps
    )
