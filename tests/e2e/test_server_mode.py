"""Server mode: two API processes, the saga and the projector as processes of their own."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PG, REDIS_URL, require_redis
from tests.e2e.test_server import ROOT, Server, free_port, register

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]


class Api(Server):
    """One API process of a server-mode deployment started by scripts/server-mode."""

    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.base, self.process, self.log = (
            port,
            f"http://127.0.0.1:{port}",
            process,
            log,
        )
        self._wait_until_healthy()


def stopped(script: subprocess.Popen[bytes], log: Path) -> int:
    """The exit code of a deployment told to stop; if it has not stopped within a
    minute, its processes are aborted so that each writes the stacks of its threads
    to the log (PYTHONFAULTHANDLER), and the failure shows them."""
    try:
        return script.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(script.pid, signal.SIGABRT)
        script.wait(timeout=30)
        raise AssertionError(f"server mode did not stop:\n{log.read_text()[-20_000:]}") from None


def test_money_moves_across_separate_api_saga_and_projector_processes(
    tmp_path: Path, postgres_schema: str
) -> None:
    require_redis()
    ports = [free_port(), free_port()]
    log = tmp_path / "server-mode.log"
    env = os.environ | {
        "PAYFLOW_API_PORTS": " ".join(map(str, ports)),
        "POSTGRES_DBNAME": PG["dbname"],
        "POSTGRES_SCHEMA": postgres_schema,
        "REDIS_URL": REDIS_URL,
        "PAYFLOW_REDIS_PREFIX": f"{postgres_schema}:",
        "PAYFLOW_SAGA_POLL_MS": "100",
        "PYTHONFAULTHANDLER": "1",  # a process that will not stop shows its threads
    }
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "server-mode")],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first, second = (Api(port, script, log) for port in ports)
        asha = register(first, "Asha Kumar", "asha@example.com")
        ravi = register(second, "Ravi Shah", "ravi@example.com")
        token = asha["tokens"]["accessToken"]
        status, _ = first.call("POST", "/wallets/me/deposit", {"amount": 100}, token=token)
        assert status == 200

        status, body = second.call(  # the saga runs in its own process
            "POST",
            "/transactions",
            {"receiverId": ravi["user"]["userId"], "amount": 40},
            token=token,
            headers={"Prefer": "wait=10"},
        )
        assert status == 201, body
        assert body["data"]["transaction"]["status"] == "COMPLETED"

        status, listed = first.call("GET", "/transactions", token=token)  # the projector's work
        assert status == 200
        assert [t["status"] for t in listed["data"]["transactions"]] == ["COMPLETED"]
        status, wallet = first.call("GET", "/wallets/me", token=ravi["tokens"]["accessToken"])
        assert wallet["data"]["wallet"]["balance"] == 40

        os.killpg(script.pid, signal.SIGTERM)
        assert stopped(script, log) == 0
        output = log.read_text()
        for worker in ("saga", "projector", "webhooks"):
            assert f"PayFlow {worker} stopped cleanly." in output
        assert output.count("PayFlow stopped cleanly.") == 2
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait(timeout=60)
    audit = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "payflow"), "audit"],
        check=False,
        env=env | {"PAYFLOW_STORE": "postgres"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "transfers:      1 COMPLETED" in audit.stdout
