"""Server mode: the simulation settings live in PostgreSQL, shared by every process.

Each "process" here is a store (or a whole container) of its own over the same
schema; nothing is shared between them but PostgreSQL.
"""

from __future__ import annotations

import argparse
import socket
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, ProgrammingError

from application.policy import CreditFaults, FailureType, FaultSettings
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.fault_settings import TABLE, PostgresFaultSettings
from infrastructure.settings import PostgresSettings, Settings
from interfaces import cli
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from tests.conftest import PG, make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Api, success
from tests.support.saga import payflow_on

pytestmark = pytest.mark.postgres

GUARD = 30.0  # seconds any wait here may take before the test fails


OFF = {"enabled": False, "failureRate": 0, "failureType": "ERROR", "failTransactionIds": []}
MakeStore = Callable[..., PostgresFaultSettings]
MakeContainer = Callable[..., Container]
SHARED = UNLIMITED | {"PAYFLOW_SIMULATION": "on"}  # server mode with fault injection


@pytest.fixture
def settings(postgres_schema: str, tmp_path: Path) -> Settings:
    return make_settings("postgres", tmp_path, postgres_schema, **SHARED)


@pytest.fixture
def make_store(settings: Settings) -> Iterator[MakeStore]:
    """Opens stores over the test's schema, as separate processes would; closes them after."""
    opened: list[PostgresFaultSettings] = []

    def make(
        initial: FaultSettings | None = None,
        create_table: bool = True,
        postgres: PostgresSettings | None = None,
    ) -> PostgresFaultSettings:
        store = PostgresFaultSettings(postgres or settings.postgres, initial, create_table)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def make_container(postgres_schema: str, tmp_path: Path) -> Iterator[MakeContainer]:
    """Bootstraps whole containers over the test's schema; closes them after."""
    built: list[Container] = []

    def make(**overrides: object) -> Container:
        where = tmp_path / f"process-{len(built)}"
        container = bootstrap(
            make_settings("postgres", where, postgres_schema, **SHARED | overrides)
        )
        built.append(container)
        return container

    yield make
    for container in built:
        container.close()


def saved_row(schema: str) -> Any:
    """The stored JSON, read behind the store's back; None while nothing is saved."""
    with psycopg.connect(**PG) as conn:
        found = conn.execute(f"SELECT settings FROM {schema}.{TABLE}").fetchall()
    assert len(found) <= 1
    return found[0][0] if found else None


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# Two processes, one set of settings ---------------------------------------------------


def test_settings_configured_in_one_process_decide_the_next_credit_in_another(
    make_store: MakeStore,
) -> None:
    api, saga = CreditFaults(make_store()), CreditFaults(make_store())
    listed, other = uuid4(), uuid4()
    assert saga.failure_for(listed) is None

    api.configure(enabled=True, transfer_ids={listed})
    assert saga.failure_for(listed) == "Injected fault: credit failed (transfer listed)"
    assert saga.failure_for(other) is None

    api.configure(rate=Fraction(1), failure_type=FailureType.TIMEOUT)
    assert saga.failure_for(other) == "Injected fault: credit timed out (random)"

    api.configure(enabled=False)
    assert saga.failure_for(listed) is None
    assert saga.failure_for(other) is None


def test_a_reset_in_one_process_switches_injection_off_in_the_others(
    make_store: MakeStore, postgres_schema: str
) -> None:
    first, second = CreditFaults(make_store()), CreditFaults(make_store())
    listed = uuid4()
    first.configure(
        enabled=True, rate=Fraction(1), failure_type=FailureType.TIMEOUT, transfer_ids={listed}
    )
    assert second.failure_for(listed) is not None

    assert second.reset() == FaultSettings()

    assert first.settings() == FaultSettings()
    assert first.failure_for(listed) is None
    assert saved_row(postgres_schema) == {
        "enabled": False,
        "rate": "0/1",
        "failure_type": "ERROR",
        "transfer_ids": [],
    }


