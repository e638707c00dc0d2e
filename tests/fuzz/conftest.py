"""Fuzzing fixtures: the real server on a free port, and a count of the cases sent to it."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap
from interfaces.http.app import create_app
from tests.conftest import make_settings


@dataclass
class Tally:
    """How many cases each operation was sent, and which statuses came back."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def turn(self, operation: str) -> int:
        """Count one more case of the operation; its number, from 0."""
        self.cases[operation] += 1
        return self.cases[operation] - 1


TALLY = pytest.StashKey[Tally]()

# Fuzzing sends far more requests than the real rate limits allow.
UNLIMITED = {
    "PAYFLOW_RATE_GLOBAL": "1000000/900",
    "PAYFLOW_RATE_AUTH": "1000000/900",
    "PAYFLOW_RATE_AUTH_IP": "1000000/900",
    "PAYFLOW_RATE_TRANSFERS": "1000000/60",
}
LOAD_TEST_SECRET = "fuzz-load-test-secret"


@dataclass
class Server:
    """A running PayFlow server: its base URL, on a loop in a thread of its own."""

    url: str
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner


def serve(settings: Settings) -> tuple[Server, threading.Thread]:
    """Start the app on a free local port; return once it accepts connections."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="payflow-fuzz-server", daemon=True)
    thread.start()

    async def start() -> Server:
        runner = web.AppRunner(create_app(bootstrap(settings)), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        return Server(f"http://{host}:{port}", loop, runner)

    return asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60), thread


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server over an in-memory store, for one test module."""
    directory = tmp_path_factory.mktemp("fuzz")
    settings = make_settings("memory", directory, LOAD_TEST_SECRET=LOAD_TEST_SECRET, **UNLIMITED)
    running, thread = serve(settings)
    yield running
    asyncio.run_coroutine_threadsafe(running.runner.cleanup(), running.loop).result(timeout=60)
    running.loop.call_soon_threadsafe(running.loop.stop)
    thread.join(timeout=60)
    running.loop.close()


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the test node through ``_nodeid``, which pytest 9.2
    no longer has; give it one (a rename then changes nothing, which is harmless)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY] = Tally()


@pytest.fixture(scope="session")
def tally(pytestconfig: pytest.Config) -> Tally:
    """Cases sent and statuses seen, by operation; reported in the terminal summary."""
    return pytestconfig.stash[TALLY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    tally = config.stash.get(TALLY, Tally())
    if not tally.cases:
        return
    total = sum(tally.cases.values())
    operations = len(tally.cases)
    terminalreporter.write_sep("-", f"schemathesis: {total} cases over {operations} operations")
    for label, count in sorted(tally.cases.items()):
        seen = sorted((s, n) for (op, s), n in tally.statuses.items() if op == label)
        statuses = ", ".join(f"{status}x{n}" for status, n in seen)
        terminalreporter.write_line(f"{count:6d}  {label:40s} {statuses}")
