"""A server-mode deployment the chaos tests can break: each process started, killed and
restarted on its own, over a fresh PostgreSQL schema and a Redis server of their own.

The Redis server is private (its own port, nothing kept on disk), so stopping it or
flushing it touches nothing but this deployment.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import postgres_environ
from tests.e2e.test_server import free_port

PAYFLOW = str(Path(sys.executable).with_name("payflow"))
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0
POLL = 0.05  # seconds between looks at a port that is not open yet


def _wait_until(
    ready: Callable[[], bool], what: str, timeout: float, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(POLL)  # waiting for a process to open its port, not for a result
    tail = "" if log is None else "\n" + log.read_text()[-4000:]
    raise AssertionError(f"{what} did not come up within {timeout:.0f} s{tail}")


class RedisServer:
    """A ``redis-server`` of this deployment's own, which a test may kill and restart."""

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed (.ci/run installs it)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log_dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), *options],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        _wait_until(self.answers, "redis-server", START_TIMEOUT, self.log)

    def kill(self) -> None:
        """Gone at once, with everything it held."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def command(self, *args: str) -> str:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.stdout.strip()

    def answers(self) -> bool:
        return self.command("PING") == "PONG"

    def dbsize(self) -> int:
        return int(self.command("DBSIZE") or 0)


class Cluster:
    """``payflow saga``, ``projector``, ``webhooks`` and two ``payflow api`` processes."""

    APIS = ("api-a", "api-b")
    WORKERS = ("saga", "projector", "webhooks")

    def __init__(self, tmp_path: Path, schema: str, redis: RedisServer) -> None:
        self.logs = tmp_path / "logs"
        self.logs.mkdir(exist_ok=True)
        self.redis = redis
        self.ports = {name: free_port() for name in self.APIS}
        self.env = os.environ | {
            "PAYFLOW_STORE": "postgres",
            "PAYFLOW_ENV": "development",  # fault injection is refused in production
            "PAYFLOW_SIMULATION": "on",  # and off in server mode unless switched on
            "PAYFLOW_DATA_DIR": str(tmp_path / "data"),
            **postgres_environ(schema),
            "REDIS_URL": redis.url,
            "PAYFLOW_REDIS_PREFIX": f"{schema}:",
            "PAYFLOW_SAGA_POLL_MS": "250",  # the safety net when a hint is lost
            "PAYFLOW_ARGON2_TIME_COST": "1",
            "PAYFLOW_ARGON2_MEMORY_KIB": "64",
            "PAYFLOW_RATE_AUTH": "100000/60",
            "PAYFLOW_RATE_AUTH_IP": "100000/60",
            "PAYFLOW_RATE_TRANSFERS": "100000/60",
            "PAYFLOW_DAILY_MAX_COUNT": "100000",
            "PAYFLOW_DAILY_MAX_AMOUNT": "10000000",
            "PAYFLOW_WEBHOOK_ALLOW_PRIVATE": "yes",  # the test's receivers are on loopback
            "PAYFLOW_WEBHOOK_RETRY_BASE_MS": "100",
            "PAYFLOW_WEBHOOK_TIMEOUT_MS": "2000",
            "LOG_LEVEL": "WARNING",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.kills: dict[str, int] = {}

    def url(self, api: str) -> str:
        return f"http://127.0.0.1:{self.ports[api]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(api) for api in self.APIS]

    def payflow(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """A one-off ``payflow`` command against this deployment."""
        return subprocess.run(
            [PAYFLOW, *args],
            env=self.env | {"PAYFLOW_CREATE_TABLES": "no"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_all(self) -> None:
        init = subprocess.run(
            [PAYFLOW, "init"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert init.returncode == 0, init.stdout + init.stderr
        for name in self.WORKERS + self.APIS:
            self.start(name)

    def start(self, name: str) -> None:
        command = (
            [PAYFLOW, "api", "--port", str(self.ports[name])]
            if name in self.APIS
            else [
                PAYFLOW,
                name,
            ]
        )
        log = self.logs / f"{name}.log"
        self.processes[name] = subprocess.Popen(
            command,
            env=self.env | {"PAYFLOW_CREATE_TABLES": "no"},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        if name in self.APIS:
            _wait_until(lambda: self._live(name), name, START_TIMEOUT, log)

    def kill(self, name: str) -> None:
        """``kill -9``: no cleanup, no finishing of the step or request in hand."""
        process = self.processes[name]
        assert process.poll() is None, f"{name} had already exited:\n{self.tail(name)}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        self.kills[name] = self.kills.get(name, 0) + 1

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def stop_all(self) -> dict[str, int]:
        """SIGTERM to every process; the exit code each one finished with."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return {name: p.wait(timeout=STOP_TIMEOUT) for name, p in self.processes.items()}

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)

    def tail(self, name: str, size: int = 3000) -> str:
        log = self.logs / f"{name}.log"
        return log.read_text(errors="replace")[-size:] if log.exists() else ""

    def tails(self) -> str:
        return "\n".join(f"--- {n}\n{self.tail(n)}" for n in self.WORKERS + self.APIS)

    def _live(self, name: str) -> bool:
        process = self.processes[name]
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
        try:
            with urllib.request.urlopen(self.url(name) + "/health/live", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False
