"""What every route shares: the envelope, correlation ids, body handling, operations."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from infrastructure.settings import Settings
from tests.http.support import CORRELATION, PASSWORD, Account, Api, failure, success

REGISTER = {"name": "Asha Kumar", "email": "asha@example.com", "password": PASSWORD}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("POST", "/wallets/nowhere")])
async def test_an_unknown_route_is_a_404_in_the_envelope(
    client: TestClient, method: str, path: str
) -> None:
    await failure(await client.request(method, path), 404, 2001)


async def test_a_sent_correlation_id_is_echoed_on_success_and_in_errors(
    client: TestClient,
) -> None:
    ok = await client.get("/", headers={CORRELATION: "req-123"})
    error = await client.get("/nowhere", headers={CORRELATION: "req-456"})

    assert ok.headers[CORRELATION] == "req-123"
    assert error.headers[CORRELATION] == "req-456"
    assert (await failure(error, 404, 2001))["correlationId"] == "req-456"


async def test_a_correlation_id_is_generated_when_absent_and_differs_per_request(
    client: TestClient,
) -> None:
    first = await client.get("/nowhere")
    second = await client.get("/nowhere")

    first_id = (await failure(first, 404, 2001))["correlationId"]
    second_id = (await failure(second, 404, 2001))["correlationId"]
    assert first_id == first.headers[CORRELATION]
    assert first_id != second_id
    assert (await client.get("/")).headers[CORRELATION]


async def test_an_unusable_correlation_id_is_replaced(client: TestClient) -> None:
    response = await client.get("/nowhere", headers={CORRELATION: "x" * 200})

    error = await failure(response, 404, 2001)
    assert error["correlationId"] != "x" * 200


@pytest.mark.parametrize("text", ["{not json", '{"name": ', "", "{'a': 1}"])
async def test_a_malformed_json_body_is_refused(api: Api, text: str) -> None:
    response = await api.post_raw("/auth/register", text)

    await failure(response, 400, 2001)


@pytest.mark.parametrize("text", ["[]", '["a"]', '"text"', "42", "null"])
async def test_a_json_body_that_is_not_an_object_is_refused(api: Api, text: str) -> None:
    await failure(await api.post_raw("/auth/register", text), 400, 2001)


async def test_a_body_that_is_not_utf8_is_refused(client: TestClient) -> None:
    response = await client.post(
        "/auth/register", data=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )

    await failure(response, 400, 2001)


async def test_a_json_content_type_with_a_charset_is_accepted(client: TestClient) -> None:
    response = await client.post(
        "/auth/register",
        data=json.dumps(REGISTER).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    await success(response, 201)


async def test_a_body_that_is_not_json_is_unsupported(client: TestClient) -> None:
    response = await client.post(
        "/auth/register", data=b'{"name": "x"}', headers={"Content-Type": "text/plain"}
    )

    await failure(response, 415, 2001)


async def test_an_authenticated_body_that_is_not_json_is_unsupported(
    client: TestClient, asha: Account
) -> None:
    response = await client.post(
        "/wallets/me/deposit",
        data=b'{"amount": 1}',
        headers=asha.auth | {"Content-Type": "text/plain"},
    )

    await failure(response, 415, 2001)


async def test_a_body_over_the_size_limit_is_refused_in_the_envelope(
    api: Api, settings: Settings
) -> None:
    padding = "x" * settings.max_body_bytes
    text = f'{{"name": "{padding}", "email": "a@example.com", "password": "{PASSWORD}"}}'

    await failure(await api.post_raw("/auth/register", text), 413, 2001)
    # Nothing was registered.
    await success(await api.client.post("/auth/register", json=REGISTER), 201)


async def test_the_root_names_the_service(client: TestClient) -> None:
    data = await success(await client.get("/"))

    assert data["name"] == "PayFlow"
    assert data["version"]


async def test_health_reports_healthy_with_its_services(client: TestClient) -> None:
    response = await client.get("/health")

    assert response.status == 200
    body = await response.json()
    assert "data" not in body  # plain, as monitors read it
    assert body["status"] == "healthy"
    assert body["services"] == {"eventStore": "up"}


async def test_health_is_503_when_the_event_store_does_not_answer(
    client: TestClient, store_down: None
) -> None:
    response = await client.get("/health")

    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unhealthy"
    assert body["services"] == {"eventStore": "down"}
