"""Many concurrent transfers into one merchant: all complete, none is refused for a race."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from interfaces.http.keys import CONTAINER
from tests.conftest import PERSISTENT_STORES, make_settings
from tests.http.conftest import UNLIMITED
from tests.http.support import Api, success
from tests.support.saga import checked_audit

SENDERS, EACH = 20, 10  # 200 transfers in flight at once


@pytest.fixture(params=PERSISTENT_STORES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    schema = request.getfixturevalue("postgres_schema") if request.param == "postgres" else ""
    return make_settings(request.param, tmp_path, schema, PAYFLOW_WORKER_THREADS="32", **UNLIMITED)


async def test_two_hundred_concurrent_transfers_into_one_merchant_all_complete(
    client: TestClient, api: Api
) -> None:
    merchant = await api.register("Chai Stall", "stall@example.com")
    senders = [await api.register(f"Buyer {n}", f"buyer{n}@example.com") for n in range(SENDERS)]
    await asyncio.gather(*(api.deposit(s, "100") for s in senders))

    responses = await asyncio.gather(
        *(
            api.send(sender, {"receiverId": merchant.user_id, "amount": 1.25}, key=f"cup-{n}")
            for sender in senders
            for n in range(EACH)
        )
    )

    created = [await success(response, 201) for response in responses]
    ids = {data["transaction"]["transactionId"] for data in created}
    assert len(ids) == SENDERS * EACH
    ledger = client.app[CONTAINER].ledger
    await asyncio.to_thread(ledger.drain)  # whatever the background saga has not done yet
    assert await api.balance(merchant) == Decimal("1.25") * SENDERS * EACH
    for sender in senders:
        assert await api.balance(sender) == Decimal("100") - Decimal("1.25") * EACH
    report = await asyncio.to_thread(checked_audit, ledger)
    assert report.violations == []
    assert {s.value for s in report.statuses.values()} == {"COMPLETED"}
