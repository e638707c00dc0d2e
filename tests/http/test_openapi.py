"""The OpenAPI document: valid 3.1, complete, and true to what the API answers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from interfaces.http.openapi import OPERATIONS, routes_of
from tests.http.support import Account


async def spec_of(client: TestClient) -> dict[str, Any]:
    response = await client.get("/api-docs.json")
    assert response.status == 200
    return dict(await response.json())


def response_schema(spec: dict[str, Any], method: str, path: str, status: int) -> Any:
    """A validator for one documented response, resolving refs inside the document."""
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:payflow", resource)
    pointer = path.replace("~", "~0").replace("/", "~1")
    ref = (
        f"urn:payflow#/paths/{pointer}/{method.lower()}/responses/{status}"
        "/content/application~1json/schema"
    )
    return Draft202012Validator({"$ref": ref}, registry=registry)


async def test_serves_a_valid_openapi_3_1_document(client: TestClient) -> None:
    spec = await spec_of(client)

    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    assert spec["openapi"] == "3.1.0"


async def test_names_the_server_it_was_asked_at_and_bearer_auth(client: TestClient) -> None:
    spec = await spec_of(client)

    (server,) = spec["servers"]
    assert server["url"] == str(client.make_url("")).rstrip("/")
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    page = await (await client.get("/docs")).text()
    assert 'preferredSecurityScheme: "bearer"' in page


async def test_documents_every_route_and_nothing_else(client: TestClient) -> None:
    served = set(routes_of(client.app))
    assert served - set(OPERATIONS) == set(), "undocumented routes"
    assert set(OPERATIONS) - served == set(), "documented routes that are not served"
    spec = await spec_of(client)
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == served


async def test_request_bodies_come_from_the_validating_schemas(client: TestClient) -> None:
    spec = await spec_of(client)
    transfer = spec["components"]["schemas"]["Transfer"]

    assert set(transfer["properties"]) == {
        "receiverId",
        "receiverVpa",
        "amount",
        "currency",
        "description",
    }
    assert transfer["required"] == ["amount"]
    assert transfer["properties"]["amount"]["type"] == "number"
    assert transfer["additionalProperties"] is False


async def test_real_answers_match_their_documented_schemas(
    client: TestClient, asha: Account, ravi: Account
) -> None:
    spec = await spec_of(client)
    headers = asha.auth

    deposit = await client.post("/wallets/me/deposit", json={"amount": 10.5}, headers=headers)
    sent = await client.post(
        "/transactions", json={"receiverId": ravi.user_id, "amount": 0.5}, headers=headers
    )
    refused = await client.post("/transactions", json={"amount": 1}, headers=headers)
    wallet = await client.get("/wallets/me", headers=headers)

    for method, path, response, status in [
        ("POST", "/wallets/me/deposit", deposit, 200),
        ("POST", "/transactions", sent, 201),
        ("POST", "/transactions", refused, 400),
        ("GET", "/wallets/me", wallet, 200),
    ]:
        assert response.status == status
        body = await response.json()
        errors = list(response_schema(spec, method, path, status).iter_errors(body))
        assert errors == [], (path, status, [e.message for e in errors])
