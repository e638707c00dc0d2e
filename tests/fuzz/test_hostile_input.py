"""Input schemathesis does not generate, found by hand: each once answered 500.

Hypothesis draws valid Unicode text and shallow JSON, and requests sends UTF-8
headers, so these need raw bytes. Every one must be refused as a client error.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from interfaces.http.openapi import OPERATIONS
from tests.fuzz.conftest import Server

BODY_ROUTES = sorted((m, p) for (m, p), op in OPERATIONS.items() if op.body is not None)
# Well-formed ids for path parameters, so that the body is what gets refused.
PATH_VALUES = {"id": "whk_" + "0" * 32}
NOT_TEXT = {
    "deeply nested": b'{"amount": ' + b"[" * 50_000,  # under the 64 KiB body limit
    "lone surrogate": b'{"name": "N\\ud800", "email": "\\udc00@x.io", "refreshToken": "\\ud800"}',
    "NUL": b'{"amount": 1, "description": "a\\u0000b", "email": "a\\u0000@x.io"}',
}


@pytest.fixture(scope="module")
def auth(server: Server) -> dict[str, str]:
    body = {"name": "Asha Kumar", "email": "asha@example.com", "password": "Str0ngPassw0rd"}
    response = requests.post(f"{server.url}/auth/register", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['data']['tokens']['accessToken']}"}


def refused(response: requests.Response, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.mark.parametrize("body", NOT_TEXT.values(), ids=NOT_TEXT.keys())
@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_that_is_not_storable_text_is_a_400(
    server: Server, auth: dict[str, str], method: str, path: str, body: bytes
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    url = server.url + path.format(**PATH_VALUES)
    response = requests.request(method, url, data=body, headers=headers, timeout=30)
    refused(response, 400, 2001)


def test_a_bearer_token_that_is_not_utf8_is_a_401(server: Server) -> None:
    headers = {"Authorization": b"Bearer \xe9\xff"}
    refused(requests.get(f"{server.url}/wallets/me", headers=headers, timeout=30), 401, 1002)


def test_a_load_test_token_that_is_not_utf8_bypasses_nothing(server: Server) -> None:
    headers = {"X-Load-Test-Token": b"\xe9\xff"}
    body = {"email": "nobody@example.com", "password": "wrong"}
    response = requests.post(f"{server.url}/auth/login", json=body, headers=headers, timeout=30)
    refused(response, 401, 1004)