@pytest.mark.parametrize(
    "rate", [Fraction(3, 10), Fraction(1, 3), Fraction(1, 100_000), Fraction(0), Fraction(1)]
)
def test_the_rate_is_stored_exactly(
    make_store: MakeStore, postgres_schema: str, rate: Fraction
) -> None:
    writer, reader = CreditFaults(make_store()), CreditFaults(make_store())
    writer.configure(enabled=True, rate=rate)
    assert reader.rate == rate
    assert type(reader.rate) is Fraction
    assert saved_row(postgres_schema)["rate"] == f"{rate.numerator}/{rate.denominator}"


def test_listed_transfer_ids_round_trip(make_store: MakeStore) -> None:
    writer, reader = CreditFaults(make_store()), CreditFaults(make_store())
    listed = {uuid4() for _ in range(5)}
    writer.configure(enabled=True, transfer_ids=listed)
    assert reader.transfer_ids == frozenset(listed)
    assert all(reader.failure_for(t) is not None for t in listed)

    writer.configure(transfer_ids=set())
    assert reader.transfer_ids == frozenset()


def test_configuring_keeps_the_settings_it_does_not_name(make_store: MakeStore) -> None:
    first, second = CreditFaults(make_store()), CreditFaults(make_store())
    listed = uuid4()
    first.configure(enabled=True, rate=Fraction(1, 4), transfer_ids={listed})
    second.configure(failure_type=FailureType.TIMEOUT)
    assert first.settings() == FaultSettings(
        True, Fraction(1, 4), FailureType.TIMEOUT, frozenset({listed})
    )


# Failures write nothing ---------------------------------------------------------------


def test_an_invalid_rate_raises_and_writes_nothing(
    make_store: MakeStore, postgres_schema: str
) -> None:
    first, second = CreditFaults(make_store()), CreditFaults(make_store())
    before = first.configure(enabled=True, rate=Fraction(1, 4))
    row = saved_row(postgres_schema)

    with pytest.raises(ValueError, match="between 0 and 1"):
        second.configure(enabled=False, rate=Fraction(3, 2), transfer_ids={uuid4()})

    assert first.settings() == before
    assert saved_row(postgres_schema) == row


def test_a_failed_change_leaves_no_row_behind(make_store: MakeStore, postgres_schema: str) -> None:
    store = make_store(initial=FaultSettings(enabled=True, rate=Fraction(1, 10)))

    def broken(current: FaultSettings) -> FaultSettings:
        raise RuntimeError("the change failed half-way")

    with pytest.raises(RuntimeError):
        store.update(broken)
    assert saved_row(postgres_schema) is None  # not even the initial settings
    assert make_store().load() == FaultSettings()


