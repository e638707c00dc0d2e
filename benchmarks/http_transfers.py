"""Completed transfers per second, end to end over HTTP, beside pgbench on the same machine.

    .venv/bin/python benchmarks/http_transfers.py                 # embedded (scripts/run)
    .venv/bin/python benchmarks/http_transfers.py --mode server   # scripts/server-mode
    .venv/bin/python benchmarks/http_transfers.py --seconds 20 --connections 32
    .venv/bin/python benchmarks/http_transfers.py --rounds wait --no-pgbench  # one round

Starts PayFlow as users start it (a fresh data directory, or a fresh PostgreSQL
schema; durable commits: SQLite synchronous=FULL, PostgreSQL fsync as configured),
registers senders and receivers, and then runs, one after another:

1. pgbench's built-in ``tpcb-like`` script against the local PostgreSQL (16 clients,
   the same duration), in a database of its own;
2. open submit: every connection POSTs transfers as fast as they are answered (no
   wait). A transfer counts only when it is COMPLETED and in the receiver's balance:
   the receivers' balances are read at the end of the window ("completed during the
   load") and again once everything has settled;
3. closed loop: every connection POSTs with ``Prefer: wait=5`` and counts the answers
   that say COMPLETED.

Prints completed/s, submit p50/p99, the server's CPU milliseconds per transfer and
this load generator's per request (both share the machine's cores), and each rate
as a ratio to pgbench's transactions/s in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
LOAD_TEST_TOKEN = "benchmark-bypasses-rate-limits"
AMOUNT = Decimal(1)  # every transfer sends 1.00, so a balance counts the transfers in it
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The server ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, dead children included."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17 of stat (11-14 after the name)
        total += sum(int(f) for f in fields[11:15]) / ticks
    return total


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid:
            found.append(int(entry.name))
            found.extend(descendants(int(entry.name)))
    return found


@contextmanager
def payflow(mode: str, root: Path = ROOT) -> Iterator[tuple[list[str], subprocess.Popen[bytes]]]:
    """A PayFlow started the way its README says, on fresh storage; yields its URLs."""
    env = os.environ | {
        "PAYFLOW_MAX_DEPOSIT": "10000000",
        "PAYFLOW_MAX_TRANSFER": "10000000",
        "PAYFLOW_DAILY_MAX_COUNT": "100000000",
        "PAYFLOW_DAILY_MAX_AMOUNT": "100000000",
        "PAYFLOW_WALLET_BALANCE_CAP": "100000000",
        "LOAD_TEST_SECRET": LOAD_TEST_TOKEN,
    }
    data_dir = tempfile.mkdtemp(prefix="payflow-bench-")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if mode == "embedded":
        ports = [free_port()]
        env |= {"PORT": str(ports[0]), "PAYFLOW_DATA_DIR": data_dir}
        command = [str(root / "scripts" / "run")]
    else:
        ports = [free_port(), free_port()]
        env |= {"PAYFLOW_API_PORTS": " ".join(map(str, ports)), "POSTGRES_SCHEMA": schema}
        command = [str(root / "scripts" / "server-mode")]
    log = Path(data_dir) / "server.log"
    server = subprocess.Popen(
        command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports], server
    except BaseException:
        print(f"PayFlow's log:\n{log.read_text()[-4000:]}")
        raise
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
        if mode == "server":
            psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE", "payflow")


# pgbench -------------------------------------------------------------------------


def pg_args() -> list[str]:
    return ["-h", PG["host"], "-p", PG["port"], "-U", PG["user"]]


def psql(statement: str, dbname: str = "postgres") -> None:
    subprocess.run(
        ["psql", *pg_args(), "-d", dbname, "-qc", statement],
        check=False,
        capture_output=True,
    )


def pgbench(seconds: int, clients: int = 16) -> float:
    """Transactions/s of pgbench's tpcb-like script, in a scratch database."""
    db = "payflow_pgbench"
    base = pg_args()
    tpcb = ["-b", "tpcb-like", "-c", str(clients), "-j", "2"]
    psql(f"DROP DATABASE IF EXISTS {db}")
    psql(f"CREATE DATABASE {db}")
    try:
        subprocess.run(
            ["pgbench", *base, "-i", "-q", "-s", "16", db], check=True, capture_output=True
        )
        run = subprocess.run(
            ["pgbench", *base, *tpcb, "-T", str(seconds), db],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        psql(f"DROP DATABASE IF EXISTS {db}")
    match = re.search(r"tps = ([0-9.]+)", run.stdout)
    if match is None:
        raise SystemExit(f"pgbench said:\n{run.stdout}\n{run.stderr}")
    return float(match.group(1))


# The clients ---------------------------------------------------------------------


@dataclass
class User:
    user_id: str
    token: str


@dataclass
class Round:
    name: str
    seconds: float
    accepted: int = 0
    completed: int = 0  # counted during the window
    settled: int = 0  # counted once everything has settled
    refused: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0  # the server's CPU seconds over the window
    client_cpu: float = 0.0  # this load generator's: it shares the machine's cores

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


class Bench:
    def __init__(self, urls: list[str], session: aiohttp.ClientSession) -> None:
        self.urls = urls
        self.session = session

    def url(self, i: int, path: str) -> str:
        return self.urls[i % len(self.urls)] + path

    async def call(
        self, i: int, method: str, path: str, token: str = "", body: Any = None, **headers: str
    ) -> tuple[int, Any]:
        headers = {"X-Load-Test-Token": LOAD_TEST_TOKEN, **headers}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.url(i, path), json=body, headers=headers
        ) as response:
            return response.status, await response.json()

    async def register(self, i: int, role: str) -> User:
        body = {"name": f"Bench {role} {i}", "email": f"{role}{i}@example.com"}
        status, answer = await self.call(
            i, "POST", "/auth/register", body={**body, "password": "Passw0rd1"}
        )
        assert status == 201, answer
        data = answer["data"]
        return User(data["user"]["userId"], data["tokens"]["accessToken"])

    async def balance(self, user: User) -> Decimal:
        status, answer = await self.call(0, "GET", "/wallets/me", user.token)
        assert status == 200, answer
        return Decimal(str(answer["data"]["wallet"]["balance"]))

    async def received(self, receivers: list[User]) -> int:
        balances = await asyncio.gather(*(self.balance(r) for r in receivers))
        return int(sum(balances) / AMOUNT)


