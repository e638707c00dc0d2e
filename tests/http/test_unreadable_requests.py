"""Requests aiohttp itself cannot read still get the contract's error envelope.

A request line over 8 KB, bytes that are not HTTP, or a body that is not encoded
as its Content-Encoding says are refused before (or while) any handler runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from infrastructure.logs import JsonFormatter
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from interfaces.http.server import EnvelopeRunner
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Account, failure


class EnvelopeTestServer(TestServer):
    """The test server, run as `payflow up` runs the app."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return EnvelopeRunner(self.app, **kwargs)


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[TestServer]:
    server = EnvelopeTestServer(create_app(bootstrap(settings)))
    await server.start_server()
    yield server
    await server.close()


async def raw_exchange(
    server: TestServer, request: bytes, keep_open: bool = False
) -> tuple[int, dict[str, str], Any]:
    """Send bytes as they are; the status, headers and JSON body that come back
    (``keep_open``: without closing our side, as a client that stalls would)."""
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    if keep_open:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        answer = head + await asyncio.wait_for(reader.readexactly(length), timeout=10)
    else:
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # the server closes it
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "said"),
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "too long"),
        (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", "too long"),
        (b"GARBAGE\r\n\r\n", "not valid HTTP"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, "not valid HTTP"),
    ],
)
async def test_what_the_parser_refuses_is_answered_in_the_envelope(
    served: TestServer, request_bytes: bytes, said: str
) -> None:
    status, headers, body = await raw_exchange(served, request_bytes)

    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert body["success"] is False
    assert body["error"]["code"] == 2001
    assert said in body["error"]["message"]
    assert "aaaa" not in body["error"]["message"]  # the client's bytes are not echoed
    assert body["error"]["correlationId"] == headers["X-Correlation-Id"]


@pytest.mark.parametrize("encoding", ["deflate", "gzip", "br"])
async def test_a_body_not_encoded_as_its_header_says_is_a_400(
    client: TestClient, asha: Account, encoding: str
) -> None:
    headers = asha.auth | {"Content-Type": "application/json", "Content-Encoding": encoding}

    response = await client.post("/wallets/me/deposit", data=b"not compressed", headers=headers)

    error = await failure(response, 400, 2001)
    assert "could not be read" in error["message"]


async def test_every_request_is_one_json_line_naming_its_caller(
    client: TestClient, asha: Account
) -> None:
    lines: list[str] = []
    handler = logging.Handler()
    formatter = JsonFormatter()
    handler.emit = lambda record: lines.append(formatter.format(record))  # type: ignore[method-assign]
    access = logging.getLogger("payflow.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = await client.get(
            "/transactions", headers=asha.auth | {"X-Correlation-Id": "trace-42"}
        )
        assert response.status == 200
    finally:
        access.removeHandler(handler)
        access.setLevel(level)

    (line,) = (json.loads(text) for text in lines if '"path": "/transactions"' in text)
    assert line["logger"] == "payflow.access"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/transactions", 200)
    assert line["correlation_id"] == "trace-42"
    assert line["user_id"] == asha.user_id
    assert line["duration_ms"] >= 0


async def test_a_body_that_stops_half_way_is_a_408_in_good_time(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings("memory", tmp_path, PAYFLOW_BODY_TIMEOUT_MS="200", **UNLIMITED)
    server = EnvelopeTestServer(create_app(bootstrap(settings)))
    await server.start_server()
    try:
        half = b'{"email": "asha@exa'
        head = b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        request = head + b"Content-Length: 100\r\n\r\n" + half
        status, _, body = await raw_exchange(server, request, keep_open=True)
    finally:
        await server.close()

    assert status == 408
    assert body["error"]["code"] == 2001
    assert "did not arrive within 0.2 s" in body["error"]["message"]


async def test_a_json_body_in_another_charset_is_refused(client: TestClient, asha: Account) -> None:
    headers = asha.auth | {"Content-Type": "application/json; charset=latin-1"}

    response = await client.post("/wallets/me/deposit", data=b'{"amount": 1}', headers=headers)

    error = await failure(response, 415, 2001)
    assert "UTF-8" in error["message"]
