"""``Prefer: wait`` when the saga runs in another process (server mode).

Nothing in the API's process commits the outcome, so nothing there is told of it
by its own commits. One ``OutcomeWatch`` per API process reads the terminal
events of the Transfers log and wakes the waiting requests, rather than every
request loading its transfer again and again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from application.saga import Ledger
from domain.money import Money
from domain.transfer import TransferStatus
from infrastructure.settings import Settings
from infrastructure.stores import env_for
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import OUTCOMES
from interfaces.http.waiting import MAX_WAIT_SECONDS, OutcomeWatch, TransferOutcomes
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Api, success
from tests.support.saga import asha_and_ravi, payflow_on, record_calls

GUARD = 30  # seconds: only a broken watch makes a wait below take this long


@pytest.fixture
def two_processes(persistent_settings: Settings) -> Iterator[tuple[Ledger, Ledger]]:
    """The API's ledger and the saga's, over one store: as two processes see it."""
    api, saga = (
        Ledger.build(env_for(persistent_settings)),
        Ledger.build(env_for(persistent_settings)),
    )
    yield api, saga
    api.close()
    saga.close()


async def test_the_watch_wakes_a_wait_for_an_outcome_committed_elsewhere(
    two_processes: tuple[Ledger, Ledger],
) -> None:
    api, saga = two_processes
    payflow = payflow_on(api)
    asha, ravi = asha_and_ravi(api)
    outcomes = TransferOutcomes()
    outcomes.bind(asyncio.get_running_loop())
    watch = OutcomeWatch(outcomes, api.transfers.recorder)
    watch.look()  # the first look: where the log ends
    paid = payflow.send(asha, Money.parse("40"), receiver_id=ravi)
    doomed = payflow.send(ravi, Money.parse("999"), receiver_id=asha)  # he has nothing
    waits = [outcomes.register(paid.transfer.id), outcomes.register(doomed.transfer.id)]

    watch.look()  # nothing has finished yet: nobody is woken, but the watch moves on
    assert not any(wait.done() for wait in waits)
    assert watch.position == api.transfers.recorder.max_notification_id()
    saga.drain()  # the other process runs both sagas to the end
    watch.look()

    await asyncio.wait_for(asyncio.gather(*waits), GUARD)
    assert api.transfers.get_transfer(paid.transfer.id).status is TransferStatus.COMPLETED
    assert api.transfers.get_transfer(doomed.transfer.id).status is TransferStatus.FAILED


@pytest.fixture
async def saga_process(persistent_settings: Settings) -> AsyncIterator[Container]:
    """`payflow saga`: the saga's workers in a container of their own."""
    container = bootstrap(persistent_settings)
    container.saga.start()
    yield container
    container.close()


async def test_an_api_apart_from_the_saga_answers_a_wait_when_the_outcome_is_committed(
    aiohttp_client: AiohttpClient,
    tmp_path: Path,
    persistent_settings: Settings,
    saga_process: Container,
) -> None:
    settings = make_settings(
        persistent_settings.store,
        tmp_path / "api",
        persistent_settings.postgres.schema,
        PAYFLOW_DATA_DIR=str(persistent_settings.data_dir),
        **UNLIMITED,
    )
    app = create_app(bootstrap(settings), run_workers=False)
    app[OUTCOMES].recheck = 3600  # no second look of its own: only the watch can wake it
    api = Api(await aiohttp_client(app))
    asha = await api.register()
    ravi = await api.register("Ravi Shah", "ravi@example.com")
    await api.deposit(asha, "100")

    # Woken by nothing, the wait would run its 10 s out; the client gives up sooner.
    answered = await api.client.post(
        "/transactions",
        json={"receiverId": ravi.user_id, "amount": 40},
        headers=asha.auth | {"Prefer": f"wait={MAX_WAIT_SECONDS}"},
        timeout=aiohttp.ClientTimeout(total=MAX_WAIT_SECONDS / 2),
    )

    body = await success(answered, 201)
    assert body["transaction"]["status"] == "COMPLETED"
    assert answered.headers["Preference-Applied"] == f"wait={MAX_WAIT_SECONDS}"


def test_the_watch_asks_only_where_the_log_ends_while_nobody_waits(
    two_processes: tuple[Ledger, Ledger],
) -> None:
    api, saga = two_processes
    payflow = payflow_on(api)
    asha, ravi = asha_and_ravi(api)
    watch = OutcomeWatch(TransferOutcomes(), api.transfers.recorder)
    watch.look()
    for _ in range(5):
        payflow.send(asha, Money.parse("1"), receiver_id=ravi)
    saga.drain()
    selected = record_calls(api.transfers.recorder, "select_notifications")

    watch.look()

    assert selected == []
    assert watch.position == api.transfers.recorder.max_notification_id()