async def run_round(
    bench: Bench,
    name: str,
    senders: list[User],
    receivers: list[User],
    connections: int,
    seconds: float,
    server: subprocess.Popen[bytes],
    wait: bool,
) -> Round:
    result = Round(name, seconds)
    before = await bench.received(receivers)
    cpu_before = cpu_seconds(server.pid)
    client_before = time.process_time()
    deadline = time.monotonic() + seconds
    headers = {"Prefer": "wait=5"} if wait else {}

    async def connection(c: int) -> None:
        sender = senders[c % len(senders)]
        receiver = receivers[c % len(receivers)]
        body = {"receiverId": receiver.user_id, "amount": 1}
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status, answer = await bench.call(
                c, "POST", "/transactions", sender.token, body, **headers
            )
            result.latencies.append(time.perf_counter() - started)
            if status not in (200, 201, 202):
                result.refused += 1
                result.refusals[f"{status}/{answer.get('error', {}).get('code')}"] += 1
                continue
            result.accepted += 1
            if wait and answer["data"]["transaction"]["status"] == "COMPLETED":
                result.completed += 1

    started = time.monotonic()
    await asyncio.gather(*(connection(c) for c in range(connections)))
    result.seconds = time.monotonic() - started
    if not wait:
        result.completed = await bench.received(receivers) - before
    result.cpu = cpu_seconds(server.pid) - cpu_before
    result.client_cpu = time.process_time() - client_before
    settle_by = time.monotonic() + 120
    while (settled := await bench.received(receivers) - before) < result.accepted:
        if time.monotonic() > settle_by:
            break
        await asyncio.sleep(0.2)
    result.settled = settled
    if wait:
        result.completed = min(result.completed, settled)
    return result


async def measure(
    urls: list[str],
    server: subprocess.Popen[bytes],
    connections: int,
    senders_n: int,
    seconds: float,
    rounds: list[str],
) -> list[Round]:
    deadline = time.monotonic() + 180
    connector = aiohttp.TCPConnector(limit=connections + 8)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        bench = Bench(urls, session)
        while True:  # until the server answers
            try:
                if (await bench.call(0, "GET", "/health"))[0] == 200:
                    break
            except (aiohttp.ClientError, OSError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("PayFlow did not start")
            await asyncio.sleep(0.2)
        senders = [await bench.register(i, "sender") for i in range(senders_n)]
        receivers = [await bench.register(i, "receiver") for i in range(senders_n)]
        for i, sender in enumerate(senders):
            status, answer = await bench.call(
                i, "POST", "/wallets/me/deposit", sender.token, {"amount": 5000000}
            )
            assert status == 200, answer
        names = {"open": ("open submit", False), "wait": ("Prefer: wait", True)}
        return [
            await run_round(bench, name, senders, receivers, connections, seconds, server, wait=w)
            for name, w in (names[r] for r in rounds)
        ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=("embedded", "server"), default="embedded")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench round")
    parser.add_argument(
        "--rounds",
        type=lambda text: text.split(","),
        default=["open", "wait"],
        help="which rounds to run, in order: open,wait (default both)",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        default=ROOT,
        help="start PayFlow from this checkout (before/after)",
    )
    args = parser.parse_args()

    tps = None if args.no_pgbench else pgbench(int(args.seconds))
    with payflow(args.mode, args.checkout) as (urls, server):
        rounds = asyncio.run(
            measure(urls, server, args.connections, args.senders, args.seconds, args.rounds)
        )

    print(
        f"PayFlow {args.mode} from {args.checkout}, {args.connections} connections, "
        f"{args.senders} senders, "
        f"{args.seconds:.0f} s per round"
    )
    if tps is not None:
        print(f"pgbench tpcb-like, 16 clients: {tps:8.1f} tps")
    print(
        f"{'round':<14}{'accepted/s':>11}{'completed/s':>12}{'settled/s':>10}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/transfer':>16}{'client CPU':>11}{'refused':>8}"
        f"{'vs pgbench':>11}"
    )
    for r in rounds:
        done = r.completed / r.seconds
        ratio = f"{done / tps:10.2f}x" if tps else "         -"
        per = r.cpu / max(r.settled, 1) * 1000
        client = r.client_cpu / max(r.accepted, 1) * 1000
        print(
            f"{r.name:<14}{r.accepted / r.seconds:11.1f}{done:12.1f}"
            f"{r.settled / r.seconds:10.1f}{r.percentile(0.5):8.1f}{r.percentile(0.99):8.1f}"
            f"{per:16.2f}{client:11.2f}{r.refused:8d} {ratio}"
        )
        if r.refusals:
            print(f"  refused (status/code): {dict(r.refusals)}")


if __name__ == "__main__":
    main()
