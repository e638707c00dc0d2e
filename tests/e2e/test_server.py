"""End to end over real HTTP, against a server started exactly as ``scripts/run`` does."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.money import Money
from infrastructure.settings import Settings
from interfaces.bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  # the first start on a fresh machine may install dependencies

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]  # a first start may install


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``scripts/run`` process and a tiny JSON client for it."""

    def __init__(self, data_dir: Path, log: Path, **settings: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = os.environ | {"PORT": str(self.port), "PAYFLOW_DATA_DIR": str(data_dir)} | settings
        self.log = log
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.log.read_text()}")
            try:
                if self.call("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling for the port to open, not standing in for a result
        raise AssertionError(f"server did not become healthy:\n{self.log.read_text()}")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read(), parse_float=Decimal)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


@contextmanager
def running(data_dir: Path, log: Path, **settings: str) -> Iterator[Server]:
    server = Server(data_dir, log, **settings)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=60)


def register(server: Server, name: str, email: str) -> dict[str, Any]:
    status, body = server.call(
        "POST", "/auth/register", {"name": name, "email": email, "password": "Passw0rd1"}
    )
    assert status == 201, body
    return dict(body["data"])


def login(server: Server, email: str) -> str:
    status, body = server.call("POST", "/auth/login", {"email": email, "password": "Passw0rd1"})
    assert status == 200, body
    return str(body["data"]["tokens"]["accessToken"])


def balance(server: Server, token: str) -> Decimal:
    status, body = server.call("GET", "/wallets/me", token=token)
    assert status == 200, body
    return Decimal(body["data"]["wallet"]["balance"])


