"""What a hostile flood does to everyone else: transfer and /health latency during it.

    .venv/bin/python benchmarks/floods.py                    # this checkout
    .venv/bin/python benchmarks/floods.py --checkout ../old  # another checkout, same venv

Starts ``payflow up`` (SQLite FULL, development mode, no load-test bypass) on a free
port and a fresh data directory, then measures, one at a time, the latency of a
transfer (``POST /transactions`` with ``Prefer: wait=10``, until COMPLETED) and of
``GET /health``: first with nothing else going on, then during each flood:

- ``position``: 48 clients looping on ``GET /transactions?position=Transfers:999999999999``;
- ``login``: 300 logins with random emails, 32 at a time;
- ``reads``: 64 clients looping on ``GET /transactions?limit=100``;
- ``hog``: another user keeping 300 deposits in flight at once;
- ``live``: 48 clients looping on ``GET /health/live``, the cheapest route there is:
  what any flood of requests costs the others, for comparison.

Prints p50/p99/max per phase and how the flood's own requests were answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Passw0rd1"
SAMPLES = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bench:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.outcomes: Counter[str] = Counter()
        self.hog = ""  # another user's token, for the flood of one user

    async def call(self, method: str, path: str, token: str = "", **kw: Any) -> tuple[int, Any]:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base + path, headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def register(self, name: str) -> dict[str, Any]:
        email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.com"
        body = {"name": f"{name} Bench", "email": email, "password": PASSWORD}
        status, answer = await self.call("POST", "/auth/register", json=body)
        assert status == 201, answer
        return dict(answer["data"])

    async def transfer(self, token: str, receiver: str) -> float:
        started = time.perf_counter()
        status, answer = await self.call(
            "POST",
            "/transactions",
            token,
            json={"receiverId": receiver, "amount": 1},
            headers={"Prefer": "wait=10"},
        )
        took = time.perf_counter() - started
        assert status == 201, answer
        assert answer["data"]["transaction"]["status"] == "COMPLETED", answer
        return took

    async def health(self) -> float:
        started = time.perf_counter()
        status, answer = await self.call("GET", "/health")
        assert status == 200, answer
        return time.perf_counter() - started


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms  "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


async def measure(bench: Bench, token: str, receiver: str) -> tuple[list[float], list[float]]:
    transfers, healths = [], []
    for _ in range(SAMPLES):
        transfers.append(await bench.transfer(token, receiver))
        healths.append(await bench.health())
    return transfers, healths


async def position_flood(bench: Bench, token: str, stop: asyncio.Event) -> None:
    async def client() -> None:
        while not stop.is_set():
            status, _ = await bench.call(
                "GET", "/transactions?position=Transfers:999999999999", token
            )
            bench.outcomes[str(status)] += 1

    await asyncio.gather(*(client() for _ in range(48)))


async def login_flood(bench: Bench, token: str, stop: asyncio.Event) -> None:
    queue = list(range(300))

    async def client() -> None:
        while queue and not stop.is_set():
            queue.pop()
            body = {"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
            status, _ = await bench.call("POST", "/auth/login", json=body)
            bench.outcomes[str(status)] += 1

    await asyncio.gather(*(client() for _ in range(32)))


async def read_flood(bench: Bench, token: str, stop: asyncio.Event) -> None:
    async def client() -> None:
        while not stop.is_set():
            status, _ = await bench.call("GET", "/transactions?limit=100", token)
            bench.outcomes[str(status)] += 1

    await asyncio.gather(*(client() for _ in range(64)))


async def hog_flood(bench: Bench, token: str, stop: asyncio.Event) -> None:
    async def client() -> None:
        while not stop.is_set():
            status, _ = await bench.call(
                "POST", "/wallets/me/deposit", bench.hog, json={"amount": 1}
            )
            bench.outcomes[str(status)] += 1

    await asyncio.gather(*(client() for _ in range(300)))


async def live_flood(bench: Bench, token: str, stop: asyncio.Event) -> None:
    async def client() -> None:
        while not stop.is_set():
            status, _ = await bench.call("GET", "/health/live")
            bench.outcomes[str(status)] += 1

    await asyncio.gather(*(client() for _ in range(48)))


Flood = Callable[[Bench, str, asyncio.Event], Awaitable[None]]
FLOODS: dict[str, Flood] = {
    "position": position_flood,
    "login": login_flood,
    "reads": read_flood,
    "hog": hog_flood,
    "live": live_flood,
}


async def run(base: str, floods: list[str]) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        bench = Bench(session, base)
        sender, receiver = await bench.register("Sender"), await bench.register("Receiver")
        bench.hog = (await bench.register("Hog"))["tokens"]["accessToken"]
        token = sender["tokens"]["accessToken"]
        deposit = {"amount": 10000}
        status, answer = await bench.call("POST", "/wallets/me/deposit", token, json=deposit)
        assert status == 200, answer
        receiver_id = receiver["user"]["userId"]
        quiet = await measure(bench, token, receiver_id)
        print(f"{'quiet':9} transfer {figures(quiet[0])} | /health {figures(quiet[1])}")
        for name in floods:
            bench.outcomes.clear()
            stop = asyncio.Event()
            flood = asyncio.create_task(FLOODS[name](bench, token, stop))
            await asyncio.sleep(1.0)  # let the flood build up before measuring
            started = time.perf_counter()
            during = await measure(bench, token, receiver_id)
            took = time.perf_counter() - started
            stop.set()
            await flood
            print(
                f"{name:9} transfer {figures(during[0])} | /health {figures(during[1])} "
                f"| flood answers {dict(bench.outcomes)} in {took:.1f} s"
            )


def start_server(checkout: Path, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PORT": str(port),
        "PAYFLOW_DATA_DIR": data_dir,
        "PYTHONPATH": str(checkout),
        "LOG_LEVEL": "WARNING",
        "PAYFLOW_RATE_TRANSFERS": "100000/60",  # the measuring client sends many transfers
        "PAYFLOW_DAILY_MAX_COUNT": "1000000",
    }
    env.pop("LOAD_TEST_SECRET", None)
    code = "import sys; from interfaces.cli import main; sys.exit(main(['up']))"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server exited"
            try:
                async with session.get(base + "/health") as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # waiting for the port to open
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the code to run")
    parser.add_argument("--url", help="measure a server already running there instead")
    parser.add_argument("--floods", default="position,login,reads,hog,live")
    args = parser.parse_args()
    floods = args.floods.split(",")
    if args.url:
        asyncio.run(run(args.url, floods))
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(args.checkout.resolve(), port, data_dir)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_healthy(base, server))
            print(f"payflow up from {args.checkout.resolve()} (SQLite FULL, development mode)")
            asyncio.run(run(base, floods))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
