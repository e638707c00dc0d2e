"""``payflow webhooks redeliver``: an operator sends a dead-lettered delivery again."""

from __future__ import annotations

from pathlib import Path

import pytest

from application.webhooks import AttemptOutcome
from domain.money import Money
from domain.webhook import DeliveryStatus
from interfaces.bootstrap import bootstrap
from interfaces.cli import main
from interfaces.ids import DELIVERY, public_id
from tests.conftest import make_settings
from tests.integration.test_webhooks_app import scheduled

FAILED = AttemptOutcome(delivered=False, status_code=502, latency_ms=5, error="HTTP 502")


@pytest.fixture
def environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "PAYFLOW_STORE": "sqlite",
        "PAYFLOW_DATA_DIR": str(tmp_path / "data"),
        "PAYFLOW_ARGON2_TIME_COST": "1",
        "PAYFLOW_ARGON2_MEMORY_KIB": "64",
        "PAYFLOW_WEBHOOK_ATTEMPTS": "2",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def a_delivery(tmp_path: Path, environ: dict[str, str], dead: bool) -> str:
    container = bootstrap(make_settings("sqlite", tmp_path, **environ))
    try:
        payflow = container.payflow
        asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
        ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
        webhooks = container.ledger.webhooks
        webhooks.subscribe(
            ravi, "https://shop.example.com/hook", ["TRANSACTION_INITIATED"], "s" * 20
        )
        payflow.deposit(asha, Money.parse("10"))
        payflow.send(asha, Money.parse("1"), receiver_id=ravi)
        webhooks.pull_and_process(container.ledger.transfers.name)
        (delivery,) = scheduled(container.ledger)
        for _ in range(2 if dead else 0):
            webhooks.record_attempt(delivery.id, FAILED, retry_in=1.0)
        return public_id(DELIVERY, delivery.id)
    finally:
        container.close()


def test_redelivers_a_dead_letter(
    tmp_path: Path, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    delivery = a_delivery(tmp_path, environ, dead=True)
    assert main(["webhooks", "redeliver", delivery]) == 0
    assert f"Delivery {delivery} will be sent again" in capsys.readouterr().out
    container = bootstrap(make_settings("sqlite", tmp_path, **environ))
    try:
        (again,) = scheduled(container.ledger)
        assert again.status is DeliveryStatus.PENDING
        assert again.round_attempts == 0
    finally:
        container.close()


@pytest.mark.parametrize(
    ("which", "says"),
    [
        ("dlv_" + "0" * 32, "no such delivery"),
        ("txn_" + "0" * 32, "not a dlv id"),
        ("", "not a dlv id"),
        (None, "still being attempted"),  # the delivery itself, still pending
    ],
)
def test_refuses_what_cannot_be_redelivered(
    tmp_path: Path,
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    which: str | None,
    says: str,
) -> None:
    pending = a_delivery(tmp_path, environ, dead=False)
    assert main(["webhooks", "redeliver", pending if which is None else which]) == 1
    assert says in capsys.readouterr().err