def wait_for_terminal(server: Server, token: str, transaction_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = server.call("GET", f"/transactions/{transaction_id}", token=token)
        assert status == 200, body
        transaction = body["data"]["transaction"]
        if transaction["status"] in ("COMPLETED", "FAILED"):
            return dict(transaction)
        time.sleep(0.02)  # polling for the saga's outcome, with a deadline
    raise AssertionError("transfer did not finish within 15 s")


def test_moves_money_over_http_and_keeps_it_across_a_restart(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "var", tmp_path / "server.log"
    with running(data_dir, log) as server:
        asha = register(server, "Asha Kumar", "asha@example.com")
        ravi = register(server, "Ravi Shah", "ravi@example.com")
        asha_token = asha["tokens"]["accessToken"]
        ravi_token = ravi["tokens"]["accessToken"]

        status, body = server.call(
            "POST", "/wallets/me/deposit", {"amount": 1000.50}, token=asha_token
        )
        assert (status, body["data"]["newBalance"]) == (200, Decimal("1000.5"))
        status, body = server.call(
            "POST",
            "/transactions",
            {"receiverId": ravi["user"]["userId"], "amount": 250.25, "description": "rent"},
            token=asha_token,
            headers={"X-Idempotency-Key": "rent-november"},
        )
        assert status == 201, body
        transaction_id = body["data"]["transaction"]["transactionId"]

        finished = wait_for_terminal(server, asha_token, transaction_id)
        assert finished["status"] == "COMPLETED"
        assert balance(server, asha_token) == Decimal("750.25")
        assert balance(server, ravi_token) == Decimal("250.25")
        assert server.stop(signal.SIGTERM) == 0
    assert "stopped cleanly" in log.read_text()

    with running(data_dir, log) as server:  # a new process on the same data directory
        asha_token = login(server, "asha@example.com")
        ravi_token = login(server, "ravi@example.com")
        status, body = server.call("GET", f"/transactions/{transaction_id}", token=ravi_token)
        assert status == 200
        assert body["data"]["transaction"]["status"] == "COMPLETED"
        assert balance(server, asha_token) == Decimal("750.25")
        assert balance(server, ravi_token) == Decimal("250.25")
        assert server.stop(signal.SIGINT) == 0  # Ctrl-C stops it cleanly too

    # The auditor's command, on the same data, from the installed `payflow` script.
    env = os.environ | {"PAYFLOW_DATA_DIR": str(data_dir)}
    audit = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "payflow"), "audit"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "RESULT: OK" in audit.stdout
    assert "transfers:      1 COMPLETED" in audit.stdout


def test_a_wallet_past_its_snapshot_cannot_be_overdrawn_after_a_restart(tmp_path: Path) -> None:
    """Opened + 99 deposits is version 100: the wallet snapshots, and after a restart
    every load starts from that snapshot."""
    data_dir, log = tmp_path / "var", tmp_path / "server.log"
    with running(data_dir, log) as server:
        asha = register(server, "Asha Kumar", "asha@example.com")
        ravi = register(server, "Ravi Shah", "ravi@example.com")
        for _ in range(99):
            status, body = server.call(
                "POST", "/wallets/me/deposit", {"amount": 1}, token=asha["tokens"]["accessToken"]
            )
            assert status == 200, body
        assert server.stop(signal.SIGTERM) == 0

    with running(data_dir, log) as server:
        token = login(server, "asha@example.com")
        status, body = server.call(
            "POST",
            "/transactions",
            {"receiverId": ravi["user"]["userId"], "amount": 100000},
            token=token,
            headers={"Prefer": "wait=5"},
        )
        assert status == 201, body
        transaction = body["data"]["transaction"]
        assert transaction["status"] == "FAILED", transaction
        assert transaction["failureReason"].startswith("Insufficient funds")
        assert balance(server, token) == Decimal("99")
        assert balance(server, login(server, "ravi@example.com")) == Decimal("0")


def test_every_line_it_writes_is_json_with_one_line_per_request(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "var", tmp_path / "server.log"
    with running(data_dir, log) as server:
        asha = register(server, "Asha Kumar", "asha@example.com")
        server.call("GET", "/wallets/me", token=asha["tokens"]["accessToken"])
        assert server.stop(signal.SIGTERM) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    messages = [line["message"] for line in lines]
    assert f"PayFlow is listening on {server.base}" in messages
    assert messages[-1] == "PayFlow stopped cleanly."
    (wallet,) = [line for line in lines if line.get("path") == "/wallets/me"]
    assert (wallet["method"], wallet["status"]) == ("GET", 200)
    assert wallet["user_id"] == asha["user"]["userId"]
    assert wallet["correlation_id"]


def test_a_client_stalled_half_way_through_its_body_does_not_hold_up_shutdown(
    tmp_path: Path,
) -> None:
    data_dir, log = tmp_path / "var", tmp_path / "server.log"
    with (
        running(data_dir, log, PAYFLOW_BODY_TIMEOUT_MS="500") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as stalled,
    ):
        stalled.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"email": "a'
        )
        # A connection made after it is answered only once the server has accepted
        # the stalled one (connections are accepted in order) and read what it sent.
        assert server.call("GET", "/health/live")[0] == 200
        assert server.stop(signal.SIGTERM) == 0  # waits at most 30 s, not aiohttp's 60
        answer = stalled.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert not [line for line in lines if line["level"] == "error"]


def test_a_port_already_in_use_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = os.environ | {"PORT": str(port), "PAYFLOW_DATA_DIR": str(tmp_path)}
        finished = subprocess.run(
            [str(ROOT / "scripts" / "run")],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    (failure,) = [json.loads(line) for line in finished.stderr.splitlines() if "cannot" in line]
    assert failure["level"] == "error"
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in failure["message"]


@pytest.mark.parametrize("secret", [None, "payflow-development-secret-change-me", "short"])
def test_refuses_to_start_in_production_without_a_real_jwt_secret(
    tmp_path: Path, secret: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    env |= {"PAYFLOW_ENV": "production", "PAYFLOW_DATA_DIR": str(tmp_path), "PORT": "0"}
    if secret is not None:
        env["JWT_SECRET"] = secret
    finished = subprocess.run(
        [str(ROOT / "scripts" / "run")],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert b"JWT_SECRET" in finished.stderr
    assert not (tmp_path / "wallets.sqlite").exists()  # refused before touching the store


def test_the_projector_runs_as_a_process_of_its_own(tmp_path: Path) -> None:
    env = os.environ | {"PAYFLOW_DATA_DIR": str(tmp_path), "PAYFLOW_SAGA_POLL_MS": "50"}
    container = bootstrap(Settings.from_env(env | {"PAYFLOW_ARGON2_MEMORY_KIB": "64"}))
    asha = container.payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    container.payflow.deposit(asha, Money.parse("10"))  # events, and no projector yet
    container.close()
    projector = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "payflow"), "projector"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not deposits_projected(tmp_path / "readmodels.sqlite"):
            assert projector.poll() is None, projector.stdout.read() if projector.stdout else ""
            assert time.monotonic() < deadline, "the projector did not project within 30 s"
            time.sleep(0.05)  # polling its output table, with a deadline
        projector.send_signal(signal.SIGTERM)
        assert projector.wait(timeout=30) == 0
        assert projector.stdout is not None
        assert b"stopped cleanly" in projector.stdout.read()
    finally:
        if projector.poll() is None:
            projector.kill()
            projector.wait(timeout=60)


def deposits_projected(database: Path) -> bool:
    if not database.exists():
        return False
    try:
        with sqlite3.connect(database) as db:
            return bool(db.execute("SELECT COUNT(*) FROM deposits").fetchone()[0])
    except sqlite3.OperationalError:  # the projector has not created its tables yet
        return False


def test_an_export_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    env = os.environ | {
        "PAYFLOW_DATA_DIR": str(tmp_path),
        "PAYFLOW_ARGON2_MEMORY_KIB": "64",
        "PAYFLOW_DAILY_MAX_COUNT": "100000",
        "PAYFLOW_SQLITE_SYNCHRONOUS": "NORMAL",
    }
    container = bootstrap(Settings.from_env(env))
    asha = container.payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = container.payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    container.payflow.deposit(asha, Money.parse("100000"))
    for _ in range(600):  # more CSV than a pipe holds (64 KiB)
        container.payflow.send(asha, Money.parse("0.01"), receiver_id=ravi)
    container.ledger.drain()
    container.close()

    piped = subprocess.run(
        f"{ROOT / '.venv' / 'bin' / 'payflow'} export transfers | head -n 3",
        shell=True,  # a pipe, as a user types it
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        executable="/bin/bash",
    )
    assert len(piped.stdout.splitlines()) == 3
    assert "Traceback" not in piped.stderr
    assert "BrokenPipeError" not in piped.stderr
