"""Single webhook attempts against real HTTP receivers on loopback.

Receivers run in the test's event loop; a handler that must not answer waits on
an event that teardown sets, so nothing here waits on the clock to synchronise.
Loopback is what the receivers listen on, so senders allow private targets
unless a test is about refusing them.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from infrastructure.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    GuardedResolver,
    RefusedAddress,
    WebhookSender,
    sign,
    verify,
)

SECRET = "whsec_integration_secret"
GUARD = 5.0  # seconds: a broken sender fails the test instead of hanging it


@dataclass
class Received:
    body: bytes
    headers: CIMultiDictProxy[str]


@dataclass
class Receiver:
    """A merchant endpoint: what it received, and events its handler signals or awaits."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)  # a request arrived
    release: asyncio.Event = field(default_factory=asyncio.Event)  # set at teardown
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    def url_on(self, host: str) -> str:
        """This receiver's URL with ``host`` in place of 127.0.0.1."""
        return self.url.replace("127.0.0.1", host)


Handler = Callable[[web.Request, Receiver], Awaitable[web.StreamResponse]]
Serve = Callable[[Handler], Awaitable[Receiver]]
MakeSender = Callable[..., Awaitable[WebhookSender]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts receivers on 127.0.0.1 (port 0); at teardown releases, then stops them."""
    running: list[tuple[Receiver, TestServer]] = []

    async def start(handler: Handler) -> Receiver:
        receiver = Receiver()

        async def record(request: web.Request) -> web.StreamResponse:
            receiver.requests.append(Received(await request.read(), request.headers))
            receiver.entered.set()
            return await handler(request, receiver)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        receiver.url = str(server.make_url("/hooks/payflow"))
        running.append((receiver, server))
        return receiver

    yield start
    for receiver, _ in running:
        receiver.release.set()
    for _, server in running:
        await server.close()


@pytest.fixture
async def make_sender() -> AsyncIterator[MakeSender]:
    """Opens senders (loopback allowed unless told otherwise); closes them at teardown."""
    opened: list[WebhookSender] = []

    async def make(**options: Any) -> WebhookSender:
        sender = WebhookSender(**{"require_https": False, "allow_private": True, **options})
        await sender.start()
        opened.append(sender)
        return sender

    yield make
    for sender in opened:
        await sender.close()


def answering(status: int, body: bytes = b"", **headers: str) -> Handler:
    async def handler(request: web.Request, receiver: Receiver) -> web.StreamResponse:
        return web.Response(status=status, body=body, headers=headers)

    return handler


async def never_answering(request: web.Request, receiver: Receiver) -> web.StreamResponse:
    await asyncio.wait_for(receiver.release.wait(), GUARD)  # the sender gives up long before
    return web.Response(text="too late")


def streaming_forever(declared_length: int | None) -> Handler:
    """Streams ``x`` until the client goes away; ``declared_length`` is a lie when set."""

    async def handler(request: web.Request, receiver: Receiver) -> web.StreamResponse:
        response = web.StreamResponse()
        if declared_length is not None:
            response.content_length = declared_length
        await response.prepare(request)
        try:
            while not receiver.release.is_set():
                await response.write(b"x" * 65536)
        except (ConnectionResetError, asyncio.CancelledError):  # aiohttp cancels on hang-up
            receiver.disconnected.set()
            raise
        return response

    return handler


class StaticResolver(AbstractResolver):
    """Resolves names from a table, as a DNS server under someone else's control might."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


async def test_delivers_the_body_and_headers_exactly(serve: Serve, make_sender: MakeSender) -> None:
    receiver = await serve(answering(200, b'{"received":true}'))
    sender = await make_sender()
    body = b'{"event":"TRANSACTION_COMPLETED","amount":"12.50","currency":"INR"}'
    now = int(time.time())
    headers = {
        **sign(SECRET, body, now),
        "X-PayFlow-Event": "TRANSACTION_COMPLETED",
        "X-PayFlow-Delivery-ID": "d-1",
    }

    result = await sender.send(receiver.url, body, headers)

    assert result.delivered
    assert result.status == 200
    assert result.error is None
    assert result.response_excerpt == '{"received":true}'
    assert result.latency_ms >= 0
    [received] = receiver.requests
    assert received.body == body
    for name, value in headers.items():
        assert received.headers.getall(name) == [value]
    assert received.headers.getall("Content-Type") == ["application/json"]
    assert received.headers["User-Agent"] == "PayFlow-Webhooks/1"
    assert verify(
        SECRET,
        received.body,
        received.headers[SIGNATURE_HEADER],
        received.headers[TIMESTAMP_HEADER],
        now=time.time(),
    )


async def test_given_headers_replace_defaults_whatever_their_case(
    serve: Serve, make_sender: MakeSender
) -> None:
    receiver = await serve(answering(204))
    sender = await make_sender(user_agent="PayFlow-Webhooks/test")

    result = await sender.send(
        receiver.url, b"{}", {"content-type": "application/json; charset=utf-8"}
    )

    assert result.delivered
    assert result.response_excerpt == ""
    [received] = receiver.requests
    assert received.headers.getall("Content-Type") == ["application/json; charset=utf-8"]
    assert received.headers["User-Agent"] == "PayFlow-Webhooks/test"


@pytest.mark.parametrize(
    ("status", "delivered", "error"),
    [
        (200, True, None),
        (202, True, None),
        (299, True, None),
        (400, False, "HTTP 400"),
        (404, False, "HTTP 404"),
        (500, False, "HTTP 500"),
        (503, False, "HTTP 503"),
    ],
)
async def test_only_2xx_is_delivered(
    serve: Serve, make_sender: MakeSender, status: int, delivered: bool, error: str | None
) -> None:
    receiver = await serve(answering(status, b"answer"))
    sender = await make_sender()

    result = await sender.send(receiver.url, b"{}", {})

    assert (result.delivered, result.status, result.error) == (delivered, status, error)
    assert result.response_excerpt == "answer"


async def test_unanswered_request_times_out(serve: Serve, make_sender: MakeSender) -> None:
    receiver = await serve(never_answering)
    sender = await make_sender(timeout=0.5)

    async with asyncio.timeout(GUARD):
        result = await sender.send(receiver.url, b"{}", {})

    assert not result.delivered
    assert result.status is None
    assert result.error == "timed out after 0.5 s"
    assert len(receiver.requests) == 1
    assert not receiver.release.is_set()  # the handler was still holding the answer back


@pytest.mark.parametrize("declared_length", [None, 10**12], ids=["chunked", "content-length"])
async def test_reads_at_most_max_response_bytes_of_an_endless_body(
    serve: Serve, make_sender: MakeSender, declared_length: int | None
) -> None:
    receiver = await serve(streaming_forever(declared_length))
    sender = await make_sender(max_response_bytes=100, timeout=60.0)

    async with asyncio.timeout(GUARD):  # the body never ends: returning at all is the point
        result = await sender.send(receiver.url, b"{}", {})
        await receiver.disconnected.wait()  # the sender hung up on the stream

    assert result.delivered
    assert result.error is None
    assert result.response_excerpt == "x" * 100


async def test_excerpt_is_the_first_512_characters_decoded_with_replacement(
    serve: Serve, make_sender: MakeSender
) -> None:
    body = "é".encode() * 1000 + b"\xff"
    receiver = await serve(answering(500, body))
    short = await serve(answering(500, b"ok \xff\xfe done"))
    sender = await make_sender()

    long_result = await sender.send(receiver.url, b"{}", {})
    short_result = await sender.send(short.url, b"{}", {})

    assert long_result.response_excerpt == "é" * 512
    assert short_result.response_excerpt == "ok \ufffd\ufffd done"


async def test_redirect_is_not_followed(serve: Serve, make_sender: MakeSender) -> None:
    elsewhere = await serve(answering(200))
    receiver = await serve(answering(302, Location=elsewhere.url))
    sender = await make_sender()

    result = await sender.send(receiver.url, b"{}", {})

    assert not result.delivered
    assert result.status == 302
    assert result.error == "redirect not followed (HTTP 302)"
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []


async def test_closed_port_is_a_refused_connection(make_sender: MakeSender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = await make_sender()

    result = await sender.send(f"http://127.0.0.1:{port}/hook", b"{}", {})

    assert not result.delivered
    assert result.status is None
    assert result.error == "connection refused"


@pytest.mark.parametrize(
    ("host", "error"),
    [
        ("127.0.0.1", "refused target 127.0.0.1: loopback address"),
        ("localhost", "refused target localhost: local host name"),
        ("[::ffff:127.0.0.1]", "loopback address (embedded 127.0.0.1)"),
        ("0x7f.1", "refused target 0x7f.1 (127.0.0.1): loopback address"),
        ("2130706433", "refused target 2130706433 (127.0.0.1): loopback address"),
    ],
)
async def test_private_target_is_refused_before_connecting(
    serve: Serve, make_sender: MakeSender, host: str, error: str
) -> None:
    receiver = await serve(answering(200))
    sender = await make_sender(allow_private=False)

    result = await sender.send(receiver.url_on(host), b"{}", {})

    assert not result.delivered
    assert result.status is None
    assert result.error is not None
    assert error in result.error
    assert receiver.requests == []


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["93.184.215.14", "127.0.0.1"], ["127.0.0.1", "93.184.215.14"]],
    ids=["only", "second", "first"],
)
async def test_name_resolving_to_a_private_address_is_refused_before_connecting(
    serve: Serve, make_sender: MakeSender, addresses: list[str]
) -> None:
    receiver = await serve(answering(200))
    resolver = StaticResolver({"merchant.example": addresses})
    sender = await make_sender(allow_private=False, resolver=resolver)

    result = await sender.send(receiver.url_on("merchant.example"), b"{}", {})

    assert not result.delivered
    assert result.error == "refused target merchant.example (127.0.0.1): loopback address"
    assert receiver.requests == []


