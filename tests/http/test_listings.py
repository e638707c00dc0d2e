"""GET /transactions, /wallets/me/history and /wallets/:id/balance, from the read models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.http.support import Account, Api, failure, success


async def send_and_settle(api: Api, sender: Account, receiver: Account, amount: str) -> str:
    response = await api.post_raw(
        "/transactions",
        f'{{"receiverId": "{receiver.user_id}", "amount": {amount}}}',
        sender.auth | {"Prefer": "wait=5"},
    )
    data = await success(response, 201)
    return str(data["transaction"]["transactionId"])


async def listing(client: TestClient, account: Account, query: str = "") -> dict[str, Any]:
    return await success(await client.get(f"/transactions{query}", headers=account.auth))


@pytest.fixture
async def traffic(api: Api, asha: Account, ravi: Account) -> list[str]:
    """Asha pays Ravi 1, 2 and 3 rupees; Ravi pays her back 0.5."""
    await api.deposit(asha, "100")
    ids = [await send_and_settle(api, asha, ravi, str(n)) for n in (1, 2, 3)]
    ids.append(await send_and_settle(api, ravi, asha, "0.5"))
    return ids


async def test_lists_a_users_transfers_newest_first_right_after_they_happen(
    client: TestClient, asha: Account, ravi: Account, traffic: list[str]
) -> None:
    mine = await listing(client, asha)
    theirs = await listing(client, ravi)

    assert [t["transactionId"] for t in mine["transactions"]] == traffic[::-1]
    assert [t["transactionId"] for t in theirs["transactions"]] == traffic[::-1]
    assert mine["pagination"] == {
        "total": 4,
        "limit": 20,
        "offset": 0,
        "hasMore": False,
        "nextCursor": None,
    }
    assert {t["status"] for t in mine["transactions"]} == {"COMPLETED"}


async def test_a_third_user_sees_none_of_them(
    client: TestClient, api: Api, traffic: list[str]
) -> None:
    meera = await api.register("Meera Iyer", "meera@example.com")
    assert (await listing(client, meera))["transactions"] == []


async def test_pages_by_offset_and_by_cursor(
    client: TestClient, asha: Account, traffic: list[str]
) -> None:
    first = await listing(client, asha, "?limit=3")
    second = await listing(client, asha, "?limit=3&offset=3")
    by_cursor = await listing(client, asha, f"?limit=3&cursor={first['pagination']['nextCursor']}")

    assert first["pagination"]["hasMore"] is True
    assert [t["transactionId"] for t in second["transactions"]] == traffic[:1]
    assert by_cursor["transactions"] == second["transactions"]


@pytest.mark.parametrize(
    ("query", "amounts"),
    [
        ("?minAmount=2", [Decimal(3), Decimal(2)]),
        ("?maxAmount=1", [Decimal("0.5"), Decimal(1)]),
        ("?minAmount=0.5&maxAmount=0.5", [Decimal("0.5")]),
        ("?status=COMPLETED&limit=1", [Decimal("0.5")]),
        ("?status=FAILED", []),
        ("?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", []),
    ],
)
async def test_filters_by_status_amount_and_time(
    client: TestClient, asha: Account, traffic: list[str], query: str, amounts: list[Decimal]
) -> None:
    found = await listing(client, asha, query)
    assert [Decimal(str(t["amount"])) for t in found["transactions"]] == amounts


async def test_filters_by_counterparty(
    client: TestClient, api: Api, asha: Account, ravi: Account, traffic: list[str]
) -> None:
    meera = await api.register("Meera Iyer", "meera@example.com")
    with_ravi = await listing(client, asha, f"?counterparty={ravi.user_id}")
    with_meera = await listing(client, asha, f"?counterparty={meera.user_id}")

    assert with_ravi["pagination"]["total"] == 4
    assert with_meera["transactions"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?offset=-1", "offset"),
        ("?status=LOST", "status"),
        ("?minAmount=1.234", "minAmount"),
        ("?from=yesterday", "from"),
        ("?from=2026-01-01T00:00:00", "from"),  # no timezone: ambiguous
        ("?counterparty=nobody", "counterparty"),
        ("?colour=blue", "colour"),
    ],
)
async def test_refuses_malformed_queries_naming_the_parameter(
    client: TestClient, asha: Account, query: str, field: str
) -> None:
    response = await client.get(f"/transactions{query}", headers=asha.auth)
    await failure(response, 400, 2001, field)


async def test_refuses_a_cursor_it_did_not_give_out(client: TestClient, asha: Account) -> None:
    response = await client.get("/transactions?cursor=bm9wZQ", headers=asha.auth)
    await failure(response, 400, 2003)


async def test_history_shows_each_movement_with_the_balance_after_it(
    client: TestClient, asha: Account, traffic: list[str]
) -> None:
    data = await success(await client.get("/wallets/me/history", headers=asha.auth))

    kinds = [(m["type"], Decimal(str(m["amount"]))) for m in data["history"]]
    assert kinds == [
        ("CREDIT", Decimal("0.5")),
        ("DEBIT", Decimal(-3)),
        ("DEBIT", Decimal(-2)),
        ("DEBIT", Decimal(-1)),
        ("DEPOSIT", Decimal(100)),
    ]
    assert Decimal(str(data["history"][0]["balanceAfter"])) == Decimal("94.5")
    assert data["history"][1]["operationId"] == traffic[2]
    limited = await success(await client.get("/wallets/me/history?limit=2", headers=asha.auth))
    assert len(limited["history"]) == 2
    assert limited["pagination"] == {"limit": 2, "hasMore": True}


async def test_balance_of_your_own_wallet_only(
    client: TestClient, api: Api, asha: Account, ravi: Account, traffic: list[str]
) -> None:
    wallet = await success(await client.get("/wallets/me", headers=asha.auth))
    wallet_id = wallet["wallet"]["walletId"]

    mine = await success(await client.get(f"/wallets/{wallet_id}/balance", headers=asha.auth))
    assert Decimal(str(mine["balance"])) == Decimal("94.5")
    assert mine["walletId"] == wallet_id
    theirs = await client.get(f"/wallets/{wallet_id}/balance", headers=ravi.auth)
    await failure(theirs, 403, 1005)
    unknown = await client.get(f"/wallets/wallet_{'0' * 32}/balance", headers=asha.auth)
    await failure(unknown, 404, 3003)
    malformed = await client.get("/wallets/nope/balance", headers=asha.auth)
    await failure(malformed, 404, 3003)


async def test_queries_need_a_token(client: TestClient) -> None:
    for path in ("/transactions", "/wallets/me/history", f"/wallets/wallet_{'0' * 32}/balance"):
        await failure(await client.get(path), 401, 1001)


async def test_balance_now_and_at_a_past_instant(
    client: TestClient, api: Api, asha: Account
) -> None:
    before_anything = "2020-01-01T00:00:00Z"
    await api.deposit(asha, "10")
    now = await success(await client.get("/wallets/me/balance", headers=asha.auth))
    between = now["asOf"]
    await api.deposit(asha, "5")

    then = await success(
        await client.get("/wallets/me/balance", params={"asOf": between}, headers=asha.auth)
    )
    later = await success(await client.get("/wallets/me/balance", headers=asha.auth))

    assert Decimal(str(then["balance"])) == Decimal(10)
    assert Decimal(str(later["balance"])) == Decimal(15)
    too_early = await client.get(
        "/wallets/me/balance", params={"asOf": before_anything}, headers=asha.auth
    )
    await failure(too_early, 404, 3003)
    for bad in ("yesterday", "2026-01-01T00:00:00"):
        response = await client.get("/wallets/me/balance", params={"asOf": bad}, headers=asha.auth)
        await failure(response, 400, 2001, "asOf")