def test_concurrent_changes_from_several_processes_are_never_lost(
    make_store: MakeStore,
) -> None:
    stores = [make_store() for _ in range(4)]
    added: list[list[UUID]] = [[uuid4() for _ in range(15)] for _ in stores]

    def add_each(store: PostgresFaultSettings, transfer_ids: list[UUID]) -> None:
        for transfer_id in transfer_ids:
            store.update(
                lambda now, t=transfer_id: now.changed(transfer_ids=now.transfer_ids | {t})
            )

    workers = [
        threading.Thread(target=add_each, args=(store, ids))
        for store, ids in zip(stores, added, strict=True)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(GUARD)
        assert not worker.is_alive(), "an updater did not finish"

    assert stores[0].load().transfer_ids == frozenset(t for ids in added for t in ids)


def test_an_unreachable_database_is_an_event_store_error(make_store: MakeStore) -> None:
    store = make_store(postgres=PostgresSettings(host="127.0.0.1", port=closed_port()))
    with pytest.raises(OperationalError):
        store.load()
    with pytest.raises(OperationalError):
        store.update(lambda now: now.changed(enabled=True))


# Initial settings and the table -------------------------------------------------------


def test_the_environment_gives_the_settings_until_some_are_saved(
    make_store: MakeStore, settings: Settings, tmp_path: Path, postgres_schema: str
) -> None:
    from_env = make_settings(
        "postgres", tmp_path, postgres_schema, PAYFLOW_CREDIT_FAILURE_PERCENT="30"
    )
    starting = PostgresFaultSettings.for_settings(from_env)
    try:
        assert starting.load() == FaultSettings(enabled=True, rate=Fraction(3, 10))
        other = make_store()
        other.update(lambda now: now.changed(failure_type=FailureType.TIMEOUT))
        # the first change starts from the initial settings of the process making it
        assert starting.load() == FaultSettings(False, Fraction(0), FailureType.TIMEOUT)
        other.update(lambda now: now.changed(rate=Fraction(1, 2)))
        assert starting.load().rate == Fraction(1, 2)  # saved settings win from then on
    finally:
        starting.close()


def test_without_table_creation_the_table_comes_from_payflow_init(
    make_store: MakeStore, make_container: MakeContainer, postgres_schema: str
) -> None:
    worker = make_store(initial=FaultSettings(enabled=True), create_table=False)
    assert worker.load() == FaultSettings(enabled=True)  # no table: nothing saved yet
    with pytest.raises(ProgrammingError, match="payflow init"):
        worker.update(lambda now: now.changed(rate=Fraction(1)))

    init = make_container()  # what `payflow init` builds
    assert cli._run(init, argparse.Namespace(command="init")) == 0
    assert saved_row(postgres_schema) is None  # the table, with nothing saved

    assert worker.update(lambda now: now.changed(rate=Fraction(1))).rate == 1
    assert make_store(create_table=False).load().rate == 1


def test_production_mode_never_injects_whatever_is_saved(
    make_store: MakeStore, make_container: MakeContainer
) -> None:
    make_store().update(lambda now: now.changed(enabled=True, rate=Fraction(1)))
    production = make_container(
        PAYFLOW_ENV="production",
        JWT_SECRET="x" * 40,
        PAYFLOW_CREDIT_FAILURE_PERCENT="100",
        PAYFLOW_SIMULATION="off",
    )
    assert production.shared_faults is None
    assert production.ledger.wallets.faults.settings() == FaultSettings()
    assert production.ledger.wallets.faults.failure_for(uuid4()) is None


# Whole processes ---------------------------------------------------------------------


def test_a_credit_fails_in_the_saga_process_as_configured_through_an_api_process(
    make_container: MakeContainer,
) -> None:
    api, saga = make_container(), make_container(PAYFLOW_CREATE_TABLES="no")
    payflow = payflow_on(api.ledger)
    asha = payflow.register("Asha Kumar", "asha@example.com", "Passw0rd1").user.id
    ravi = payflow.register("Ravi Shah", "ravi@example.com", "Passw0rd1").user.id
    payflow.deposit(asha, Money(50_00))

    api.ledger.wallets.faults.configure(
        enabled=True, rate=Fraction(1), failure_type=FailureType.TIMEOUT
    )
    doomed = payflow.send(asha, Money(20_00), receiver_id=ravi)
    saga.ledger.drain()

    transfer = saga.ledger.transfers.get_transfer(doomed.transfer.id)
    assert transfer.status is TransferStatus.FAILED
    assert transfer.was_refunded
    assert (transfer.failure_reason or "").startswith(
        "Refunded: Injected fault: credit timed out (random)"
    )
    assert payflow.wallet_of(asha).balance == Money(50_00)
    assert payflow.wallet_of(ravi).balance == Money(0)

    api.ledger.wallets.faults.reset()
    fine = payflow.send(asha, Money(5_00), receiver_id=ravi)
    saga.ledger.drain()
    assert saga.ledger.transfers.get_transfer(fine.transfer.id).status is (TransferStatus.COMPLETED)
    assert payflow.wallet_of(ravi).balance == Money(5_00)


async def test_every_api_process_shows_what_any_of_them_saved(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    # Each app closes its own container when its client closes.
    first = await aiohttp_client(create_app(bootstrap(settings), run_workers=False))
    second = await aiohttp_client(create_app(bootstrap(settings), run_workers=False))
    auth = (await Api(first).register()).auth
    txn = "txn_" + "b" * 32

    saved = await success(
        await first.post(
            "/ledger/simulation",
            json={"failureRate": 0.3, "failureType": "TIMEOUT", "failTransactionIds": [txn]},
            headers=auth,
        )
    )
    expected = {"enabled": True, "failureRate": Decimal("0.3"), "failureType": "TIMEOUT"}
    assert saved == expected | {"failTransactionIds": [txn]}
    assert await success(await second.get("/ledger/simulation", headers=auth)) == saved

    assert await success(await second.post("/ledger/simulation/reset", headers=auth)) == OFF
    assert await success(await first.get("/ledger/simulation", headers=auth)) == OFF
