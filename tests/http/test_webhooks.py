"""/webhooks: subscriptions, their delivery logs, and redelivery by hand.

The app here runs no workers, so nothing sends a delivery behind a test's back:
each test moves the saga, schedules deliveries the way the Webhooks process does
(``pull_and_process`` on the Transfers log), records attempts the way the
dispatcher does (``record_attempt``) and projects, then reads what the API shows.
One test runs the workers, to see deliveries scheduled without help.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from application.webhooks import AttemptOutcome
from domain.webhook import MAX_WEBHOOKS_PER_USER, Delivery
from infrastructure.settings import Settings
from interfaces.bootstrap import Container, bootstrap
from interfaces.http.app import create_app
from interfaces.http.keys import CONTAINER
from interfaces.ids import DELIVERY, parse_id
from tests.conftest import make_settings
from tests.http.conftest import UNLIMITED, AiohttpClient
from tests.http.support import Account, Api, failure, success
from tests.http.test_openapi import response_schema, spec_of

URL = "https://merchant.example.com/hooks"
SECRET = "a-secret-of-32-characters-long!!"
ALL = [
    "TRANSACTION_INITIATED",
    "TRANSACTION_COMPLETED",
    "TRANSACTION_FAILED",
    "DEBIT_SUCCESS",
    "DEBIT_FAILED",
    "CREDIT_SUCCESS",
    "CREDIT_FAILED",
    "REFUND_REQUESTED",
    "REFUND_COMPLETED",
    "REFUND_FAILED",
]
WEBHOOK_KEYS = {
    "webhookId",
    "url",
    "events",
    "isActive",
    "failureCount",
    "lastDeliveryAt",
    "createdAt",
    "updatedAt",
    "disabledReason",
}
FAILED = AttemptOutcome(delivered=False, status_code=500, latency_ms=12, error="HTTP 500")
TIMED_OUT = AttemptOutcome(delivered=False, status_code=None, latency_ms=10_000, error="timeout")
OK = AttemptOutcome(delivered=True, status_code=204, latency_ms=8, error=None)
OTHERS = "whk_" + "0" * 32


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient:
    """The app without its workers (saga, projector, webhook scheduler and dispatcher)."""
    return await aiohttp_client(create_app(bootstrap(settings), run_workers=False))


def _container(client: TestClient) -> Container:
    return client.app[CONTAINER]


async def settle(client: TestClient) -> None:
    """Run the saga to the end, schedule what it owes, and project everything."""
    container = _container(client)
    ledger = container.ledger

    def steps() -> None:
        ledger.drain()
        ledger.webhooks.pull_and_process(ledger.transfers.name)
        container.projector.catch_up()

    await asyncio.to_thread(steps)


async def subscribe(
    client: TestClient, account: Account, url: str = URL, events: list[str] | None = None
) -> dict[str, Any]:
    body = {"url": url, "events": events or ALL}
    data = await success(await client.post("/webhooks", json=body, headers=account.auth), 201)
    webhook: dict[str, Any] = data["webhook"]
    return webhook


async def pay(client: TestClient, api: Api, sender: Account, receiver: Account) -> str:
    """A settled transfer, and the deliveries its events owe scheduled."""
    await api.deposit(sender, "100")
    sent = await api.send(sender, {"receiverId": receiver.user_id, "amount": 5})
    transaction_id: str = (await success(sent, 201))["transaction"]["transactionId"]
    await settle(client)
    return transaction_id


async def logs(
    client: TestClient, account: Account, webhook_id: str, **params: Any
) -> dict[str, Any]:
    await settle(client)
    response = await client.get(f"/webhooks/{webhook_id}/logs", params=params, headers=account.auth)
    assert "X-PayFlow-Consistency" not in response.headers  # not stale
    return await success(response)


async def attempt(client: TestClient, delivery_id: str, outcome: AttemptOutcome) -> Delivery:
    webhooks = _container(client).ledger.webhooks
    return await asyncio.to_thread(
        webhooks.record_attempt, parse_id(DELIVERY, delivery_id), outcome, 30.0
    )


async def dead_letter(client: TestClient, delivery_id: str) -> None:
    for _ in range(_container(client).ledger.webhooks.rules.max_attempts):
        await attempt(client, delivery_id, FAILED)


# Subscribing -------------------------------------------------------------------------


async def test_creates_a_webhook_and_shows_its_secret_only_then(
    client: TestClient, asha: Account
) -> None:
    body = {"url": URL, "events": ["TRANSACTION_COMPLETED", "DEBIT_SUCCESS"], "secret": SECRET}
    response = await client.post("/webhooks", json=body, headers=asha.auth)

    created = (await success(response, 201))["webhook"]
    assert set(created) == WEBHOOK_KEYS | {"secret"}
    assert created["webhookId"].startswith("whk_")
    assert created["secret"] == SECRET
    assert created["events"] == ["DEBIT_SUCCESS", "TRANSACTION_COMPLETED"]
    assert created["isActive"] is True
    assert created["failureCount"] == 0
    assert created["lastDeliveryAt"] is None
    assert created["disabledReason"] is None
    assert "X-PayFlow-Position" in response.headers

    shown = await success(await client.get(f"/webhooks/{created['webhookId']}", headers=asha.auth))
    listed = await success(await client.get("/webhooks", headers=asha.auth))
    assert shown["webhook"] == {k: v for k, v in created.items() if k != "secret"}
    assert listed["webhooks"] == [shown["webhook"]]


async def test_generates_a_secret_when_none_is_given_and_collapses_repeated_events(
    client: TestClient, asha: Account
) -> None:
    events = ["DEBIT_FAILED", "DEBIT_FAILED", "CREDIT_FAILED"]
    first = await subscribe(client, asha, events=events)
    second = await subscribe(client, asha, url=URL + "/2", events=["DEBIT_FAILED"])

    assert first["secret"].startswith("whsec_")
    assert len(first["secret"]) >= 40
    assert first["secret"] != second["secret"]
    assert first["events"] == ["CREDIT_FAILED", "DEBIT_FAILED"]


async def test_lists_only_the_callers_webhooks_newest_first(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    older = await subscribe(client, asha)
    newer = await subscribe(client, asha, url=URL + "/2")
    await subscribe(client, ravi)

    listed = await success(await client.get("/webhooks", headers=asha.auth))
    theirs = await success(await client.get("/webhooks", headers=ravi.auth))

    assert [w["webhookId"] for w in listed["webhooks"]] == [newer["webhookId"], older["webhookId"]]
    assert all("secret" not in w for w in listed["webhooks"])
    assert len(theirs["webhooks"]) == 1


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": URL, "events": []}, "events", 2001),
        ({"url": URL}, "events", 2004),
        ({"events": ALL}, "url", 2004),
        ({"url": URL, "events": ["TRANSACTION_EXPLODED"]}, "events", 2001),
        ({"url": URL, "events": "DEBIT_FAILED"}, "events", 2001),
        ({"url": URL, "events": ALL, "secret": "too-short"}, "secret", 2001),
        ({"url": URL, "events": ALL, "secret": "x" * 129}, "secret", 2001),
        ({"url": URL, "events": ALL, "secret": "sixteen-chars-ok\n"}, "secret", 2001),
        ({"url": URL, "events": ALL, "secret": "non-ascii-secret-é"}, "secret", 2001),
        ({"url": "", "events": ALL}, "url", 2001),
        ({"url": 42, "events": ALL}, "url", 2001),
        ({"url": URL, "events": ALL, "colour": "red"}, "colour", 2001),
    ],
)
async def test_refuses_a_malformed_subscription(
    client: TestClient, asha: Account, body: dict[str, Any], field: str, code: int
) -> None:
    response = await client.post("/webhooks", json=body, headers=asha.auth)

    await failure(response, 400, code, field)
    assert (await success(await client.get("/webhooks", headers=asha.auth)))["webhooks"] == []


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://merchant.example.com/hooks",
        "https://user:pass@merchant.example.com/hooks",
        "https://merchant.example.com:0/hooks",
        "http://localhost:8080/hooks",
        "http://127.0.0.1/hooks",
        "http://0x7f.1/hooks",
        "http://[::1]/hooks",
        "http://10.0.0.7/hooks",
        "http://192.168.1.20/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://xn--/",  # an IDNA label that does not decode
        "https://xn--a.example/hooks",
    ],
)
async def test_refuses_a_url_deliveries_may_not_use(
    client: TestClient, asha: Account, url: str
) -> None:
    response = await client.post("/webhooks", json={"url": url, "events": ALL}, headers=asha.auth)

    error = await failure(response, 400, 2001, "url")
    assert error["details"]["url"][0].startswith("refused target")


async def test_allows_private_targets_when_configured_but_never_cloud_metadata(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings("memory", tmp_path, PAYFLOW_WEBHOOK_ALLOW_PRIVATE="yes", **UNLIMITED)
    client = await aiohttp_client(create_app(bootstrap(settings)))
    asha = await Api(client).register()

    for url in ("http://127.0.0.1:9000/hooks", "http://localhost/hooks", "http://10.0.0.7/"):
        await subscribe(client, asha, url=url)
    metadata = {"url": "http://169.254.169.254/", "events": ALL}
    response = await client.post("/webhooks", json=metadata, headers=asha.auth)
    error = await failure(response, 400, 2001, "url")
    assert "cloud metadata" in error["details"]["url"][0]


async def test_requires_https_in_production_mode(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = make_settings(
        "memory", tmp_path, PAYFLOW_ENV="production", JWT_SECRET="x" * 40, **UNLIMITED
    )
    client = await aiohttp_client(create_app(bootstrap(settings)))
    asha = await Api(client).register()

    plain = {"url": "http://merchant.example.com/hooks", "events": ALL}
    error = await failure(await client.post("/webhooks", json=plain, headers=asha.auth), 400, 2001)
    assert "https" in error["details"]["url"][0]
    await subscribe(client, asha, url=URL)


async def test_the_same_url_twice_is_a_conflict_however_it_is_spelt(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    await subscribe(client, asha, url=URL)

    for spelling in (
        URL,
        "HTTPS://Merchant.Example.COM/hooks",
        "https://merchant.example.com:443/hooks",
    ):
        again = await client.post(
            "/webhooks", json={"url": spelling, "events": ALL}, headers=asha.auth
        )
        await failure(again, 409, 3018)
    await subscribe(client, ravi, url=URL)  # another user may use the same URL


async def test_caps_how_many_webhooks_one_user_has(client: TestClient, asha: Account) -> None:
    for n in range(MAX_WEBHOOKS_PER_USER):
        await subscribe(client, asha, url=f"{URL}/{n}")

    over = await client.post("/webhooks", json={"url": URL, "events": ALL}, headers=asha.auth)

    await failure(over, 400, 3011)


# Reading, changing, deleting ------------------------------------------------------------


def others_webhook_requests(webhook_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/webhooks/{webhook_id}", None),
        ("PATCH", f"/webhooks/{webhook_id}", {"isActive": False}),
        ("DELETE", f"/webhooks/{webhook_id}", None),
        ("GET", f"/webhooks/{webhook_id}/logs", None),
        ("POST", f"/webhooks/{webhook_id}/deliveries/dlv_{'1' * 32}/redeliver", None),
    ]


async def test_someone_elses_webhook_is_not_found(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    hers = await subscribe(client, asha)

    for method, path, body in others_webhook_requests(hers["webhookId"]):
        response = await client.request(method, path, json=body, headers=ravi.auth)
        await failure(response, 404, 3007)
    mine = await success(await client.get(f"/webhooks/{hers['webhookId']}", headers=asha.auth))
    assert mine["webhook"]["isActive"] is True  # untouched


@pytest.mark.parametrize("webhook_id", [OTHERS, "whk_nothex", "txn_" + "0" * 32, "whk_"])
async def test_an_unknown_or_malformed_id_is_not_found(
    client: TestClient, asha: Account, webhook_id: str
) -> None:
    for method, path, body in others_webhook_requests(webhook_id):
        response = await client.request(method, path, json=body, headers=asha.auth)
        await failure(response, 404, 3007)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/webhooks"),
        ("GET", "/webhooks"),
        ("GET", f"/webhooks/{OTHERS}"),
        ("PATCH", f"/webhooks/{OTHERS}"),
        ("DELETE", f"/webhooks/{OTHERS}"),
        ("GET", f"/webhooks/{OTHERS}/logs"),
        ("POST", f"/webhooks/{OTHERS}/deliveries/dlv_{'1' * 32}/redeliver"),
    ],
)
async def test_every_route_needs_a_signed_in_caller(
    client: TestClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"url": URL, "events": ALL})
    await failure(response, 401, 1001)


async def test_changes_the_url_and_events_and_pauses_then_enables(
    client: TestClient, asha: Account
) -> None:
    webhook = await subscribe(client, asha)
    path = f"/webhooks/{webhook['webhookId']}"

    changed = await client.patch(
        path,
        json={"url": URL + "/v2", "events": ["DEBIT_FAILED", "DEBIT_FAILED"]},
        headers=asha.auth,
    )
    data = (await success(changed))["webhook"]
    assert data["url"] == URL + "/v2"
    assert data["events"] == ["DEBIT_FAILED"]
    assert "secret" not in data

    paused = (await success(await client.patch(path, json={"isActive": False}, headers=asha.auth)))[
        "webhook"
    ]
    assert paused["isActive"] is False
    assert paused["disabledReason"] == "paused by its owner"
    enabled = (await success(await client.patch(path, json={"isActive": True}, headers=asha.auth)))[
        "webhook"
    ]
    assert enabled["isActive"] is True
    assert enabled["disabledReason"] is None
    await subscribe(client, asha, url=URL)  # the old URL is free again


async def test_enabling_a_disabled_endpoint_forgives_its_failures(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    webhook = await subscribe(client, asha, events=["TRANSACTION_INITIATED", "DEBIT_SUCCESS"])
    await pay(client, api, asha, ravi)
    rules = _container(client).ledger.webhooks.rules
    entries = (await logs(client, asha, webhook["webhookId"]))["logs"]
    assert len(entries) * rules.max_attempts >= rules.disable_after
    for entry in entries:
        await dead_letter(client, entry["deliveryId"])
    path = f"/webhooks/{webhook['webhookId']}"

    disabled = (await success(await client.get(path, headers=asha.auth)))["webhook"]
    assert disabled["isActive"] is False
    assert disabled["failureCount"] >= rules.disable_after
    assert disabled["disabledReason"].startswith("disabled after")
    enabled = (await success(await client.patch(path, json={"isActive": True}, headers=asha.auth)))[
        "webhook"
    ]
    assert enabled["isActive"] is True
    assert enabled["failureCount"] == 0
    assert enabled["disabledReason"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"events": []}, "events"),
        ({"events": ["NOPE"]}, "events"),
        ({"isActive": "yes"}, "isActive"),
        ({"isActive": 1}, "isActive"),
        ({"url": ""}, "url"),
        ({"secret": SECRET}, "secret"),  # a secret is set once, at subscription
        ({"url": "http://127.0.0.1/hooks"}, "url"),
        ({"url": "gopher://merchant.example.com/"}, "url"),
        ({"url": "http://xn--/"}, "url"),
    ],
)
async def test_refuses_a_malformed_change_and_changes_nothing(
    client: TestClient, asha: Account, body: dict[str, Any], field: str
) -> None:
    webhook = await subscribe(client, asha)
    path = f"/webhooks/{webhook['webhookId']}"

    await failure(await client.patch(path, json=body, headers=asha.auth), 400, 2001, field)

    after = (await success(await client.get(path, headers=asha.auth)))["webhook"]
    assert after == {k: v for k, v in webhook.items() if k != "secret"}


async def test_changing_to_a_url_already_subscribed_is_a_conflict(
    client: TestClient, asha: Account
) -> None:
    first = await subscribe(client, asha)
    await subscribe(client, asha, url=URL + "/2")
    path = f"/webhooks/{first['webhookId']}"

    await failure(await client.patch(path, json={"url": URL + "/2"}, headers=asha.auth), 409, 3018)

    after = (await success(await client.get(path, headers=asha.auth)))["webhook"]
    assert after["url"] == URL
    same = await client.patch(path, json={"url": URL}, headers=asha.auth)  # its own URL: fine
    await success(same)


async def test_a_deleted_webhook_is_gone(client: TestClient, asha: Account) -> None:
    webhook = await subscribe(client, asha)
    path = f"/webhooks/{webhook['webhookId']}"

    deleted = await success(await client.delete(path, headers=asha.auth))

    assert deleted == {"message": "Webhook deleted"}
    await failure(await client.get(path, headers=asha.auth), 404, 3007)
    await failure(await client.delete(path, headers=asha.auth), 404, 3007)
    await failure(await client.get(f"{path}/logs", headers=asha.auth), 404, 3007)
    assert (await success(await client.get("/webhooks", headers=asha.auth)))["webhooks"] == []
    await subscribe(client, asha)  # its URL can be subscribed again


# Delivery logs ------------------------------------------------------------------------


async def test_logs_show_the_deliveries_a_transfer_owes_newest_first(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    events = ["TRANSACTION_INITIATED", "DEBIT_SUCCESS", "TRANSACTION_COMPLETED"]
    webhook = await subscribe(client, asha, events=events)
    unrelated = await subscribe(client, asha, url=URL + "/2", events=["DEBIT_FAILED"])
    transaction_id = await pay(client, api, asha, ravi)

    data = await logs(client, asha, webhook["webhookId"])

    entries = data["logs"]
    assert sorted(e["event"] for e in entries) == sorted(events)
    created = [datetime.fromisoformat(e["createdAt"]) for e in entries]
    assert created == sorted(created, reverse=True)
    for entry in entries:
        assert entry["deliveryId"].startswith("dlv_")
        assert entry["transactionId"] == transaction_id
        assert entry["status"] == "PENDING"
        assert entry["attempts"] == 0
        assert entry["attemptsDetail"] == []
        assert entry["nextAttemptAt"] is not None
        assert entry["lastStatusCode"] is None
    assert data["pagination"] == {"total": 3, "limit": 20, "offset": 0, "hasMore": False}
    assert (await logs(client, asha, unrelated["webhookId"]))["logs"] == []


async def test_logs_show_every_attempt_and_filter_and_page(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    webhook = await subscribe(client, asha, events=["TRANSACTION_INITIATED", "DEBIT_SUCCESS"])
    await pay(client, api, asha, ravi)
    first, second = (await logs(client, asha, webhook["webhookId"]))["logs"]
    await attempt(client, first["deliveryId"], TIMED_OUT)
    await attempt(client, first["deliveryId"], FAILED)
    await attempt(client, first["deliveryId"], OK)
    await attempt(client, second["deliveryId"], FAILED)

    entries = {e["deliveryId"]: e for e in (await logs(client, asha, webhook["webhookId"]))["logs"]}

    done = entries[first["deliveryId"]]
    assert done["status"] == "DELIVERED"
    assert done["attempts"] == 3
    assert done["lastStatusCode"] == 204
    assert done["lastError"] is None
    assert done["nextAttemptAt"] is None
    assert [
        (a["attempt"], a["statusCode"], a["latencyMs"], a["error"], a["delivered"])
        for a in done["attemptsDetail"]
    ] == [
        (1, None, 10_000, "timeout", False),
        (2, 500, 12, "HTTP 500", False),
        (3, 204, 8, None, True),
    ]
    times = [datetime.fromisoformat(a["attemptedAt"]) for a in done["attemptsDetail"]]
    assert times == sorted(times)
    retrying = entries[second["deliveryId"]]
    assert retrying["status"] == "PENDING"
    assert retrying["lastStatusCode"] == 500
    assert retrying["lastError"] == "HTTP 500"
    assert datetime.fromisoformat(retrying["nextAttemptAt"]) > datetime.fromisoformat(
        retrying["attemptsDetail"][0]["attemptedAt"]
    )
    hook = (
        await success(await client.get(f"/webhooks/{webhook['webhookId']}", headers=asha.auth))
    )["webhook"]
    assert hook["lastDeliveryAt"] is not None

    delivered = await logs(client, asha, webhook["webhookId"], status="DELIVERED")
    assert [e["deliveryId"] for e in delivered["logs"]] == [first["deliveryId"]]
    assert delivered["pagination"]["total"] == 1
    page = await logs(client, asha, webhook["webhookId"], limit=1, offset=0)
    rest = await logs(client, asha, webhook["webhookId"], limit=1, offset=1)
    assert page["pagination"] == {"total": 2, "limit": 1, "offset": 0, "hasMore": True}
    assert rest["pagination"] == {"total": 2, "limit": 1, "offset": 1, "hasMore": False}
    assert page["logs"][0]["deliveryId"] == first["deliveryId"]
    assert rest["logs"][0]["deliveryId"] == second["deliveryId"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"status": "LOST"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_refuses_a_malformed_log_query(
    client: TestClient, asha: Account, params: dict[str, str], field: str
) -> None:
    webhook = await subscribe(client, asha)
    response = await client.get(
        f"/webhooks/{webhook['webhookId']}/logs", params=params, headers=asha.auth
    )
    await failure(response, 400, 2001, field)


# Redelivery -----------------------------------------------------------------------------


async def test_redelivers_a_dead_lettered_delivery_but_not_a_pending_one(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    webhook = await subscribe(client, asha, events=["TRANSACTION_COMPLETED"])
    await pay(client, api, asha, ravi)
    (entry,) = (await logs(client, asha, webhook["webhookId"]))["logs"]
    path = f"/webhooks/{webhook['webhookId']}/deliveries/{entry['deliveryId']}/redeliver"

    await failure(await client.post(path, headers=asha.auth), 409, 3019)
    await dead_letter(client, entry["deliveryId"])
    (dead,) = (await logs(client, asha, webhook["webhookId"]))["logs"]
    assert dead["status"] == "DEAD"
    response = await client.post(path, headers=asha.auth)

    delivery = (await success(response, 202))["delivery"]
    assert delivery["deliveryId"] == entry["deliveryId"]
    assert delivery["webhookId"] == webhook["webhookId"]
    assert delivery["status"] == "PENDING"
    assert delivery["event"] == "TRANSACTION_COMPLETED"
    assert delivery["attempts"] == _container(client).ledger.webhooks.rules.max_attempts
    assert delivery["nextAttemptAt"] is not None
    assert "X-PayFlow-Position" in response.headers
    (again,) = (await logs(client, asha, webhook["webhookId"]))["logs"]
    assert again["status"] == "PENDING"
    await failure(await client.post(path, headers=asha.auth), 409, 3019)


async def test_redelivery_of_a_delivery_that_is_not_the_callers_is_not_found(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    hers = await subscribe(client, asha, events=["TRANSACTION_COMPLETED"])
    another = await subscribe(client, asha, url=URL + "/2", events=["DEBIT_FAILED"])
    his = await subscribe(client, ravi, events=["TRANSACTION_COMPLETED"])
    await pay(client, api, asha, ravi)
    (entry,) = (await logs(client, asha, hers["webhookId"]))["logs"]
    await dead_letter(client, entry["deliveryId"])
    (his_entry,) = (await logs(client, ravi, his["webhookId"]))["logs"]

    def path(webhook: dict[str, Any], delivery_id: str) -> str:
        return f"/webhooks/{webhook['webhookId']}/deliveries/{delivery_id}/redeliver"

    refusals: list[tuple[Account, str, int]] = [
        (ravi, path(his, entry["deliveryId"]), 3010),  # hers, through his own webhook
        (ravi, path(hers, entry["deliveryId"]), 3007),  # through her webhook
        (asha, path(another, entry["deliveryId"]), 3010),  # hers, but not made to that one
        (asha, path(hers, his_entry["deliveryId"]), 3010),  # his
        (asha, path(hers, "dlv_" + "9" * 32), 3010),  # nobody's
        (asha, path(hers, "dlv_nothex"), 3010),
        (asha, path(hers, "whk_" + "9" * 32), 3010),
    ]
    for account, refused_path, code in refusals:
        await failure(await client.post(refused_path, headers=account.auth), 404, code)
    (still,) = (await logs(client, asha, hers["webhookId"]))["logs"]
    assert still["status"] == "DEAD"


async def test_answers_match_their_documented_schemas(
    client: TestClient, api: Api, asha: Account, ravi: Account
) -> None:
    spec = await spec_of(client)
    created = await client.post("/webhooks", json={"url": URL, "events": ALL}, headers=asha.auth)
    webhook_id = (await success(created, 201))["webhook"]["webhookId"]
    await pay(client, api, asha, ravi)
    first = (await logs(client, asha, webhook_id))["logs"][0]
    await dead_letter(client, first["deliveryId"])
    path = f"/webhooks/{webhook_id}"
    redeliver = f"{path}/deliveries/{first['deliveryId']}/redeliver"

    for method, template, response, status in [
        ("POST", "/webhooks", created, 201),
        ("GET", "/webhooks", await client.get("/webhooks", headers=asha.auth), 200),
        ("GET", "/webhooks/{id}", await client.get(path, headers=asha.auth), 200),
        ("GET", "/webhooks/{id}", await client.get(f"/webhooks/{OTHERS}", headers=asha.auth), 404),
        ("GET", "/webhooks/{id}/logs", await client.get(f"{path}/logs", headers=asha.auth), 200),
        (
            "PATCH",
            "/webhooks/{id}",
            await client.patch(path, json={"isActive": False}, headers=asha.auth),
            200,
        ),
        (
            "POST",
            "/webhooks/{id}/deliveries/{deliveryId}/redeliver",
            await client.post(redeliver, headers=asha.auth),
            202,
        ),
        ("DELETE", "/webhooks/{id}", await client.delete(path, headers=asha.auth), 200),
    ]:
        assert response.status == status
        body = await response.json()
        errors = list(response_schema(spec, method, template, status).iter_errors(body))
        assert errors == [], (template, status, [e.message for e in errors])


async def test_the_running_workers_schedule_deliveries_without_help(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    running = await aiohttp_client(create_app(bootstrap(settings)))
    api = Api(running)
    asha, ravi = await api.register(), await api.register("Ravi Shah", "ravi@example.com")
    webhook = await subscribe(running, ravi, events=["CREDIT_SUCCESS"])
    await api.deposit(asha, "10")
    sent = await api.send(asha, {"receiverId": ravi.user_id, "amount": 1})
    transaction_id = (await success(sent, 201))["transaction"]["transactionId"]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    path = f"/webhooks/{webhook['webhookId']}/logs"
    while not (entries := (await success(await running.get(path, headers=ravi.auth)))["logs"]):
        assert loop.time() < deadline, "nothing was scheduled"
        await asyncio.sleep(0.05)
    (entry,) = entries
    assert (entry["event"], entry["transactionId"]) == ("CREDIT_SUCCESS", transaction_id)