async def test_name_resolving_to_loopback_reaches_it_when_private_is_allowed(
    serve: Serve, make_sender: MakeSender
) -> None:
    """The control for the test above: the same name does lead to the receiver."""
    receiver = await serve(answering(200))
    resolver = StaticResolver({"merchant.example": ["127.0.0.1"]})
    sender = await make_sender(allow_private=True, resolver=resolver)

    result = await sender.send(receiver.url_on("merchant.example"), b"{}", {})

    assert result.delivered
    assert len(receiver.requests) == 1


async def test_platform_resolution_of_localhost_is_refused() -> None:
    resolver = GuardedResolver(aiohttp.ThreadedResolver(), allow_private=False)

    with pytest.raises(RefusedAddress, match=r"refused target localhost \(.+\): loopback"):
        await resolver.resolve("localhost", 80, socket.AF_UNSPEC)


async def test_http_is_refused_when_https_is_required(
    serve: Serve, make_sender: MakeSender
) -> None:
    receiver = await serve(answering(200))
    sender = await make_sender(require_https=True)

    result = await sender.send(receiver.url, b"{}", {})

    assert result.error == "refused target URL: the scheme must be https"
    assert receiver.requests == []


async def test_slow_receiver_does_not_stall_another(serve: Serve, make_sender: MakeSender) -> None:
    slow = await serve(never_answering)
    fast = await serve(answering(200))
    # Two connections in all, one per receiver: three slow deliveries would take both
    # if the per-host limit did not hold them to one.
    sender = await make_sender(limit=2, limit_per_host=1, timeout=GUARD)
    slow_sends = [asyncio.create_task(sender.send(slow.url, b"{}", {})) for _ in range(3)]
    async with asyncio.timeout(GUARD):
        await slow.entered.wait()

    result = await sender.send(fast.url, b"{}", {})

    assert result.delivered
    assert not any(send.done() for send in slow_sends)
    assert len(slow.requests) == 1  # the other two wait for the slow receiver's connection
    slow.release.set()
    slow_results = await asyncio.gather(*slow_sends)
    assert [r.delivered for r in slow_results] == [True, True, True]
    assert len(slow.requests) == 3
