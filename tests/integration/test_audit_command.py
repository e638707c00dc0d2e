"""``payflow audit``, balances at an instant and the CSV export, on every store."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from domain.errors import WalletNotFound
from domain.ids import wallet_id_for
from domain.money import Money
from infrastructure.settings import Settings
from interfaces.audit_command import run_audit
from interfaces.bootstrap import Container, bootstrap
from interfaces.reports import balance_as_of, export_transfers
from tests.conftest import PG


@pytest.fixture
def container(store_settings: Settings) -> Iterator[Container]:
    built = bootstrap(store_settings)
    yield built
    built.close()


def traffic(container: Container) -> dict[str, Any]:
    payflow = container.payflow
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money.parse("500"))
    sent = payflow.send(asha, Money.parse("120.50"), receiver_id=ravi, description="=SUM(A1)")
    container.ledger.drain()
    return {"asha": asha, "ravi": ravi, "transfer": sent.transfer.id}


def audited(container: Container) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    code = run_audit(container, as_json=True, out=out, err=io.StringIO())
    return code, json.loads(out.getvalue())


def test_a_clean_ledger_passes_the_audit(container: Container) -> None:
    traffic(container)

    code, report = audited(container)

    assert code == 0
    assert report["ok"] is True
    assert report["violations"] == report["readModelDifferences"] == []
    assert report["userBalances"] == "500.00"
    assert report["settlement"] == "-500.00"
    assert report["transfers"] == {"COMPLETED": 1}
    text = io.StringIO()
    assert run_audit(container, as_json=False, out=text, err=io.StringIO()) == 0
    assert "RESULT: OK" in text.getvalue()


def test_catches_a_tampered_read_model_row_and_names_the_wallet(container: Container) -> None:
    ids = traffic(container)
    container.projector.catch_up()
    ravi_wallet = container.payflow.wallet_of(ids["ravi"]).id
    with container.projector.store.cursor() as c:
        c.execute(
            container.projector.store.statement(
                "UPDATE {t}wallets SET balance = balance + 1 WHERE wallet_id = :w"
            ),
            {"w": ravi_wallet.hex},
        )

    code, report = audited(container)

    assert code == 1
    assert report["violations"] == []  # the events themselves are fine
    assert report["readModelDifferences"] == [
        f"wallet {ravi_wallet.hex}: the events give 120.50, the read model shows 120.51"
    ]


def test_catches_a_tampered_stored_event_and_names_its_position(
    persistent_settings: Settings,
) -> None:
    container = bootstrap(persistent_settings)  # a store with bytes to tamper with
    try:
        traffic(container)
        container.projector.catch_up()
        position = inflate_the_credit(persistent_settings)

        code, report = audited(container)
    finally:
        container.close()

    assert code == 1
    assert any(v.startswith(f"position {position}:") for v in report["violations"])
    assert any("the read model shows 120.50" in d for d in report["readModelDifferences"])


def inflate_the_credit(settings: Settings) -> int:
    """Rewrite the stored Credited event to credit 999.99 instead: returns its position."""
    old, new = b'"amount":12050', b'"amount":99999'
    if settings.store == "sqlite":
        with sqlite3.connect(settings.data_dir / "wallets.sqlite") as db:
            rowid, state = db.execute(
                "SELECT rowid, state FROM stored_events WHERE topic LIKE '%Wallet.Credited'"
            ).fetchone()
            db.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (bytes(state).replace(old, new), rowid),
            )
            return int(rowid)
    table = f"{settings.postgres.schema}.wallets_events"
    with psycopg.connect(**PG, autocommit=True) as db:
        row = db.execute(
            f"SELECT notification_id, state FROM {table} WHERE topic LIKE '%Wallet.Credited'"
        ).fetchone()
        assert row is not None
        db.execute(
            f"UPDATE {table} SET state = %s WHERE notification_id = %s",
            (bytes(row[1]).replace(old, new), row[0]),
        )
        return int(row[0])


def test_gives_a_balance_at_any_past_instant(container: Container) -> None:
    ids = traffic(container)
    between = datetime.now(UTC)
    container.payflow.deposit(ids["asha"], Money.parse("1"))
    out = io.StringIO()

    assert balance_as_of(container, "asha.k@payflow", between, out) == 0
    assert out.getvalue().startswith("INR 379.50 at ")
    wallet = container.payflow.wallet_of(ids["asha"]).id
    assert container.ledger.wallets.balance_at(wallet, between) == Money.parse("379.50")
    assert container.ledger.wallets.balance_at(wallet, datetime.now(UTC)) == Money.parse("380.50")
    before = datetime(2020, 1, 1, tzinfo=UTC)
    assert balance_as_of(container, f"wallet_{wallet.hex}", before, io.StringIO()) == 1
    assert balance_as_of(container, "nobody@payflow", between, io.StringIO()) == 1


def test_a_balance_before_the_wallet_existed_names_it_as_asked_and_opens_nothing(
    container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    asha = container.payflow.accounts.register("Asha Kumar", "asha@example.com", "hash")
    before = datetime(2020, 1, 1, tzinfo=UTC)

    assert balance_as_of(container, "asha.k@payflow", before, io.StringIO()) == 1

    said = capsys.readouterr().err
    assert said == "payflow: asha.k@payflow had no wallet yet at 2020-01-01T00:00:00+00:00\n"
    wallet_id = wallet_id_for(asha.id, "INR")
    with pytest.raises(WalletNotFound):  # a report writes nothing, not even a wallet
        container.ledger.wallets.get_wallet(wallet_id)


def test_exports_transfers_as_spreadsheet_safe_csv(container: Container) -> None:
    ids = traffic(container)
    out = io.StringIO()

    assert export_transfers(container, None, None, out) == 0

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 1
    assert rows[0]["transactionId"] == f"txn_{ids['transfer'].hex}"
    assert rows[0]["amount"] == "120.5"
    assert rows[0]["status"] == "COMPLETED"
    assert rows[0]["description"] == "'=SUM(A1)"  # never run as a formula
    empty = io.StringIO()
    export_transfers(
        container, datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC), empty
    )
    assert len(list(csv.DictReader(io.StringIO(empty.getvalue())))) == 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_shows_a_progress_bar_on_a_terminal_only(container: Container) -> None:
    traffic(container)
    terminal, pipe = Terminal(), io.StringIO()

    run_audit(container, as_json=True, out=io.StringIO(), err=terminal)
    run_audit(container, as_json=True, out=io.StringIO(), err=pipe)

    assert "Replaying" in terminal.getvalue()
    assert pipe.getvalue() == ""
