"""Completed transfers per second through a plain sequential HTTP loop.

    .venv/bin/python benchmarks/http_transfers.py --transfers 300

Starts PayFlow with scripts/run on a free port and a fresh data directory (SQLite,
synchronous=FULL, the defaults), registers two users, and then, one request at a
time over one keep-alive connection:
  1. "send and wait": POST a transfer, then GET it until COMPLETED, N times;
  2. "send all, then wait": POST N transfers, then wait for the last to complete.
Prints the rate of each. Nothing runs concurrently: this is a latency-bound floor.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOAD_TEST_TOKEN = "benchmark-bypasses-rate-limits"


class Client:
    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "X-Load-Test-Token": LOAD_TEST_TOKEN}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None if body is None else json.dumps(body)
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("server exited")
        try:
            if Client(port).call("GET", "/health")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def register(client: Client, name: str, email: str) -> dict[str, Any]:
    body = {"name": name, "email": email, "password": "Passw0rd1"}
    status, answer = client.call("POST", "/auth/register", body)
    assert status == 201, answer
    return dict(answer["data"])


def until_completed(client: Client, transaction_id: str) -> None:
    while True:
        status, answer = client.call("GET", f"/transactions/{transaction_id}")
        assert status == 200, answer
        if answer["data"]["transaction"]["status"] == "COMPLETED":
            return
        assert answer["data"]["transaction"]["status"] != "FAILED", answer


def send(client: Client, receiver: str) -> str:
    status, answer = client.call("POST", "/transactions", {"receiverId": receiver, "amount": 1})
    assert status == 201, answer
    return str(answer["data"]["transaction"]["transactionId"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transfers", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = os.environ | {
            "PORT": str(port),
            "PAYFLOW_DATA_DIR": data_dir,
            "PAYFLOW_MAX_DEPOSIT": "1000000",
            "PAYFLOW_DAILY_MAX_COUNT": "1000000",
            "PAYFLOW_DAILY_MAX_AMOUNT": "1000000",
            "LOAD_TEST_SECRET": LOAD_TEST_TOKEN,
        }
        server = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            wait_healthy(port, server)
            client = Client(port)
            sender = register(client, "Bench Sender", "sender@example.com")
            receiver = register(client, "Bench Receiver", "receiver@example.com")["user"]["userId"]
            client.token = sender["tokens"]["accessToken"]
            client.call("POST", "/wallets/me/deposit", {"amount": 1_000_000})
            n = args.transfers

            started = time.perf_counter()
            for _ in range(n):
                until_completed(client, send(client, receiver))
            waited = time.perf_counter() - started

            started = time.perf_counter()
            last = ""
            for _ in range(n):
                last = send(client, receiver)
            posted = time.perf_counter() - started
            until_completed(client, last)
            pipelined = time.perf_counter() - started

            print(f"{n} transfers each way, SQLite synchronous=FULL, one connection")
            print(
                f"send and wait for COMPLETED: {n / waited:8.1f} completed/s "
                f"({waited / n * 1000:.2f} ms each)"
            )
            print(
                f"send all, then wait:         {n / pipelined:8.1f} completed/s "
                f"(POSTs alone {n / posted:.1f}/s)"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
